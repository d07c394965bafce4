/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* syscall.h - the socket stage seen from sys_enter/sys_exit (x86_64):
 * which syscalls move data through a socket, the socket behind an fd, and
 * the first user buffer of the call.
 *
 *   mb_sys_kind(id)               MB_SYS_SEND, MB_SYS_RECV or 0
 *   mb_fd_socket(fd)              struct socket * or NULL
 *   mb_sys_buf(id, regs, &buf, &len)  first user segment of the call
 *
 * Kernel functions cannot be traced on every kernel (fentry and kprobes may
 * be missing), the raw syscall tracepoints always exist. */
#ifndef MB_LIB_SYSCALL_H
#define MB_LIB_SYSCALL_H

#include "cast.h"

#define MB_NR_READ 0
#define MB_NR_WRITE 1
#define MB_NR_READV 19
#define MB_NR_WRITEV 20
#define MB_NR_SENDTO 44
#define MB_NR_RECVFROM 45
#define MB_NR_SENDMSG 46
#define MB_NR_RECVMSG 47

#define MB_SYS_SEND 1
#define MB_SYS_RECV 2

#define MB_S_IFMT 00170000
#define MB_S_IFSOCK 0140000

static __always_inline int mb_sys_kind(long id)
{
	if (id == MB_NR_SENDTO || id == MB_NR_SENDMSG || id == MB_NR_WRITE || id == MB_NR_WRITEV)
		return MB_SYS_SEND;
	if (id == MB_NR_RECVFROM || id == MB_NR_RECVMSG || id == MB_NR_READ || id == MB_NR_READV)
		return MB_SYS_RECV;
	return 0;
}

/* What the socket stage needs of the socket behind an fd. */
struct mb_fd_sock {
	__u64 sk;	/* struct sock * (identity only) */
	__u32 write_seq; /* TCP: sequence of the next byte sent */
	__u16 family;
	__u8 proto;
};

/* The socket behind fd, as a BTF pointer (its fields read directly). */
static __always_inline struct socket *mb_fd_socket(int fd)
{
	struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;
	struct file *file = NULL;

	if (fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	/* An array element: no BTF pointer arithmetic, so one probe read. */
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]) || !file)
		return NULL;
	file = bpf_rdonly_cast(file, bpf_core_type_id_kernel(struct file));
	if ((file->f_inode->i_mode & MB_S_IFMT) != MB_S_IFSOCK)
		return NULL;
	return bpf_rdonly_cast(file->private_data, bpf_core_type_id_kernel(struct socket));
}

/* Fills *out for a socket fd; pr: without bpf_rdonly_cast (lib/cast.h), every
 * field by probe read. */
static __always_inline bool mb_fd_sock_info(int fd, struct mb_fd_sock *out, const bool pr)
{
	struct sock *sk;

	if (!pr) {
		struct socket *sock = mb_fd_socket(fd);

		if (!sock)
			return false;
		sk = sock->sk;
		out->proto = sk->sk_protocol;
		out->family = sk->__sk_common.skc_family;
		if (out->proto == IPPROTO_TCP)
			out->write_seq = ((struct tcp_sock *)bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct tcp_sock)))->write_seq;
		out->sk = (__u64)sk;
		return true;
	}
	struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;
	struct file *file = NULL;

	if (fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return false;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]) || !file)
		return false;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & MB_S_IFMT) != MB_S_IFSOCK)
		return false;
	struct socket *sock = BPF_CORE_READ(file, private_data);

	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return false;
	out->proto = BPF_CORE_READ(sk, sk_protocol);
	out->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (out->proto == IPPROTO_TCP)
		out->write_seq = BPF_CORE_READ((struct tcp_sock *)sk, write_seq);
	out->sk = (__u64)sk;
	return true;
}

/* read/write/send/recv pass (buf, len); the *v and *msg calls an iovec array. */
static __always_inline bool mb_sys_buf(long id, struct pt_regs *regs, const __u8 **buf, __u64 *len)
{
	if (id == MB_NR_SENDTO || id == MB_NR_WRITE || id == MB_NR_RECVFROM || id == MB_NR_READ) {
		*buf = (const __u8 *)regs->si;
		*len = regs->dx;
		return true;
	}
	const struct iovec *uiov = (const struct iovec *)regs->si;
	struct iovec iov;

	if (id == MB_NR_SENDMSG || id == MB_NR_RECVMSG) {
		struct user_msghdr mh;

		if (bpf_probe_read_user(&mh, sizeof(mh), (void *)regs->si))
			return false;
		uiov = mh.msg_iov;
	}
	if (bpf_probe_read_user(&iov, sizeof(iov), uiov))
		return false;
	*buf = iov.iov_base;
	*len = iov.iov_len;
	return true;
}

#endif
