/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* flow.h - the flows of traced containers as the outer device sees them
 * (after NAT), so that the ingress outer stage starts entries only for
 * packets of those flows and the rest of the host's traffic writes nothing.
 *
 *   mb_flow_from_hdr(flow, h, egress)   the flow of a packet, oriented
 *                                        local (this host) -> remote
 *   mb_flow_hash(flow)                   a hash of it, for filters
 *
 * A flow is addresses, L4 protocol and ports (ICMP echo: the identifier as
 * the local port), as they are on the wire at the outer device. */
#ifndef MB_LIB_FLOW_H
#define MB_LIB_FLOW_H

#include "pkt_key.h"

static __always_inline bool mb_flow_from_hdr(struct mb_flow *f, const union mb_hdr *h, bool egress)
{
	const __u8 *l4;

	if (h->v4.version == 4) {
		if (h->v4.ihl != 5)
			return false;
		f->family = 4;
		f->proto = h->v4.protocol;
		f->local[0] = egress ? h->v4.saddr : h->v4.daddr;
		f->remote[0] = egress ? h->v4.daddr : h->v4.saddr;
		l4 = &h->raw[20];
	} else if (h->v6.version == 6) {
		f->family = 6;
		f->proto = h->v6.nexthdr;
		__builtin_memcpy(f->local, egress ? &h->v6.saddr : &h->v6.daddr, 16);
		__builtin_memcpy(f->remote, egress ? &h->v6.daddr : &h->v6.saddr, 16);
		l4 = &h->raw[40];
	} else {
		return false;
	}
	if (f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP) {
		const __u16 *ports = (const void *)l4; /* source, destination */

		f->lport = egress ? ports[0] : ports[1];
		f->rport = egress ? ports[1] : ports[0];
		return true;
	}
	if (f->proto == IPPROTO_ICMP || f->proto == MB_IPPROTO_ICMPV6) {
		const struct icmphdr *ih = (const void *)l4;

		if (!mb_is_echo(f->proto, ih->type))
			return false;
		f->lport = ih->un.echo.id;
		return true;
	}
	return false;
}

static __always_inline __u32 mb_flow_hash(const struct mb_flow *f)
{
	__u32 h = mb_mix(0, f->family | f->proto << 8 | f->lport << 16);

	h = mb_mix(h, f->rport);
#pragma unroll
	for (int i = 0; i < 4; i++)
		h = mb_mix(mb_mix(h, f->local[i]), f->remote[i]);
	return h ^ (h >> 16);
}

#endif
