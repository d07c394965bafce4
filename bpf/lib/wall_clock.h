/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* wall_clock.h - wall-clock stamps found in packets, on the record's clock.
 *
 *   mb_wall_to_mono(real, now, max_age, tai_offset)
 *       CLOCK_MONOTONIC ns of the CLOCK_REALTIME ns `real`, or 0 unless it
 *       lies between now − max_age and now; tai_offset: CLOCK_TAI −
 *       CLOCK_REALTIME (0 unless NTP set one)
 *
 * Senders and the kernel's receive path stamp packets with wall-clock time
 * (gettimeofday, skb->tstamp); records use CLOCK_MONOTONIC. TAI is the only
 * wall-clock time BPF can read (6.1). The window check rejects whatever is
 * not a recent wall-clock stamp: a payload that is no timestamp, a delivery
 * time on another clock (EDT's are monotonic), a stamp of long ago. */
#ifndef MB_LIB_WALL_CLOCK_H
#define MB_LIB_WALL_CLOCK_H

static __always_inline __u64 mb_wall_to_mono(__u64 real, __u64 now, __u64 max_age, __u64 tai_offset)
{
	/* wall time at now */
	__u64 now_real = bpf_ktime_get_tai_ns() - tai_offset - (bpf_ktime_get_ns() - now);

	if (!real || real > now_real || now_real - real > max_age || now_real - real >= now)
		return 0;
	return now - (now_real - real);
}

#endif
