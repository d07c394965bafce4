/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* cast.h - kfuncs that turn pointers into BTF pointers, whose fields BPF
 * reads directly (a plain load) instead of through a probe-read helper call.
 *
 *   bpf_cast_to_kern_ctx(ctx)   tc: struct __sk_buff * -> struct sk_buff *
 *   bpf_rdonly_cast(p, id)      any kernel pointer -> read-only BTF pointer;
 *                               id = bpf_core_type_id_kernel(struct T)
 *
 * Both arrived in Linux 6.2. They are weak: on older kernels (Debian 12's
 * 6.1) libbpf leaves them unresolved, and the native side loads instead the
 * twin of every program that uses them, built from the same body with
 * pr = true ("probe read"): there a pointer stays a plain kernel address and
 * its fields are read with BPF_CORE_READ (bpf_probe_read_kernel). The choice
 * is made before load from the kernel's BTF (native/features.cc); a pr
 * program contains no kfunc call, which `npm run test:vm` checks on 6.1.
 */
#ifndef MB_LIB_CAST_H
#define MB_LIB_CAST_H

extern void *bpf_cast_to_kern_ctx(void *ctx) __ksym __weak;
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

#endif
