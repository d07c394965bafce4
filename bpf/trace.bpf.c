// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* trace.bpf.c - per-packet container latency (DESIGN §3).
 *
 * Egress:  S sys_enter (send/write on a socket) -> D net_dev_start_xmit (container dev)
 *          -> O net_dev_start_xmit (outer dev): record emitted at O.
 * Ingress: O netif_receive_skb (outer dev) -> D netif_receive_skb (container
 *          dev) -> S skb_copy_datagram_iovec: record emitted at S, or at D for
 *          packets no socket will read (TCP without payload, echo requests).
 * Stages meet in per-direction LRU maps keyed by the NAT-invariant mb_key. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "macebpf.h"
#include "lib/netns.h"
#include "lib/pkt_key.h"

#define MB_IFF_LOOPBACK 0x8
#define MB_AF_INET 2
#define MB_AF_INET6 10

/* Set through the skeleton before load. */
const volatile __u64 max_age_ns = 1000000000ull;
const volatile __u64 wakeup_bytes = 64 * sizeof(struct mb_event);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MB_MAX_CONTAINERS);
	__type(key, __u32); /* netns inode */
	__type(value, struct mb_container);
} traced_netns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MB_MAX_OUTER);
	__type(key, struct mb_outer_key);
	__type(value, __u8);
} outer_dev SEC(".maps");

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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MB_MAX_CONTAINERS);
	__type(key, __u32);
	__type(value, struct mb_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

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

static __always_inline bool mb_is_outer(__u32 netns, __u32 ifindex)
{
	struct mb_outer_key k = { .netns = netns, .ifindex = ifindex };

	return bpf_map_lookup_elem(&outer_dev, &k) != NULL;
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

/* Emit the record of a finished entry; the caller deletes the entry. */
static __always_inline void mb_emit(const struct mb_key *key, const struct mb_inflight *v, __u64 now)
{
	__u16 idx = v->container;
	__u8 dir = key->dir;
	struct mb_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		MB_COUNT(idx, dir, lost);
		return;
	}
	__u64 first = mb_first_ts(v);
	__u8 stages = 0;

	for (int s = 0; s < MB_NSTAGES; s++)
		if (v->ts[s])
			stages |= MB_STAGE_BIT(s);
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
	/* Wake user space by batch: only once enough records wait. */
	__u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ?
			      BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(e, flags);
	MB_COUNT(idx, dir, events);
}

/* Look up the entry for a later stage; discards and counts entries past max age. */
static __always_inline struct mb_inflight *mb_match(void *map, const struct mb_key *key,
						    __u16 idx, __u64 now)
{
	struct mb_inflight *v = bpf_map_lookup_elem(map, key);

	if (!v) {
		MB_COUNT(idx, key->dir, unmatched);
		return NULL;
	}
	__u64 first = mb_first_ts(v);

	if (now - first > max_age_ns) {
		MB_COUNT(v->container ? v->container : idx, key->dir, stale);
		bpf_map_delete_elem(map, key);
		return NULL;
	}
	return v;
}

/* Start an entry at its first stage; an entry still in flight under the same key is a collision. */
static __always_inline void mb_start(const struct mb_key *key, __u8 stage, __u64 s_ts,
				     __u32 netns, __u16 idx, __u64 now)
{
	struct mb_inflight v = { .netns = netns, .container = idx };
	void *map = mb_inflight_map(key->dir);

	v.ts[stage & 3] = now;
	if (s_ts)
		v.ts[MB_STAGE_S] = s_ts;
	if (bpf_map_update_elem(map, key, &v, BPF_NOEXIST)) {
		MB_COUNT(idx, key->dir, collisions);
		bpf_map_update_elem(map, key, &v, BPF_ANY);
	}
	MB_COUNT(idx, key->dir, created);
}

static __always_inline bool mb_skb_key(struct mb_key *key, const struct sk_buff *skb, bool at_l3_data)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	unsigned char *data = BPF_CORE_READ(skb, data);
	__u32 headlen = BPF_CORE_READ(skb, len) - BPF_CORE_READ(skb, data_len);
	/* On receive, data points at L3; at xmit and at the socket, network_header does. */
	const __u8 *l3 = at_l3_data ? data : head + BPF_CORE_READ(skb, network_header);
	struct skb_shared_info *shinfo = (void *)(head + BPF_CORE_READ(skb, end));
	__u16 gso_size = BPF_CORE_READ(shinfo, gso_size);

	return mb_key_from_l3(key, l3, data + headlen, gso_size);
}

static __always_inline void mb_count_dev(__u16 idx, __u8 dir, const struct sk_buff *skb)
{
	struct mb_dir_counters *c = mb_counters(idx, dir);

	if (c) {
		c->packets++;
		c->bytes += BPF_CORE_READ(skb, len);
	}
}

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(mb_dev_xmit, const struct sk_buff *skb, const struct net_device *dev)
{
	__u32 netns = mb_dev_netns(dev);
	__u64 now = bpf_ktime_get_ns();
	struct mb_key key = { .dir = MB_EGRESS };

	if (mb_is_outer(netns, BPF_CORE_READ(dev, ifindex))) {
		struct mb_inflight *v;

		if (!mb_skb_key(&key, skb, false))
			return 0;
		v = mb_match(&inflight_egress, &key, 0, now);
		if (v) {
			v->ts[MB_STAGE_O] = now;
			mb_emit(&key, v, now);
			bpf_map_delete_elem(&inflight_egress, &key);
		}
		return 0;
	}
	struct mb_container *c = bpf_map_lookup_elem(&traced_netns, &netns);

	if (!c || (BPF_CORE_READ(dev, flags) & MB_IFF_LOOPBACK))
		return 0;
	__u16 idx = c->index;

	mb_count_dev(idx, MB_EGRESS, skb);
	if (!mb_skb_key(&key, skb, false))
		return 0;
	struct mb_inflight *v = bpf_map_lookup_elem(&inflight_egress, &key);

	if (v && !v->ts[MB_STAGE_D]) { /* started at the socket */
		v->ts[MB_STAGE_D] = now;
		return 0;
	}
	__u64 s_ts = 0;

	if (key.proto == IPPROTO_TCP) {
		struct mb_tcp_send_key tk = { .sk = (__u64)BPF_CORE_READ(skb, sk), .seq = key.a };
		__u64 *ts = bpf_map_lookup_elem(&tcp_send, &tk);

		if (ts) {
			s_ts = *ts;
			bpf_map_delete_elem(&tcp_send, &tk);
		}
	}
	mb_start(&key, MB_STAGE_D, s_ts, netns, idx, now);
	return 0;
}

/* Ingress packets that end in the kernel never reach a socket: finish them at D. */
static __always_inline bool mb_ends_in_kernel(const struct mb_key *key)
{
	if (key->proto == IPPROTO_TCP)
		return key->c == 0;
	if (key->proto == IPPROTO_ICMP)
		return key->icmp_type == MB_ICMP_ECHO;
	if (key->proto == MB_IPPROTO_ICMPV6)
		return key->icmp_type == MB_ICMPV6_ECHO_REQUEST;
	return false;
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(mb_dev_rx, struct sk_buff *skb)
{
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	__u32 netns = mb_dev_netns(dev);
	__u64 now = bpf_ktime_get_ns();
	struct mb_key key = { .dir = MB_INGRESS };

	if (mb_is_outer(netns, BPF_CORE_READ(dev, ifindex))) {
		/* The container is not known before NAT is undone: every packet starts an entry. */
		if (mb_skb_key(&key, skb, true))
			mb_start(&key, MB_STAGE_O, 0, 0, 0, now);
		return 0;
	}
	struct mb_container *c = bpf_map_lookup_elem(&traced_netns, &netns);

	if (!c || (BPF_CORE_READ(dev, flags) & MB_IFF_LOOPBACK))
		return 0;
	__u16 idx = c->index;

	mb_count_dev(idx, MB_INGRESS, skb);
	if (!mb_skb_key(&key, skb, true))
		return 0;
	struct mb_inflight *v = mb_match(&inflight_ingress, &key, idx, now);

	if (!v)
		return 0;
	v->ts[MB_STAGE_D] = now;
	v->netns = netns;
	v->container = idx;
	if (mb_ends_in_kernel(&key)) {
		mb_emit(&key, v, now);
		bpf_map_delete_elem(&inflight_ingress, &key);
	}
	return 0;
}

SEC("tp_btf/skb_copy_datagram_iovec")
int BPF_PROG(mb_sock_recv, const struct sk_buff *skb, int len)
{
	__u32 netns = mb_task_netns();
	struct mb_container *c = bpf_map_lookup_elem(&traced_netns, &netns);

	if (!c)
		return 0;
	__u16 idx = c->index;
	__u64 now = bpf_ktime_get_ns();
	struct mb_key key = { .dir = MB_INGRESS };

	if (!mb_skb_key(&key, skb, false))
		return 0;
	struct mb_inflight *v = mb_match(&inflight_ingress, &key, idx, now);

	if (!v)
		return 0;
	v->ts[MB_STAGE_S] = now;
	v->netns = netns;
	v->container = idx;
	mb_emit(&key, v, now);
	bpf_map_delete_elem(&inflight_ingress, &key);
	return 0;
}

/* Socket stage of egress: the application hands its data to the kernel.
 * Kernel functions cannot be traced on every kernel (no fentry/kprobes here),
 * so this is the sys_enter tracepoint, filtered by syscall number first. */
#define MB_NR_WRITE 1
#define MB_NR_WRITEV 20
#define MB_NR_SENDTO 44
#define MB_NR_SENDMSG 46

#define MB_S_IFMT 00170000
#define MB_S_IFSOCK 0140000

static __always_inline struct socket *mb_fd_socket(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;

	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & MB_S_IFMT) != MB_S_IFSOCK)
		return NULL;
	return BPF_CORE_READ(file, private_data);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(mb_sys_send, struct pt_regs *regs, long id)
{
	if (id != MB_NR_SENDTO && id != MB_NR_SENDMSG && id != MB_NR_WRITE && id != MB_NR_WRITEV)
		return 0;
	__u32 netns = mb_task_netns();
	struct mb_container *c = bpf_map_lookup_elem(&traced_netns, &netns);

	if (!c)
		return 0;
	__u16 idx = c->index;
	struct socket *sock = mb_fd_socket(BPF_CORE_READ(regs, di));

	if (!sock)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	struct sock *sk = BPF_CORE_READ(sock, sk);
	__u8 proto = BPF_CORE_READ(sk, sk_protocol);
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (fam != MB_AF_INET && fam != MB_AF_INET6)
		return 0;
	if (proto == IPPROTO_TCP) {
		struct mb_tcp_send_key tk = { .sk = (__u64)sk,
					      .seq = BPF_CORE_READ((struct tcp_sock *)sk, write_seq) };

		bpf_map_update_elem(&tcp_send, &tk, &now, BPF_ANY);
		return 0;
	}
	if (proto != IPPROTO_UDP && proto != IPPROTO_ICMP && proto != MB_IPPROTO_ICMPV6)
		return 0;
	/* The first user segment must hold all the key's bytes (ping's always does). */
	const __u8 *buf;
	__u64 len;

	if (id == MB_NR_SENDTO || id == MB_NR_WRITE) {
		buf = (const __u8 *)BPF_CORE_READ(regs, si);
		len = BPF_CORE_READ(regs, dx);
	} else {
		struct iovec iov;
		const struct iovec *uiov = (const struct iovec *)BPF_CORE_READ(regs, si);

		if (id == MB_NR_SENDMSG) {
			struct user_msghdr mh;

			if (bpf_probe_read_user(&mh, sizeof(mh), (void *)BPF_CORE_READ(regs, si)))
				return 0;
			uiov = mh.msg_iov;
		}
		if (bpf_probe_read_user(&iov, sizeof(iov), uiov))
			return 0;
		buf = iov.iov_base;
		len = iov.iov_len;
	}
	struct mb_key key = { .dir = MB_EGRESS };

	if (!mb_key_from_user(&key, fam == MB_AF_INET6 ? 6 : 4, proto, buf, len))
		return 0;
	mb_start(&key, MB_STAGE_S, 0, netns, idx, now);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
