// features.h - what the running kernel offers macebpf, probed from its BTF
// before anything is loaded (docs/kernels.md). The tracer picks programs and
// the limit attachment from this and reports the choice (features()).
#pragma once
#include <string>
#include <vector>

namespace mb {

struct KernelFeatures {
  bool kfunc_cast = false;  // bpf_cast_to_kern_ctx and bpf_rdonly_cast (6.2)
  bool tcx = false;         // BPF_TCX_EGRESS links (6.6)
  bool tcp_sendmsg_tp = false;  // tracepoint tcp:tcp_sendmsg_locked (after 6.12)
  bool sock_recv_length_tp = false;  // tracepoint sock:sock_recv_length (6.3)
};

// Probes the kernel; `disable` names features to treat as absent ("kfunc",
// "tcx", "tcp-sendmsg-tp"), so the fallbacks can be exercised on a kernel that has both.
// Throws std::runtime_error naming the failing call or an unknown name.
KernelFeatures ProbeKernel(const std::vector<std::string>& disable);

}  // namespace mb
