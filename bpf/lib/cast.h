/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* cast.h - kfuncs that turn pointers into BTF pointers, whose fields BPF
 * reads directly (a plain load) instead of through a probe-read helper call.
 *
 *   bpf_cast_to_kern_ctx(ctx)   tc: struct __sk_buff * -> struct sk_buff *
 *   bpf_rdonly_cast(p, id)      any kernel pointer -> read-only BTF pointer;
 *                               id = bpf_core_type_id_kernel(struct T)
 */
#ifndef MB_LIB_CAST_H
#define MB_LIB_CAST_H

extern void *bpf_cast_to_kern_ctx(void *ctx) __ksym;
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

#endif
