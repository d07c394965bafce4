/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* pkt_key.h - the NAT-invariant packet key (DESIGN §3), built identically
 * at every stage from a copy of the packet's first bytes (parsed once).
 *
 *   mb_hdr_read(h, l3)                     copy the headers at kernel address l3
 *   mb_key_from_hdr(key, h, avail, gso)    parse IPv4/IPv6 from that copy
 *   mb_key_id(key)                         packet_id for records
 *   mb_key_hash(key)                       a hash of it, for filters
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
 * from l4 on that lie in the linear area (the copy past them is not packet),
 * gso_size the skb's GSO segment size (0: not GSO). */
static __always_inline bool mb_key_l4(struct mb_key *key, const __u8 *l4, __u32 l4len, long avail,
				      __u16 gso_size)
{
	if (key->proto == IPPROTO_TCP) {
		const struct tcphdr *th = (const void *)l4;
		__u32 hl = th->doff * 4;
		__u32 plen = l4len > hl ? l4len - hl : 0;

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

/* The L4 protocol of the IP header at l3 in packet memory ending at end
 * (direct packet access), 0 if it is neither IPv4 nor IPv6: a first check
 * before the headers are copied. */
static __always_inline __u8 mb_l4_proto(const union mb_hdr *h, const void *end)
{
	if ((const void *)(&h->v4 + 1) > end)
		return 0;
	if (h->v4.version == 4)
		return h->v4.protocol;
	return h->v6.version == 6 ? h->v6.nexthdr : 0;
}

/* Copies the headers at kernel address l3 (a BTF or probe-read pointer alike). */
static __always_inline bool mb_hdr_read(union mb_hdr *h, const __u8 *l3)
{
	return bpf_probe_read_kernel(h, sizeof(*h), l3) == 0;
}

/* h: the packet's first bytes from its IP header on; avail: how many of them
 * are in the linear area; gso_size as for mb_key_l4. */
static __always_inline bool mb_key_from_hdr(struct mb_key *key, const union mb_hdr *h, long avail,
					    __u16 gso_size)
{
	if (h->v4.version == 4) {
		/* IP options (rare) move L4 out of the copy; non-first fragments have no L4 header. */
		if (h->v4.ihl != 5 || (h->v4.frag_off & bpf_htons(0x1fff)))
			return false;
		__u32 l3len = bpf_ntohs(h->v4.tot_len);

		if (l3len < 20)
			return false;
		key->family = 4;
		key->proto = h->v4.protocol;
		return mb_key_l4(key, &h->raw[20], l3len - 20, avail - 20, gso_size);
	}
	if (h->v6.version == 6) {
		key->family = 6;
		key->proto = h->v6.nexthdr; /* extension headers are not followed */
		return mb_key_l4(key, &h->raw[40], bpf_ntohs(h->v6.payload_len), avail - 40, gso_size);
	}
	return false;
}

/* One step of a multiplicative (Knuth) hash over 32-bit words. */
static __always_inline __u32 mb_mix(__u32 h, __u32 w)
{
	return (h ^ w) * 2654435761u;
}

static __always_inline __u32 mb_payload_mix(__u32 h, const struct mb_key *key)
{
	const __u32 *w = (const __u32 *)key->payload;

#pragma unroll
	for (int i = 0; i < MB_PAYLOAD_KEY_BYTES / 4; i++)
		h = mb_mix(h, w[i]);
	return h;
}

static __always_inline __u32 mb_key_id(const struct mb_key *key)
{
	if (key->proto != IPPROTO_UDP)
		return key->a; /* ICMP sequence, TCP sequence */
	return mb_payload_mix(mb_mix(0, key->a), key);
}

/* A hash of the whole key but its direction and slot. */
static __always_inline __u32 mb_key_hash(const struct mb_key *key)
{
	__u32 h = mb_mix(0, key->proto | key->family << 8 | key->icmp_type << 16);

	h = mb_payload_mix(mb_mix(mb_mix(mb_mix(h, key->a), key->b), key->c), key);
	return h ^ (h >> 16);
}

#endif
