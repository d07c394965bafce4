/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* echo_stamp.h - the sender's own send time, carried in an ICMP echo request.
 *
 *   mb_echo_sent_ns(key, h, avail, now, max_age, tai_offset)
 *       CLOCK_MONOTONIC ns of the timestamp in the request's payload, or 0
 *       (max_age, tai_offset: as mb_wall_to_mono)
 *
 * ping (iputils, busybox, most pingers) begins the echo payload with the
 * struct timeval of gettimeofday() taken just before it calls sendmsg(), and
 * its RTT runs from that stamp. Raw sockets have no cheap hook at the send
 * call (docs/measurement.md): the cgroup program runs at IP output, tens of
 * µs later on an idle CPU. The payload's stamp is the send time itself.
 *
 * The stamp is wall-clock time, taken only when recent (lib/wall_clock.h):
 * a payload that is not a timestamp (ping -s 8, another tool's pattern) is
 * ignored rather than misread. Resolution 1 µs. */
#ifndef MB_LIB_ECHO_STAMP_H
#define MB_LIB_ECHO_STAMP_H

/* 64-bit struct timeval: tv_sec and tv_usec, 8 bytes each. */
#define MB_TIMEVAL_BYTES 16

static __always_inline __u64 mb_echo_sent_ns(const struct mb_key *key, const union mb_hdr *h, long avail,
					     __u64 now, __u64 max_age, __u64 tai_offset)
{
	__u32 off;

	if (key->proto == IPPROTO_ICMP && key->icmp_type == MB_ICMP_ECHO)
		off = 20 + 8;
	else if (key->proto == MB_IPPROTO_ICMPV6 && key->icmp_type == MB_ICMPV6_ECHO_REQUEST)
		off = 40 + 8;
	else
		return 0;
	/* ICMP payload length by the IP header (IPv4 without options, as keyed) */
	long plen = key->family == 4 ? (long)bpf_ntohs(h->v4.tot_len) - 28 : (long)bpf_ntohs(h->v6.payload_len) - 8;

	if (plen < MB_TIMEVAL_BYTES || avail < off + MB_TIMEVAL_BYTES)
		return 0;
	/* Aligned 4-byte words: the header copy is 4-aligned and off is 28 or 48. */
	const __u32 *w = (const __u32 *)&h->raw[off];
	__u64 sec = w[0] | (__u64)w[1] << 32;
	__u64 usec = w[2] | (__u64)w[3] << 32;

	if (usec >= 1000000 || sec > (~0ull >> 1) / 1000000000ull)
		return 0;
	return mb_wall_to_mono(sec * 1000000000ull + usec * 1000, now, max_age, tai_offset);
}

#endif
