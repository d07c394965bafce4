/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* ringbuf_wakeup.h - whether submitting a record wakes user space.
 *
 *   mb_wakeup_flags(ring, wakeup_bytes, ring_bytes)
 *       BPF_RB_FORCE_WAKEUP for the record whose submit brings the ring's
 *       unread data across wakeup_bytes or across a quarter, half or three
 *       quarters of ring_bytes (the ring's size, a power of two);
 *       BPF_RB_NO_WAKEUP for every other (call after bpf_ringbuf_reserve,
 *       which counts the record in)
 *
 * A wake-up is an interrupt (an irq_work self-IPI, a VM exit in a guest), so
 * the poller (native/poller.cc) is woken once per batch, not per record: the
 * first crossing starts its batch, which it then gathers for up to 50 ms; the
 * quarter marks make it drain early, before a burst fills the ring. Records
 * are MB_RINGBUF_RECORD bytes in the ring, so exactly one record's submit
 * lies on each crossing; one missed in a race with another CPU is covered by
 * the next mark or the poller's timeout. */
#ifndef MB_LIB_RINGBUF_WAKEUP_H
#define MB_LIB_RINGBUF_WAKEUP_H

#define MB_RINGBUF_RECORD (sizeof(struct mb_event) + 8) /* with the ring's record header */

static __always_inline __u64 mb_wakeup_flags(void *ring, __u64 wakeup_bytes, __u64 ring_bytes)
{
	__u64 avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
	__u64 quarter = ring_bytes / 4;

	if (avail >= wakeup_bytes && avail < wakeup_bytes + MB_RINGBUF_RECORD)
		return BPF_RB_FORCE_WAKEUP;
	if (avail >= quarter && (avail & (quarter - 1)) < MB_RINGBUF_RECORD)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

#endif /* MB_LIB_RINGBUF_WAKEUP_H */
