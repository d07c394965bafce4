/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* pkt_key.h - the NAT-invariant packet key (DESIGN §3), built identically
 * from an sk_buff (device and socket stages) and from a user send buffer.
 *
 *   mb_key_from_l3(key, l3, end, shinfo)        parse IPv4/IPv6 at kernel address l3
 *   mb_key_from_user(key, family, proto, buf, len)  ICMP echo / UDP send buffer
 *   mb_key_id(key)                              packet_id for records
 *
 * Addresses, ports and the ICMP identifier are left out: masquerade rewrites
 * them. Only bytes inside the linear header area go into the key, so a packet
 * looks the same to every stage whatever follows it in memory. */
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

/* Everything a key needs of a packet with plain IPv4 (no options) or IPv6
 * headers lies in its first 64 bytes: one probe read instead of one per header. */
#define MB_HDR_BYTES 64

union mb_hdr {
	struct iphdr v4;
	struct ipv6hdr v6;
	__u8 raw[MB_HDR_BYTES];
};

/* The L4 part of the key; l4 points into the header copy at the constant l4off
 * (20 or 40), l4len is the L4 length by the IP header, avail the packet bytes
 * from l4 on that lie in the linear area (the copy past them is not packet). */
static __always_inline bool mb_key_l4(struct mb_key *key, const __u8 *l4, __u32 l4len, long avail,
				      const struct skb_shared_info *shinfo, const bool pr)
{
	if (key->proto == IPPROTO_TCP) {
		const struct tcphdr *th = (const void *)l4;
		__u32 hl = th->doff * 4;
		__u32 plen = l4len > hl ? l4len - hl : 0;
		__u16 gso_size = pr ? BPF_CORE_READ(shinfo, gso_size) : shinfo->gso_size;

		if (gso_size && plen > gso_size) /* a GSO packet is keyed as its first segment */
			plen = gso_size;
		key->a = bpf_ntohl(th->seq);
		key->b = bpf_ntohl(th->ack_seq);
		key->c = plen;
		return true;
	}
	long plen;

	if (key->proto == IPPROTO_UDP) {
		key->a = bpf_ntohs(((const struct udphdr *)l4)->len);
		plen = (long)key->a - 8;
	} else if (key->proto == IPPROTO_ICMP || key->proto == MB_IPPROTO_ICMPV6) {
		const struct icmphdr *ih = (const void *)l4; /* echo layout is the same for ICMPv6 */

		if (!mb_is_echo(key->proto, ih->type))
			return false;
		key->icmp_type = ih->type;
		key->a = bpf_ntohs(ih->un.echo.sequence);
		plen = (long)l4len - 8;
	} else {
		return false;
	}
	/* Both UDP and ICMP echo headers are 8 bytes; the payload follows. */
	__u32 n = mb_key_payload_len(mb_min(plen, avail - 8));

#pragma unroll
	for (int i = 0; i < MB_PAYLOAD_KEY_BYTES; i++)
		if (i < n)
			key->payload[i] = l4[8 + i];
	return true;
}

/* l3: kernel address of the IP header; end: first byte past the linear data;
 * shinfo: the skb's shared info (GSO size), a BTF pointer, or with pr a plain
 * address read by probe (kernels without bpf_rdonly_cast, lib/cast.h). */
static __always_inline bool mb_key_from_l3(struct mb_key *key, const __u8 *l3, const __u8 *end,
					   const struct skb_shared_info *shinfo, const bool pr)
{
	union mb_hdr h;
	long avail = end - l3;

	if (bpf_probe_read_kernel(&h, sizeof(h), l3))
		return false;
	if (h.v4.version == 4) {
		/* IP options (rare) move L4 out of the copy; non-first fragments have no L4 header. */
		if (h.v4.ihl != 5 || (h.v4.frag_off & bpf_htons(0x1fff)))
			return false;
		__u32 l3len = bpf_ntohs(h.v4.tot_len);

		if (l3len < 20)
			return false;
		key->family = 4;
		key->proto = h.v4.protocol;
		return mb_key_l4(key, &h.raw[20], l3len - 20, avail - 20, shinfo, pr);
	}
	if (h.v6.version == 6) {
		key->family = 6;
		key->proto = h.v6.nexthdr; /* extension headers are not followed */
		return mb_key_l4(key, &h.raw[40], bpf_ntohs(h.v6.payload_len), avail - 40, shinfo, pr);
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
