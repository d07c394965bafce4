// stats.cc - the kernel's own accounting of BPF run time (run_time_ns,
// run_cnt per program), switched on with BPF_ENABLE_STATS: it stays on only
// while the returned fd is open, so a killed process leaves nothing changed
// (unlike the kernel.bpf_stats_enabled sysctl). Also the output-gone check.
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <poll.h>

#include <cerrno>

#include "args.h"
#include "errors.h"
#include "macebpf.skel.h"
#include "tracer.h"

namespace mb {

Napi::Value Tracer::EnableStats(const Napi::CallbackInfo& info) {
  Skel(info.Env());
  if (stats_fd_ < 0) {
    int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (fd < 0) ThrowLibbpf(info.Env(), "bpf_enable_stats(BPF_STATS_RUN_TIME)", -fd);
    stats_fd_ = fd;
  }
  return info.Env().Undefined();
}

// [{ name, runTimeNs, runCount }] of every loaded program.
Napi::Value Tracer::ProgStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* s = Skel(env);
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  bpf_program* prog;
  bpf_object__for_each_program(prog, s->obj) {
    int fd = bpf_program__fd(prog);
    if (fd < 0) continue;  // not loaded (autoload off)
    struct bpf_prog_info pi = {};
    uint32_t len = sizeof(pi);
    int err = bpf_obj_get_info_by_fd(fd, &pi, &len);
    if (err) ThrowLibbpf(env, std::string("bpf_obj_get_info_by_fd(") + bpf_program__name(prog) + ")", -err);
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_program__name(prog));
    o.Set("runTimeNs", Napi::Number::New(env, static_cast<double>(pi.run_time_ns)));
    o.Set("runCount", Napi::Number::New(env, static_cast<double>(pi.run_cnt)));
    out.Set(n++, o);
  }
  return out;
}

// outputGone(fd): poll with no events still reports POLLERR (pipe without
// readers) and POLLHUP (terminal or socket hung up); a file never does.
Napi::Value OutputGone(const Napi::CallbackInfo& info) {
  struct pollfd p = {};
  p.fd = static_cast<int>(U32Arg(info, 0, "fd"));
  int n = poll(&p, 1, 0);
  bool gone = n > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL));
  return Napi::Boolean::New(info.Env(), gone);
}

}  // namespace mb
