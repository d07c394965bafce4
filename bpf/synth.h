/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* synth.h - the synthetic record producer's run arguments (bpf/synth.bpf.c,
 * native/synth.cc), shared by BPF C and C++ like macebpf.h. Kept apart from
 * macebpf.h: only the pipeline benchmark and its test use it. */
#ifndef MACEBPF_SYNTH_H
#define MACEBPF_SYNTH_H

#define MB_SYNTH_MAX_RUN (1u << 20) /* records per test run (bpf_loop allows 2^23) */

/* The context of one BPF_PROG_TEST_RUN of mb_synth: in, then out. */
struct mb_synth_args {
	__u32 count;     /* in: reservations to attempt in this run */
	__u32 seq;       /* in: packet_id of the first record; the next ones count up */
	__u32 netns;     /* in: netns inode the records carry */
	__u16 container; /* in: container index records and counters use */
	__u16 pad;
	__u64 produced;  /* out: records submitted */
	__u64 lost;      /* out: reservations that failed (ring buffer full) */
};

#endif /* MACEBPF_SYNTH_H */
