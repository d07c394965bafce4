/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* macebpf.h - the one definition of everything BPF C and the native addon
 * share: latency records, map keys and values, counters, constants.
 * BPF code includes it after vmlinux.h, C++ after <linux/types.h>.
 * test/unit/layout.test.ts checks the TypeScript decoder against it. */
#ifndef MACEBPF_H
#define MACEBPF_H

#define MB_MAX_CONTAINERS 256 /* container index 0 = "not a traced container" */
#define MB_MAX_OUTER 4 /* outer devices per netns */
#define MB_PAYLOAD_KEY_BYTES 16 /* ping puts its timestamp here; iperf3 its counters */
#define MB_ABSENT 0xffffffffu   /* a latency part that was not observed */
/* The record ring buffer's default size; user space may set another power of
 * two in [MB_RINGBUF_MIN_BYTES, MB_RINGBUF_MAX_BYTES] (its quarters wake the
 * poller). 4 MiB, ~87,000 records: a larger ring costs Node more per record
 * (docs/measurement.md, "Ring buffer and batches"). */
#define MB_RINGBUF_BYTES (4u << 20)
#define MB_RINGBUF_MIN_BYTES (1u << 20)
#define MB_RINGBUF_MAX_BYTES (256u << 20)

enum mb_dir { MB_EGRESS = 0, MB_INGRESS = 1 };

/* Measurement points, in egress order: socket, container device, outer device. */
enum mb_stage { MB_STAGE_S = 0, MB_STAGE_D = 1, MB_STAGE_O = 2, MB_NSTAGES = 3 };
#define MB_STAGE_BIT(s) (1u << (s))
/* Also in mb_event.stages: S is the sender's own send time, the timestamp in
 * an ICMP echo request's payload (bpf/lib/echo_stamp.h), not a kernel hook's. */
#define MB_S_FROM_SENDER 0x80
/* Also there: an ingress device stage is the kernel's receive timestamp of the
 * packet on that device (skb->tstamp, when anything enabled timestamps). */
#define MB_RX_TSTAMP 0x40

/* NAT-invariant packet key (DESIGN §3). Fields that a protocol does not use are 0. */
struct mb_key {
	__u8 dir;       /* enum mb_dir */
	__u8 proto;     /* IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_UDP, IPPROTO_TCP */
	__u8 family;    /* 4 or 6 */
	__u8 icmp_type; /* echo request/reply */
	__u32 a;        /* ICMP: sequence; UDP: UDP length; TCP: sequence */
	__u32 b;        /* TCP: ack */
	__u32 c;        /* TCP: payload length (first segment of a GSO packet) */
	__u8 payload[MB_PAYLOAD_KEY_BYTES]; /* ICMP echo and UDP: first payload bytes */
	__u8 slot;      /* which of the packets with this content (MB_SLOTS in flight at once) */
	__u8 pad[3];
};

/* Packets with one content key in flight at once, each in its own slot: two
 * containers sending the same bytes at the same instant, for instance. */
#define MB_SLOTS 4

/* In-flight correlation entry: one timestamp per stage, 0 = not seen. The
 * sk_buff of the last device stage and the netns tell two packets with equal
 * content apart (they are in different slots of the key). */
struct mb_inflight {
	__u64 ts[MB_NSTAGES];
	__u64 skb;
	__u32 netns;
	__u16 container;
	__u16 flags;    /* MB_S_FROM_SENDER, MB_RX_TSTAMP */
};

/* A traced container's flow as the outer device sees it (bpf/lib/flow.h). */
struct mb_flow {
	__u8 family;
	__u8 proto;
	__u16 lport;     /* network order; ICMP echo: identifier */
	__u16 rport;
	__u16 pad;
	__u32 local[4];  /* IPv4: [0] only */
	__u32 remote[4];
};

/* TCP sends are keyed by socket and sequence: the user buffer holds no TCP header. */
struct mb_tcp_send_key {
	__u64 sk;
	__u32 seq;
	__u32 pad;
};

/* What macebpf knows of a network namespace, so that one lookup per packet
 * decides: traced container (index != 0) and/or home of outer devices. */
struct mb_netns {
	__u16 container;             /* container index; 0 = not traced */
	__u16 pad;
	__u32 outer[MB_MAX_OUTER];   /* ifindexes of outer devices here; 0 = free */
};

/* The first check of every hook: bit sets of the traced containers' netns
 * inodes and of the outer devices' (netns, ifindex), in the object's .bss,
 * written by user space after netns_info changes. A clear bit returns at
 * once; a set one (or a collision) goes on to the netns_info lookup. */
#define MB_FILTER_WORDS 128 /* 4096 bits */

static inline __u32 mb_filter_bit(__u32 h)
{
	return h & (MB_FILTER_WORDS * 32 - 1);
}

static inline __u32 mb_outer_filter_bit(__u32 netns, __u32 ifindex)
{
	return mb_filter_bit(netns ^ (ifindex * 2654435761u));
}

/* One latency record in the ring buffer (fixed size). */
struct mb_event {
	__u64 ts_ns;     /* CLOCK_MONOTONIC ns at the first observed stage */
	__u32 netns;     /* container netns inode */
	__u32 total_ns;  /* first to last observed stage */
	__u32 stack_ns;  /* socket <-> container device, or MB_ABSENT */
	__u32 virt_ns;   /* container device <-> outer device, or MB_ABSENT */
	__u32 packet_id; /* ICMP sequence, TCP sequence, else key hash */
	__u16 container;
	__u8 dir;
	__u8 proto;
	__u8 family;
	__u8 stages;     /* MB_STAGE_BIT()s observed, MB_S_FROM_SENDER, MB_RX_TSTAMP */
	__u8 pad[6];
};

/* Per container and direction; summed over CPUs by user space. */
struct mb_dir_counters {
	__u64 packets;    /* at the container device */
	__u64 bytes;
	__u64 created;    /* in-flight entries created */
	__u64 events;     /* latency records emitted */
	__u64 unmatched;  /* a later stage found no entry (index 0: outer packets of no traced container) */
	__u64 stale;      /* entries older than max_age_ns when matched, discarded */
	__u64 lost;       /* records dropped: ring buffer full */
	__u64 collisions; /* another packet with the same key was in flight */
};

struct mb_counters {
	struct mb_dir_counters dir[2];
};

/* Packets the kernel dropped in a traced container, by drop reason. */
struct mb_drop_key {
	__u32 container;
	__u32 reason; /* enum skb_drop_reason */
};

/* EDT egress rate limit of one container (bpf/edt.bpf.c), keyed by netns inode. */
struct mb_limit_cfg {
	__u64 rate;       /* bytes per second; 0 = unlimited */
	__u64 horizon_ns; /* a packet due later than now + horizon is dropped */
	__u32 enforce;    /* 1: stamp departure times (an fq qdisc paces); 0: police only */
	__u32 pad;
};

struct mb_limit_state {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 t_last;     /* CLOCK_MONOTONIC departure time of the last packet */
	__u64 packets;    /* passed */
	__u64 bytes;      /* passed, wire length */
	__u64 delayed;    /* passed with a departure time in the future */
	__u64 delay_ns;   /* sum of (departure - arrival) */
	__u64 drops;      /* beyond the horizon */
	__u64 drop_bytes;
};

#endif /* MACEBPF_H */
