/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* recv_buf.h - the user buffer that the current task's receive call filled,
 * from the registers of its syscall (x86_64 ABI), and the UDP key from it.
 *
 *   mb_recv_buf(&buf, &len)                    first buffer of read/recv*
 *   mb_key_from_udp_buf(key, family, buf, n)   key of an n-byte datagram
 *
 * UDP copies linear datagrams to the application without the
 * skb_copy_datagram_iovec tracepoint, so sock_recv_length (after the copy)
 * finds the datagram in the buffer it went to. */
#ifndef MB_LIB_RECV_BUF_H
#define MB_LIB_RECV_BUF_H

#include "pkt_key.h"

#define MB_NR_READ 0
#define MB_NR_READV 19
#define MB_NR_RECVFROM 45
#define MB_NR_RECVMSG 47

static __always_inline bool mb_recv_buf(const __u8 **buf, __u64 *len)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long id = regs->orig_ax;

	if (id == MB_NR_RECVFROM || id == MB_NR_READ) {
		*buf = (const __u8 *)regs->si;
		*len = regs->dx;
		return true;
	}
	const struct iovec *uiov = (const struct iovec *)regs->si;
	struct iovec iov;

	if (id == MB_NR_RECVMSG) {
		struct user_msghdr mh;

		if (bpf_probe_read_user(&mh, sizeof(mh), (void *)regs->si))
			return false;
		uiov = mh.msg_iov;
	} else if (id != MB_NR_READV) {
		return false; /* recvmmsg, io_uring: not followed */
	}
	if (bpf_probe_read_user(&iov, sizeof(iov), uiov))
		return false;
	*buf = iov.iov_base;
	*len = iov.iov_len;
	return true;
}

static __always_inline bool mb_key_from_udp_buf(struct mb_key *key, __u8 family, const __u8 *buf, __u64 n)
{
	if (n > 0xffff - sizeof(struct udphdr))
		return false;
	key->family = family;
	key->proto = IPPROTO_UDP;
	key->a = n + sizeof(struct udphdr);
	__u32 p = mb_key_payload_len(n);

	return !(p > 0 && p <= MB_PAYLOAD_KEY_BYTES && bpf_probe_read_user(key->payload, p, buf));
}

#endif
