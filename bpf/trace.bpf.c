// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* trace.bpf.c - per-packet container latency (DESIGN §3).
 *
 * Egress:  S tcp_sendmsg_locked (TCP) or cgroup_skb/egress of the container's
 *          cgroup (UDP, ICMP; TCP where the tracepoint is missing)
 *          -> D net_dev_start_xmit (container dev)
 *          -> O net_dev_start_xmit (outer dev): record emitted at O.
 * Ingress: O tcx ingress (outer dev, packets of traced flows only)
 *          -> D tcx ingress (container dev); both are the receive path's
 *          __netif_receive_skb_core, attached to those devices only; before
 *          tcx or the cast kfunc, netif_receive_skb on every device
 *          (mb_dev_rx, returning at its first check elsewhere)
 *          -> S skb_copy_datagram_iovec (TCP, ICMP) or sock_recv_length
 *          (UDP, key from the filled buffer): record emitted at S, or at D for
 *          packets no socket will read (TCP without payload, echo requests).
 * Socket-stage hooks fire only on socket operations or only for the traced
 * containers' cgroups, never on every syscall (docs/measurement.md).
 * Stages meet in per-direction LRU maps keyed by the NAT-invariant mb_key. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "macebpf.h"
#include "lib/cast.h"
#include "lib/netns.h"
#include "lib/pkt_key.h"
#include "lib/flow.h"
#include "lib/recent_keys.h"
#include "lib/recv_buf.h"
#include "lib/wall_clock.h"
#include "lib/echo_stamp.h"
#include "lib/ringbuf_wakeup.h"
#include "lib/tc_act.h"

#define MB_IFF_LOOPBACK 0x8
#define MB_AF_INET 2
#define MB_AF_INET6 10
#define MB_MSG_PEEK 2

/* Set through the skeleton before load. */
const volatile __u64 max_age_ns = 1000000000ull;
const volatile __u64 wakeup_bytes = 64 * sizeof(struct mb_event);
/* The events ring's size, as user space set it (a power of two). */
const volatile __u64 ring_bytes = MB_RINGBUF_BYTES;
/* TCP's egress S from the cgroup program, where tcp_sendmsg_locked is missing. */
const volatile bool cg_egress_tcp = false;
/* UDP's ingress S from sock_recv_length; without it (before 6.3) UDP ends at D. */
const volatile bool udp_recv_stage = true;
/* CLOCK_TAI − CLOCK_REALTIME, for the wall-clock stamps of echo requests. */
const volatile __u64 tai_offset_ns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * MB_MAX_CONTAINERS);
	__type(key, __u32); /* netns inode */
	__type(value, struct mb_netns);
} netns_info SEC(".maps");

/* max_entries of the in-flight maps is set by user space (default 65536). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct mb_key);
	__type(value, struct mb_inflight);
} inflight_egress SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct mb_key);
	__type(value, struct mb_inflight);
} inflight_ingress SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct mb_tcp_send_key);
	__type(value, __u64);
} tcp_send SEC(".maps");

/* Traced containers' cgroups: cgroup id -> netns inode (cgroup_skb/egress). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MB_MAX_CONTAINERS);
	__type(key, __u64);
	__type(value, __u32);
} cgroup_netns SEC(".maps");

/* Flows of traced containers seen leaving by the outer device; max_entries
 * is set with the in-flight maps'. Value unused. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct mb_flow);
	__type(value, __u8);
} traced_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MB_MAX_CONTAINERS);
	__type(key, __u32);
	__type(value, struct mb_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct mb_drop_key);
	__type(value, __u64);
} drops SEC(".maps");

/* max_entries is set by user space with ring_bytes (default MB_RINGBUF_BYTES). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, MB_RINGBUF_BYTES);
} events SEC(".maps");

/* First checks (macebpf.h): what user space knows, in a form read with two loads. */
__u32 mb_traced_bits[MB_FILTER_WORDS];
__u32 mb_outer_bits[MB_FILTER_WORDS];

/* The outer device's egress stage looks for an entry only where one may be:
 * one started within max age + MB_LATE_NS (a packet held longer than that in
 * a queue is not counted stale; its entry ages out as one that never reached
 * O, created − events). While the traced containers send nothing, the host's
 * and untraced containers' packets return before their headers are read
 * (mb_egress_started_ns: when an egress entry was last started, written at
 * most once per MB_EGRESS_MARK_NS so the CPUs do not fight over its cache
 * line); otherwise after their key's bit in mb_egress_recent
 * (lib/recent_keys.h), not after MB_SLOTS lookups that miss. */
#define MB_LATE_NS 1000000000ull
#define MB_EGRESS_MARK_NS 1000000ull
__u64 mb_egress_started_ns;
__u64 mb_egress_recent[MB_RECENT_SETS][MB_RECENT_WORDS];
__u64 mb_egress_recent_epoch;

static __always_inline __u64 mb_egress_period(void)
{
	return max_age_ns + MB_LATE_NS;
}

static __always_inline bool mb_egress_may_match(__u64 now)
{
	return (__s64)(now - mb_egress_started_ns) <= (__s64)(mb_egress_period() + MB_EGRESS_MARK_NS);
}

/* Flows of traced_flows, hashed (lib/flow.h): the outer device's ingress
 * stage looks a packet's flow up only where its bit is set. Set with the
 * flow, never cleared: a bit set in vain costs the lookup it saves. */
__u64 mb_flow_bits[1024];

static __always_inline __u64 *mb_flow_word(__u32 h, __u64 *bit)
{
	*bit = 1ull << (h & 63);
	return &mb_flow_bits[(h >> 6) & 1023];
}

static __always_inline bool mb_bit_set(const __u32 *set, __u32 bit)
{
	bit = mb_filter_bit(bit);
	return set[bit >> 5] & (1u << (bit & 31));
}

static __always_inline struct mb_dir_counters *mb_counters(__u32 index, __u8 dir)
{
	struct mb_counters *c = bpf_map_lookup_elem(&counters, &index);

	return c ? &c->dir[dir & 1] : NULL;
}

#define MB_COUNT(index, dir, field)                                  \
	do {                                                         \
		struct mb_dir_counters *__c = mb_counters(index, dir); \
		if (__c)                                             \
			__c->field++;                                \
	} while (0)

static __always_inline void *mb_inflight_map(__u8 dir)
{
	return dir == MB_EGRESS ? (void *)&inflight_egress : (void *)&inflight_ingress;
}

static __always_inline bool mb_is_outer(const struct mb_netns *ns, __u32 ifindex)
{
	for (int i = 0; i < MB_MAX_OUTER; i++)
		if (ns->outer[i] == ifindex)
			return true;
	return false;
}

/* The container index of a traced netns, else 0. */
static __always_inline __u16 mb_traced(__u32 netns)
{
	if (!mb_bit_set(mb_traced_bits, netns))
		return 0;
	struct mb_netns *ns = bpf_map_lookup_elem(&netns_info, &netns);

	return ns ? ns->container : 0;
}

static __always_inline __u64 mb_first_ts(const struct mb_inflight *v)
{
	__u64 first = 0;

	for (int s = 0; s < MB_NSTAGES; s++)
		if (v->ts[s] && (!first || v->ts[s] < first))
			first = v->ts[s];
	return first;
}

static __always_inline __u32 mb_part(__u64 from, __u64 to)
{
	return from && to && to >= from ? (__u32)(to - from) : MB_ABSENT;
}

/* Emit the record of a finished entry that ended at now, or, with stage_now
 * < MB_NSTAGES, at that stage when the record is written (the last moment
 * before the packet goes on: macebpf's own work is then not the wire's). */
static __always_inline void mb_emit(const struct mb_key *key, struct mb_inflight *v, __u64 now, __u8 stage_now)
{
	__u16 idx = v->container;
	__u8 dir = key->dir;
	struct mb_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		MB_COUNT(idx, dir, lost);
		return;
	}
	if (stage_now < MB_NSTAGES) {
		now = bpf_ktime_get_ns();
		v->ts[stage_now] = now;
	}
	__u64 first = mb_first_ts(v);
	__u8 stages = 0;

	for (int s = 0; s < MB_NSTAGES; s++)
		if (v->ts[s])
			stages |= MB_STAGE_BIT(s);
	stages |= v->flags;
	e->ts_ns = first;
	e->netns = v->netns;
	e->total_ns = (__u32)(now - first);
	/* stack = S<->D, virt = D<->O; the direction only orders them. */
	if (dir == MB_EGRESS) {
		e->stack_ns = mb_part(v->ts[MB_STAGE_S], v->ts[MB_STAGE_D]);
		e->virt_ns = mb_part(v->ts[MB_STAGE_D], v->ts[MB_STAGE_O]);
	} else {
		e->stack_ns = mb_part(v->ts[MB_STAGE_D], v->ts[MB_STAGE_S]);
		e->virt_ns = mb_part(v->ts[MB_STAGE_O], v->ts[MB_STAGE_D]);
	}
	e->packet_id = mb_key_id(key);
	e->container = idx;
	e->dir = dir;
	e->proto = key->proto;
	e->family = key->family;
	e->stages = stages;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	bpf_ringbuf_submit(e, mb_wakeup_flags(&events, wakeup_bytes, ring_bytes));
	MB_COUNT(idx, dir, events);
}

/* Finish an entry: whoever deletes it emits it, so a packet seen on two CPUs
 * at once (or two packets with one key) gives one record, not two. */
static __always_inline void mb_finish(void *map, const struct mb_key *key,
				      const struct mb_inflight *v, __u64 now, __u8 stage_now)
{
	struct mb_inflight done = *v;

	if (bpf_map_delete_elem(map, key) == 0)
		mb_emit(key, &done, now, stage_now);
}

/* Whether entry v is this packet's: a device stage asks for the sk_buff the
 * previous device stage saw, the socket stage for its netns. */
static __always_inline bool mb_owns(const struct mb_inflight *v, const struct sk_buff *skb, __u32 netns)
{
	return (!skb || v->skb == (__u64)skb) && (!netns || v->netns == netns);
}

/* Look up the entry for a later stage in the key's slots, leaving key->slot at
 * it; discards and counts entries past max age. An entry of another packet
 * with the same content (other skb or netns) is a collision, no entry at all
 * is unmatched. */
static __always_inline struct mb_inflight *mb_match(void *map, struct mb_key *key, __u16 idx, __u64 now,
						    const struct sk_buff *skb, __u32 netns)
{
	bool other = false, stale = false;

	for (int s = 0; s < MB_SLOTS; s++) {
		key->slot = s;
		struct mb_inflight *v = bpf_map_lookup_elem(map, key);

		if (!v)
			continue;
		if (now - mb_first_ts(v) > max_age_ns) {
			MB_COUNT(v->container ? v->container : idx, key->dir, stale);
			bpf_map_delete_elem(map, key);
			stale = true;
			continue;
		}
		if (mb_owns(v, skb, netns))
			return v;
		other = true;
	}
	key->slot = 0;
	if (!idx) /* outer packets of no traced container write nothing */
		return NULL;
	if (other)
		MB_COUNT(idx, key->dir, collisions);
	else if (!stale)
		MB_COUNT(idx, key->dir, unmatched);
	return NULL;
}

/* Start an entry at its first stage in a free slot of its key; with every
 * slot taken, the first is overwritten and a collision counted. s_ts: an S
 * time known from elsewhere, 0 if none; flags: MB_S_FROM_SENDER, MB_RX_TSTAMP. */
static __always_inline void mb_start(const struct mb_key *key, __u8 stage, __u64 s_ts, __u16 flags,
				     const struct sk_buff *skb, __u32 netns, __u16 idx, __u64 now)
{
	struct mb_inflight v = { .netns = netns, .container = idx, .skb = (__u64)skb, .flags = flags };
	void *map = mb_inflight_map(key->dir);
	struct mb_key k = *key;
	bool placed = false;

	if (stage < MB_NSTAGES)
		v.ts[stage] = now;
	if (s_ts)
		v.ts[MB_STAGE_S] = s_ts;
	if (key->dir == MB_EGRESS) {
		if ((__s64)(now - mb_egress_started_ns) > (__s64)MB_EGRESS_MARK_NS)
			mb_egress_started_ns = now;
		mb_recent_add(mb_egress_recent, &mb_egress_recent_epoch, mb_key_hash(key), now, mb_egress_period());
	}
	for (int s = 0; s < MB_SLOTS && !placed; s++) {
		k.slot = s;
		placed = !bpf_map_update_elem(map, &k, &v, BPF_NOEXIST);
	}
	if (!placed) {
		MB_COUNT(idx, key->dir, collisions);
		k.slot = 0;
		bpf_map_update_elem(map, &k, &v, BPF_ANY);
	}
	MB_COUNT(idx, key->dir, created);
}

/* The first bytes of an skb from its IP header, and how many are linear. */
static __always_inline bool mb_skb_hdr(union mb_hdr *h, long *avail, const struct sk_buff *skb, bool at_l3_data)
{
	unsigned char *head = skb->head, *data = skb->data;
	/* On receive, data points at L3; at xmit and at the socket, network_header does. */
	const __u8 *l3 = at_l3_data ? data : head + skb->network_header;

	*avail = data + (skb->len - skb->data_len) - l3;
	return mb_hdr_read(h, l3);
}

/* The skb's GSO segment size (0: not GSO), for the key; read only when a key
 * is wanted (another cache line). pr: a program for kernels without
 * bpf_rdonly_cast (lib/cast.h). */
static __always_inline __u16 mb_skb_gso(const struct sk_buff *skb, const bool pr)
{
	struct skb_shared_info *shinfo = (void *)(skb->head + skb->end);

	if (pr)
		return BPF_CORE_READ(shinfo, gso_size);
	shinfo = bpf_rdonly_cast(shinfo, bpf_core_type_id_kernel(struct skb_shared_info));
	return shinfo->gso_size;
}

static __always_inline bool mb_skb_key(struct mb_key *key, const struct sk_buff *skb, bool at_l3_data,
				       const bool pr)
{
	union mb_hdr h;
	long avail;

	return mb_skb_hdr(&h, &avail, skb, at_l3_data) && mb_key_from_hdr(key, &h, avail, mb_skb_gso(skb, pr));
}

/* Bytes as the device's own statistics count them: at receive, skb->len no
 * longer includes the link-layer header that was pulled off. */
static __always_inline void mb_count_dev(__u16 idx, __u8 dir, const struct sk_buff *skb)
{
	struct mb_dir_counters *c = mb_counters(idx, dir);
	__u64 len = skb->len;

	if (!c)
		return;
	if (dir == MB_INGRESS) {
		__u16 mac = skb->mac_header;
		unsigned char *head = skb->head, *data = skb->data;

		if (mac != (__u16)~0U && data >= head + mac)
			len += data - (head + mac);
	}
	c->packets++;
	c->bytes += len;
}

/* Whether a device stage runs on dev: a traced container's (non-loopback)
 * device or an outer device. Everything else returns at the bit sets, or at
 * netns_info for a device of a known netns (the host's bridge). */
static __always_inline bool mb_dev_stage(const struct net_device *dev, __u32 *netns, __u16 *idx, bool *outer)
{
	__u32 ifindex = dev->ifindex;

	*netns = mb_dev_netns(dev);
	if (!mb_bit_set(mb_traced_bits, *netns) && !mb_bit_set(mb_outer_bits, mb_outer_filter_bit(*netns, ifindex)))
		return false;
	struct mb_netns *ns = bpf_map_lookup_elem(&netns_info, netns);

	if (!ns)
		return false;
	*outer = mb_is_outer(ns, ifindex);
	*idx = ns->container;
	return *outer || (*idx && !(dev->flags & MB_IFF_LOOPBACK));
}

static __always_inline int mb_dev_xmit_do(const struct sk_buff *skb, const struct net_device *dev, const bool pr)
{
	__u32 netns;
	__u16 idx;
	bool outer;

	if (!mb_dev_stage(dev, &netns, &idx, &outer))
		return 0;
	__u64 now = bpf_ktime_get_ns();
	struct mb_key key = { .dir = MB_EGRESS };

	if (outer) {
		union mb_hdr h;
		long avail;
		struct mb_inflight *v;

		if (!mb_egress_may_match(now) || !mb_skb_hdr(&h, &avail, skb, false) ||
		    !mb_key_from_hdr(&key, &h, avail, mb_skb_gso(skb, pr)) ||
		    !mb_recent_maybe(mb_egress_recent, mb_key_hash(&key), now, mb_egress_period()))
			return 0;
		v = mb_match(&inflight_egress, &key, 0, now, skb, 0);
		if (v) {
			struct mb_flow f = {};

			/* Its replies will start ingress entries at this device. */
			if (mb_flow_from_hdr(&f, &h, true) && !bpf_map_lookup_elem(&traced_flows, &f)) {
				__u64 bit, *w = mb_flow_word(mb_flow_hash(&f), &bit);

				bpf_map_update_elem(&traced_flows, &f, &f.pad, BPF_ANY);
				if (!(*w & bit))
					__sync_fetch_and_or(w, bit);
			}
			/* The packet leaves after this program's own work: stamp it then. */
			mb_finish(&inflight_egress, &key, v, now, MB_STAGE_O);
		}
		return 0;
	}
	mb_count_dev(idx, MB_EGRESS, skb);
	union mb_hdr h;
	long avail;

	if (!mb_skb_hdr(&h, &avail, skb, false) || !mb_key_from_hdr(&key, &h, avail, mb_skb_gso(skb, pr)))
		return 0;
	/* Started at the socket of this netns (TCP sends from tcp_sendmsg_locked
	 * are found by socket below; from the cgroup program, here). */
	for (int s = 0; s < MB_SLOTS && (key.proto != IPPROTO_TCP || cg_egress_tcp); s++) {
		key.slot = s;
		struct mb_inflight *v = bpf_map_lookup_elem(&inflight_egress, &key);

		if (v && !v->ts[MB_STAGE_D] && v->netns == netns) {
			v->ts[MB_STAGE_D] = now;
			v->skb = (__u64)skb;
			return 0;
		}
	}
	key.slot = 0;
	__u64 s_ts = 0;

	if (key.proto == IPPROTO_TCP) {
		struct mb_tcp_send_key tk = { .sk = (__u64)skb->sk, .seq = key.a };
		__u64 *ts = bpf_map_lookup_elem(&tcp_send, &tk);

		if (ts) {
			s_ts = *ts;
			bpf_map_delete_elem(&tcp_send, &tk);
		}
		mb_start(&key, MB_STAGE_D, s_ts, 0, skb, netns, idx, now);
		return 0;
	}
	/* No socket stage (--no-sockets, no cgroup): an echo request's own stamp */
	s_ts = mb_echo_sent_ns(&key, &h, avail, now, max_age_ns, tai_offset_ns);
	mb_start(&key, MB_STAGE_D, s_ts, s_ts ? MB_S_FROM_SENDER : 0, skb, netns, idx, now);
	return 0;
}

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(mb_dev_xmit, const struct sk_buff *skb, const struct net_device *dev)
{
	return mb_dev_xmit_do(skb, dev, false);
}

/* The same for kernels without bpf_rdonly_cast (lib/cast.h). */
SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(mb_dev_xmit_pr, const struct sk_buff *skb, const struct net_device *dev)
{
	return mb_dev_xmit_do(skb, dev, true);
}

/* Ingress packets that end in the kernel never reach a socket: finish them at D. */
static __always_inline bool mb_ends_in_kernel(const struct mb_key *key)
{
	if (key->proto == IPPROTO_TCP)
		return key->c == 0;
	if (key->proto == IPPROTO_UDP)
		return !udp_recv_stage;
	if (key->proto == IPPROTO_ICMP)
		return key->icmp_type == MB_ICMP_ECHO;
	if (key->proto == MB_IPPROTO_ICMPV6)
		return key->icmp_type == MB_ICMPV6_ECHO_REQUEST;
	return false;
}

/* An ingress entry learns its container at the container device or socket. */
static __always_inline void mb_stamp(struct mb_inflight *v, __u8 stage, __u32 netns, __u16 idx, __u64 now)
{
	if (stage < MB_NSTAGES)
		v->ts[stage] = now;
	v->netns = netns;
	v->container = idx;
}

/* The application got the packet: the ingress record ends here. */
static __always_inline void mb_ingress_at_socket(const struct mb_key *key, __u32 netns, __u16 idx, __u64 now)
{
	struct mb_key k = *key;
	/* The entry that passed this netns's container device. */
	struct mb_inflight *v = mb_match(&inflight_ingress, &k, idx, now, NULL, netns);

	if (!v)
		return;
	mb_stamp(v, MB_STAGE_S, netns, idx, now);
	mb_finish(&inflight_ingress, &k, v, now, MB_NSTAGES);
}

/* When the packet arrived on its device: the kernel's receive timestamp,
 * taken at netif_rx for veth (before the backlog queue, where ping's
 * SO_TIMESTAMP and a capture's timestamp come from) when anything on the host
 * enabled timestamps; else now (netif_receive_skb, after the queue). */
static __always_inline __u64 mb_rx_time(const struct sk_buff *skb, __u64 now)
{
	__u64 t = mb_wall_to_mono(skb->tstamp, now, max_age_ns, tai_offset_ns);

	return t ? t : now;
}

/* at_l3_data: skb->data points at the IP header (netif_receive_skb), not at
 * the link-layer header pushed back for tc. */
static __always_inline int mb_dev_rx_do(struct sk_buff *skb, const bool at_l3_data, const bool pr)
{
	struct net_device *dev = skb->dev;
	__u32 netns;
	__u16 idx;
	bool outer;

	if (!mb_dev_stage(dev, &netns, &idx, &outer))
		return 0;
	__u64 now = bpf_ktime_get_ns();
	struct mb_key key = { .dir = MB_INGRESS };

	if (outer) {
		/* The container is not known before NAT is undone: packets of flows
		 * a traced container opened start an entry, others leave no trace. */
		union mb_hdr h;
		long avail;
		struct mb_flow f = {};
		__u64 bit, *w;

		if (!mb_skb_hdr(&h, &avail, skb, at_l3_data) || !mb_flow_from_hdr(&f, &h, false))
			return 0;
		w = mb_flow_word(mb_flow_hash(&f), &bit);
		if ((*w & bit) && bpf_map_lookup_elem(&traced_flows, &f) &&
		    mb_key_from_hdr(&key, &h, avail, mb_skb_gso(skb, pr))) {
			__u64 t = mb_rx_time(skb, now);

			mb_start(&key, MB_STAGE_O, 0, t != now ? MB_RX_TSTAMP : 0, skb, 0, 0, t);
		}
		return 0;
	}
	mb_count_dev(idx, MB_INGRESS, skb);
	if (!mb_skb_key(&key, skb, at_l3_data, pr))
		return 0;
	/* Entries from the outer device know their sk_buff, not yet their netns. */
	struct mb_inflight *v = mb_match(&inflight_ingress, &key, idx, now, skb, 0);

	if (!v)
		return 0;
	__u64 t = mb_rx_time(skb, now);

	/* a stamp carried from the outer device (same netns, never re-stamped) is not D's */
	if (t != now && t > v->ts[MB_STAGE_O])
		v->flags |= MB_RX_TSTAMP;
	else
		t = now;
	mb_stamp(v, MB_STAGE_D, netns, idx, t);
	v->skb = 0; /* the socket may see a clone */
	if (mb_ends_in_kernel(&key))
		mb_finish(&inflight_ingress, &key, v, t, MB_NSTAGES);
	return 0;
}

/* The ingress device stages where the kernel has tcx: attached by user space
 * to the traced containers' devices and the outer devices only (devices.cc),
 * so the rest of the host's receive path runs no macebpf program. */
SEC("tc")
int mb_tc_rx(struct __sk_buff *ctx)
{
	/* bpf_rdonly_cast, not bpf_cast_to_kern_ctx: the BPF linker cannot join
	 * one kfunc extern from two objects (edt.bpf.c has the other). */
	mb_dev_rx_do(bpf_rdonly_cast(ctx, bpf_core_type_id_kernel(struct sk_buff)), false, false);
	return TC_ACT_UNSPEC;
}

/* Without tcx: every device's receive path, returning at the first check. */
SEC("tp_btf/netif_receive_skb")
int BPF_PROG(mb_dev_rx, struct sk_buff *skb)
{
	return mb_dev_rx_do(skb, true, false);
}

/* The same for kernels without bpf_rdonly_cast (lib/cast.h). */
SEC("tp_btf/netif_receive_skb")
int BPF_PROG(mb_dev_rx_pr, struct sk_buff *skb)
{
	return mb_dev_rx_do(skb, true, true);
}

static __always_inline int mb_sock_recv_do(const struct sk_buff *skb, int len, const bool pr)
{
	__u32 netns = mb_task_netns();
	__u16 idx = mb_traced(netns);

	if (!idx)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	struct mb_key key = { .dir = MB_INGRESS };

	/* UDP is finished at sock_recv_length (mb_udp_recv): not every datagram copy passes here. */
	if (mb_skb_key(&key, skb, false, pr) && key.proto != IPPROTO_UDP)
		mb_ingress_at_socket(&key, netns, idx, now);
	return 0;
}

SEC("tp_btf/skb_copy_datagram_iovec")
int BPF_PROG(mb_sock_recv, const struct sk_buff *skb, int len)
{
	return mb_sock_recv_do(skb, len, false);
}

/* The same for kernels without bpf_rdonly_cast (lib/cast.h). */
SEC("tp_btf/skb_copy_datagram_iovec")
int BPF_PROG(mb_sock_recv_pr, const struct sk_buff *skb, int len)
{
	return mb_sock_recv_do(skb, len, true);
}

/* Ingress UDP: the datagram was copied to the application (after the copy,
 * for every protocol; only UDP is finished here). */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(mb_udp_recv, struct sock *sk, int ret, int flags)
{
	if (ret <= 0 || (flags & MB_MSG_PEEK) || sk->sk_protocol != IPPROTO_UDP)
		return 0;
	__u32 netns = mb_sk_netns(sk);
	__u16 idx = mb_traced(netns);

	if (!idx)
		return 0;
	const __u8 *buf;
	__u64 len;
	struct mb_key key = { .dir = MB_INGRESS };
	__u8 family = sk->__sk_common.skc_family == MB_AF_INET6 ? 6 : 4;

	if (mb_recv_buf(&buf, &len) && ret <= len && mb_key_from_udp_buf(&key, family, buf, ret))
		mb_ingress_at_socket(&key, netns, idx, bpf_ktime_get_ns());
	return 0;
}

/* Egress TCP: the application's data is being copied into a new skb, keyed
 * by socket and its first sequence number; the container device looks the
 * pair up (mb_dev_xmit). Data appended to a queued skb starts no packet. */
SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(mb_tcp_send, const struct sock *sk, const struct msghdr *msg, const struct sk_buff *skb,
	     int size_goal)
{
	/* the cheap check first: most calls append to the queued skb */
	if (skb && skb->len < size_goal)
		return 0;
	if (!mb_traced(mb_sk_netns(sk)))
		return 0;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

	if (!tp)
		return 0;
	struct mb_tcp_send_key tk = { .sk = (__u64)sk, .seq = tp->write_seq };
	__u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&tcp_send, &tk, &now, BPF_ANY);
	return 0;
}

/* Egress UDP and ICMP (and TCP where tcp_sendmsg_locked is missing): IP
 * output of a socket in a traced container's cgroup, the earliest point
 * with the whole packet that runs for those sockets only. Later than the
 * send call by the socket layer's work (docs/measurement.md), except for
 * echo requests, whose S is the stamp their sender wrote into them. */
SEC("cgroup_skb/egress")
int mb_cg_egress(struct __sk_buff *ctx)
{
	/* TCP's S is tcp_sendmsg_locked's where it exists: a traced container's
	 * TCP segments return here, before the cgroup lookup (the IP header is
	 * linear at IP output), and no TCP packet goes on below. */
	if (!cg_egress_tcp &&
	    mb_l4_proto((const void *)(long)ctx->data, (const void *)(long)ctx->data_end) == IPPROTO_TCP)
		return 1;
	__u64 cg = bpf_skb_cgroup_id(ctx);
	__u32 *netns = bpf_map_lookup_elem(&cgroup_netns, &cg);

	if (!netns)
		return 1;
	__u32 ns = *netns;
	__u16 idx = mb_traced(ns);

	if (!idx)
		return 1;
	union mb_hdr h = {};
	__u32 n = ctx->len;

	if (n < 28) /* no IPv4 + UDP/ICMP header */
		return 1;
	if (n > sizeof(h))
		n = sizeof(h);
	/* (n - 1) & 63 + 1 is n, in a form the verifier bounds to 1..64 */
	if (bpf_skb_load_bytes(ctx, 0, &h, ((n - 1) & (sizeof(h) - 1)) + 1))
		return 1;
	struct mb_key key = { .dir = MB_EGRESS };
	long avail = (long)ctx->data_end - (long)ctx->data;

	if (!mb_key_from_hdr(&key, &h, avail, ctx->gso_size))
		return 1;
	__u64 now = bpf_ktime_get_ns();
	__u64 sent = mb_echo_sent_ns(&key, &h, n, now, max_age_ns, tai_offset_ns);

	mb_start(&key, MB_STAGE_S, sent, sent ? MB_S_FROM_SENDER : 0, NULL, ns, idx, now);
	return 1;
}

/* A UDP or ICMP packet the container sent that is dropped before its device
 * stage (a policing limit's drop, a full queue) takes its entry with it:
 * else the next packet with the same content (a constant payload) would
 * take the dropped one's entry at D, and with it an older S. TCP keeps its
 * S: the retransmission carries the same data, whose stack part then holds
 * the wait for it (docs/measurement.md). Only locally sent packets (no
 * input interface); probe reads, as drops are rare and the program then
 * loads on every kernel. */
static __always_inline void mb_forget_unsent(const struct sk_buff *skb, __u32 netns)
{
	struct mb_key key = { .dir = MB_EGRESS };

	if (skb->skb_iif || !mb_skb_key(&key, skb, false, true) || key.proto == IPPROTO_TCP)
		return;
	/* the entry the device stage would have taken (mb_dev_xmit_do) */
	for (int s = 0; s < MB_SLOTS; s++) {
		key.slot = s;
		struct mb_inflight *v = bpf_map_lookup_elem(&inflight_egress, &key);

		if (v && !v->ts[MB_STAGE_D] && v->netns == netns) {
			bpf_map_delete_elem(&inflight_egress, &key);
			return;
		}
	}
}

/* Drops in a traced container (by its device, else its socket), by reason. */
SEC("tp_btf/kfree_skb")
int BPF_PROG(mb_drop, struct sk_buff *skb, void *location, enum skb_drop_reason reason)
{
	struct net_device *dev = skb->dev;
	struct sock *sk = skb->sk;
	__u32 netns = dev ? mb_dev_netns(dev) : sk ? mb_sk_netns(sk) : 0;
	__u16 idx = mb_traced(netns);

	if (!idx)
		return 0;
	struct mb_drop_key k = { .container = idx, .reason = reason };
	__u64 one = 1, *n = bpf_map_lookup_elem(&drops, &k);

	if (n)
		(*n)++;
	else
		bpf_map_update_elem(&drops, &k, &one, BPF_NOEXIST);
	mb_forget_unsent(skb, netns);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
