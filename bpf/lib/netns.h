/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* netns.h - network namespace inode of a device, a socket, the current task.
 * One netns = one container; its inode is the container's identity.
 * Arguments are BTF pointers (tracepoint arguments, kfunc results): their
 * fields are read directly, which is cheaper than a probe-read helper call. */
#ifndef MB_LIB_NETNS_H
#define MB_LIB_NETNS_H

static __always_inline __u32 mb_dev_netns(const struct net_device *dev)
{
	return dev->nd_net.net->ns.inum;
}

static __always_inline __u32 mb_sk_netns(const struct sock *sk)
{
	return sk->__sk_common.skc_net.net->ns.inum;
}

static __always_inline __u32 mb_task_netns(void)
{
	return bpf_get_current_task_btf()->nsproxy->net_ns->ns.inum;
}

#endif
