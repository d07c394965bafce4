/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* netns.h - network namespace inode of a device, a socket, the current task.
 * One netns = one container; its inode is the container's identity. */
#ifndef MB_LIB_NETNS_H
#define MB_LIB_NETNS_H

static __always_inline __u32 mb_dev_netns(const struct net_device *dev)
{
	return BPF_CORE_READ(dev, nd_net.net, ns.inum);
}

static __always_inline __u32 mb_sk_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

static __always_inline __u32 mb_task_netns(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
}

#endif
