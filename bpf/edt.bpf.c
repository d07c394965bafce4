// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* edt.bpf.c - per-container egress rate limit by earliest departure time
 * (DESIGN §3). Attached at tc egress (tcx) of the container's device:
 *
 *   t_next = max(now, t_last) + wire_len * 1e9 / rate
 *   t_next - now > horizon  -> drop, count
 *   otherwise               -> skb->tstamp = t_next (mono), t_last = t_next
 *
 * Configuration lives in limit_cfg, so rate and horizon change for the next
 * packet without re-attaching. Without an fq qdisc nothing paces by
 * skb->tstamp: then enforce = 0 and the horizon alone polices the rate. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "macebpf.h"
#include "lib/cast.h"
#include "lib/netns.h"
#include "lib/tc_act.h"

#define MB_NSEC_PER_SEC 1000000000ull

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MB_MAX_CONTAINERS);
	__type(key, __u32); /* netns inode */
	__type(value, struct mb_limit_cfg);
} limit_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MB_MAX_CONTAINERS);
	__type(key, __u32);
	__type(value, struct mb_limit_state);
} limit_state SEC(".maps");

/* pr: for kernels without bpf_cast_to_kern_ctx (lib/cast.h); the sk_buff
 * behind the context is then read by probe. */
static __always_inline int mb_edt_do(struct __sk_buff *ctx, const bool pr)
{
	__u32 netns;

	if (pr) {
		netns = BPF_CORE_READ((struct sk_buff *)ctx, dev, nd_net.net, ns.inum);
	} else {
		struct sk_buff *skb = bpf_cast_to_kern_ctx(ctx);

		netns = mb_dev_netns(skb->dev);
	}
	struct mb_limit_cfg *cfg = bpf_map_lookup_elem(&limit_cfg, &netns);

	if (!cfg || !cfg->rate)
		return TC_ACT_OK;
	struct mb_limit_state *st = bpf_map_lookup_elem(&limit_state, &netns);

	if (!st)
		return TC_ACT_OK;
	__u64 len = ctx->wire_len;

	/* Separate loads: a select between two ctx offsets fails verification. */
	asm volatile("" : "+r"(len));
	if (!len)
		len = ctx->len;
	__u64 rate = cfg->rate, horizon = cfg->horizon_ns;
	__u64 now = bpf_ktime_get_ns();
	__u64 delay = len * MB_NSEC_PER_SEC / rate;
	__u64 t_next;

	bpf_spin_lock(&st->lock);
	t_next = (st->t_last > now ? st->t_last : now) + delay;
	if (t_next - now > horizon) {
		st->drops++;
		st->drop_bytes += len;
		bpf_spin_unlock(&st->lock);
		/* A policer drops as a wire policer would, unseen by the sender,
		 * which learns of the loss from its peer and recovers fast. SHOT
		 * reports a local drop, and TCP then retries only on its
		 * retransmission timer; tcx has no STOLEN. A redirect to no
		 * device is freed by the kernel and reported as sent. */
		if (cfg->enforce)
			return TC_ACT_SHOT;
		return bpf_redirect(0, 0);
	}
	st->t_last = t_next;
	st->packets++;
	st->bytes += len;
	if (t_next - delay > now) {
		st->delayed++;
		st->delay_ns += t_next - now;
	}
	bpf_spin_unlock(&st->lock);
	if (cfg->enforce)
		bpf_skb_set_tstamp(ctx, t_next, BPF_SKB_TSTAMP_DELIVERY_MONO);
	return TC_ACT_OK;
}

SEC("tc")
int mb_edt(struct __sk_buff *ctx)
{
	return mb_edt_do(ctx, false);
}

SEC("tc")
int mb_edt_pr(struct __sk_buff *ctx)
{
	return mb_edt_do(ctx, true);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
