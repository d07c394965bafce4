/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* pkt_key.h - the NAT-invariant packet key (DESIGN §3), built identically
 * from an sk_buff (device and socket stages) and from a user send buffer.
 *
 *   mb_key_from_l3(key, l3, headlen, gso_size)  parse IPv4/IPv6 at kernel address l3
 *   mb_key_from_user(key, family, proto, buf, len)  ICMP echo / UDP send buffer
 *   mb_key_id(key)                              packet_id for records
 *
 * Addresses, ports and the ICMP identifier are left out: masquerade rewrites
 * them. Only bytes inside the linear header area are read, so a packet looks
 * the same to every stage whatever follows it in memory. */
#ifndef MB_LIB_PKT_KEY_H
#define MB_LIB_PKT_KEY_H

#define MB_ICMP_ECHOREPLY 0
#define MB_ICMP_ECHO 8
#define MB_ICMPV6_ECHO_REQUEST 128
#define MB_ICMPV6_ECHO_REPLY 129
#define MB_IPPROTO_ICMPV6 58

static __always_inline long mb_min(long a, long b)
{
	return a < b ? a : b;
}

static __always_inline bool mb_is_echo(__u8 proto, __u8 type)
{
	if (proto == IPPROTO_ICMP)
		return type == MB_ICMP_ECHO || type == MB_ICMP_ECHOREPLY;
	return type == MB_ICMPV6_ECHO_REQUEST || type == MB_ICMPV6_ECHO_REPLY;
}

/* Bytes of payload that go into the key: at most MB_PAYLOAD_KEY_BYTES. */
static __always_inline __u32 mb_key_payload_len(long avail)
{
	if (avail <= 0)
		return 0;
	return avail < MB_PAYLOAD_KEY_BYTES ? avail : MB_PAYLOAD_KEY_BYTES;
}

static __always_inline void mb_key_payload_kernel(struct mb_key *key, const void *src, long avail)
{
	__u32 n = mb_key_payload_len(avail);

	if (n > 0 && n <= MB_PAYLOAD_KEY_BYTES)
		bpf_probe_read_kernel(key->payload, n, src);
}

/* l3: kernel address of the IP header; end: first byte past the linear data. */
static __always_inline bool mb_key_from_l3(struct mb_key *key, const __u8 *l3,
					   const __u8 *end, __u16 gso_size)
{
	__u8 vbyte, proto;
	__u32 l3len, l4off;

	if (bpf_probe_read_kernel(&vbyte, 1, l3))
		return false;
	if ((vbyte >> 4) == 4) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), l3))
			return false;
		if (ip.frag_off & bpf_htons(0x1fff)) /* non-first fragment: no L4 header */
			return false;
		key->family = 4;
		proto = ip.protocol;
		l4off = ip.ihl * 4;
		l3len = bpf_ntohs(ip.tot_len);
	} else if ((vbyte >> 4) == 6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), l3))
			return false;
		key->family = 6;
		proto = ip6.nexthdr; /* extension headers are not followed */
		l4off = sizeof(ip6);
		l3len = sizeof(ip6) + bpf_ntohs(ip6.payload_len);
	} else {
		return false;
	}
	if (l3len < l4off)
		return false;
	key->proto = proto;
	const __u8 *l4 = l3 + l4off;
	__u32 l4len = l3len - l4off;

	if (proto == IPPROTO_TCP) {
		struct tcphdr th;

		if (bpf_probe_read_kernel(&th, sizeof(th), l4))
			return false;
		__u32 hl = th.doff * 4;
		__u32 plen = l4len > hl ? l4len - hl : 0;

		if (gso_size && plen > gso_size) /* a GSO packet is keyed as its first segment */
			plen = gso_size;
		key->a = bpf_ntohl(th.seq);
		key->b = bpf_ntohl(th.ack_seq);
		key->c = plen;
		return true;
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr uh;

		if (bpf_probe_read_kernel(&uh, sizeof(uh), l4))
			return false;
		key->a = bpf_ntohs(uh.len);
		mb_key_payload_kernel(key, l4 + sizeof(uh),
				      mb_min((long)key->a - (long)sizeof(uh), end - (l4 + sizeof(uh))));
		return true;
	}
	if (proto == IPPROTO_ICMP || proto == MB_IPPROTO_ICMPV6) {
		struct icmphdr ih; /* echo layout is the same for ICMPv6 */

		if (bpf_probe_read_kernel(&ih, sizeof(ih), l4))
			return false;
		if (!mb_is_echo(proto, ih.type))
			return false;
		key->icmp_type = ih.type;
		key->a = bpf_ntohs(ih.un.echo.sequence);
		mb_key_payload_kernel(key, l4 + sizeof(ih),
				      mb_min((long)l4len - (long)sizeof(ih), end - (l4 + sizeof(ih))));
		return true;
	}
	return false;
}

/* buf: user address of what the application sends (ICMP header + data, or UDP data). */
static __always_inline bool mb_key_from_user(struct mb_key *key, __u8 family, __u8 proto,
					     const __u8 *buf, __u64 len)
{
	__u32 n;

	key->family = family;
	key->proto = proto;
	if (proto == IPPROTO_UDP) {
		if (len > 0xffff - sizeof(struct udphdr))
			return false;
		key->a = len + sizeof(struct udphdr);
		n = mb_key_payload_len(len);
		return !(n > 0 && n <= MB_PAYLOAD_KEY_BYTES && bpf_probe_read_user(key->payload, n, buf));
	}
	struct icmphdr ih;

	if (len < sizeof(ih) || bpf_probe_read_user(&ih, sizeof(ih), buf))
		return false;
	if (!mb_is_echo(proto, ih.type))
		return false;
	key->icmp_type = ih.type;
	key->a = bpf_ntohs(ih.un.echo.sequence);
	n = mb_key_payload_len(len - sizeof(ih));
	return !(n > 0 && n <= MB_PAYLOAD_KEY_BYTES &&
		 bpf_probe_read_user(key->payload, n, buf + sizeof(ih)));
}

static __always_inline __u32 mb_key_id(const struct mb_key *key)
{
	if (key->proto != IPPROTO_UDP)
		return key->a; /* ICMP sequence, TCP sequence */
	const __u32 *w = (const __u32 *)key->payload;
	__u32 h = key->a * 2654435761u;

	h = (h ^ w[0]) * 2654435761u;
	h = (h ^ w[1]) * 2654435761u;
	h = (h ^ w[2]) * 2654435761u;
	return (h ^ w[3]) * 2654435761u;
}

#endif
