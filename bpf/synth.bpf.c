// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* synth.bpf.c - a synthetic record producer for the pipeline benchmark and
 * its test: writes struct mb_event records into the tracer's own `events`
 * ring buffer as fast as a bpf_loop can, and counts them in the same
 * `counters` (events, lost) as the tracing programs, so records take the
 * real poller -> decode -> store path and "produced = delivered + lost" can
 * be checked exactly. Run from user space with BPF_PROG_TEST_RUN
 * (native/synth.cc); "?" keeps it out of every load unless asked for. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "macebpf.h"
#include "synth.h"
#include "lib/ringbuf_wakeup.h"

/* Defined in trace.bpf.c; the static linker joins these declarations to it. */
extern struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MB_MAX_CONTAINERS);
	__type(key, __u32);
	__type(value, struct mb_counters);
} counters SEC(".maps");

extern struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, MB_RINGBUF_BYTES);
} events SEC(".maps");

extern const volatile __u64 wakeup_bytes;
extern const volatile __u64 ring_bytes;

/* The loop's state lives on the stack: the verifier refuses loads through a
 * context pointer with an offset, so the context is read and written once. */
struct mb_synth_loop {
	struct mb_counters *c;
	__u64 now;
	__u64 produced;
	__u64 lost;
	__u32 seq;
	__u32 netns;
	__u16 container;
};

/* Deterministic, varied latencies (so histograms and buckets see a spread
 * like real traffic's, not one bucket): a multiplicative hash of the seq. */
static __always_inline __u32 mb_synth_hash(__u32 x)
{
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	return x;
}

static long mb_synth_one(__u32 i, void *data)
{
	struct mb_synth_loop *l = data;
	__u32 seq = l->seq + i;
	__u8 dir = seq & 1;
	struct mb_dir_counters *dc = &l->c->dir[dir];
	struct mb_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&dc->lost, 1);
		l->lost++;
		return 0;
	}
	__u32 h = mb_synth_hash(seq);
	__u32 total = 2000 + (h & 0x3ffff); /* 2 µs .. 264 µs */

	e->ts_ns = l->now;
	e->netns = l->netns;
	e->total_ns = total;
	e->stack_ns = (h >> 20) & 1 ? MB_ABSENT : total / 3;
	e->virt_ns = total - total / 3;
	e->packet_id = seq;
	e->container = l->container;
	e->dir = dir;
	e->proto = (h >> 24) & 1 ? 17 : 1;
	e->family = 4;
	e->stages = 7;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	/* Wake-ups as the tracing programs make them (trace.bpf.c, mb_emit). */
	bpf_ringbuf_submit(e, mb_wakeup_flags(&events, wakeup_bytes, ring_bytes));
	__sync_fetch_and_add(&dc->events, 1);
	l->produced++;
	return 0;
}

SEC("?syscall")
int mb_synth(struct mb_synth_args *args)
{
	__u32 key = args->container;
	__u32 n = args->count;
	struct mb_synth_loop l = {
		.now = bpf_ktime_get_ns(),
		.seq = args->seq,
		.netns = args->netns,
		.container = key,
	};

	if (key >= MB_MAX_CONTAINERS || n > MB_SYNTH_MAX_RUN)
		return -1;
	l.c = bpf_map_lookup_elem(&counters, &key);
	if (!l.c)
		return -1;
	bpf_loop(n, mb_synth_one, &l, 0);
	args->produced = l.produced;
	args->lost = l.lost;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
