// features.cc - kernel feature probes from the kernel's own BTF
// (/sys/kernel/btf/vmlinux): a kfunc exists when BTF has a FUNC of its name
// (as libbpf resolves it), tcx when enum bpf_attach_type has BPF_TCX_EGRESS.
// No program is loaded to find out, so the probe cannot fail half-way.
#include "features.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace mb {
namespace {

bool HasEnumValue(const struct btf* btf, const char* type, const char* value) {
  __s32 id = btf__find_by_name_kind(btf, type, BTF_KIND_ENUM);
  if (id < 0) return false;
  const struct btf_type* t = btf__type_by_id(btf, id);
  const struct btf_enum* e = btf_enum(t);
  for (int i = 0; i < btf_vlen(t); i++) {
    if (strcmp(btf__name_by_offset(btf, e[i].name_off), value) == 0) return true;
  }
  return false;
}

}  // namespace

KernelFeatures ProbeKernel(const std::vector<std::string>& disable) {
  std::unique_ptr<struct btf, void (*)(struct btf*)> btf(btf__load_vmlinux_btf(), btf__free);
  if (!btf) {
    throw std::runtime_error(std::string("btf__load_vmlinux_btf failed: ") + strerror(errno) +
                             ": macebpf needs a kernel with BTF (CONFIG_DEBUG_INFO_BTF, /sys/kernel/btf/vmlinux)");
  }
  KernelFeatures f;
  f.kfunc_cast = btf__find_by_name_kind(btf.get(), "bpf_rdonly_cast", BTF_KIND_FUNC) > 0 &&
                 btf__find_by_name_kind(btf.get(), "bpf_cast_to_kern_ctx", BTF_KIND_FUNC) > 0;
  f.tcx = HasEnumValue(btf.get(), "bpf_attach_type", "BPF_TCX_EGRESS");
  // A tp_btf program attaches to a tracepoint by its btf_trace_<name> typedef.
  f.tcp_sendmsg_tp = btf__find_by_name_kind(btf.get(), "btf_trace_tcp_sendmsg_locked", BTF_KIND_TYPEDEF) > 0;
  f.sock_recv_length_tp = btf__find_by_name_kind(btf.get(), "btf_trace_sock_recv_length", BTF_KIND_TYPEDEF) > 0;
  for (const auto& d : disable) {
    if (d == "kfunc") f.kfunc_cast = false;
    else if (d == "tcx") f.tcx = false;
    else if (d == "tcp-sendmsg-tp") f.tcp_sendmsg_tp = false;
    else throw std::runtime_error("unknown feature to disable: \"" + d + "\": use \"kfunc\", \"tcx\" or \"tcp-sendmsg-tp\"");
  }
  return f;
}

}  // namespace mb
