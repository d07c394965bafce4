// limit.cc - Tracer's EDT rate limits: attach the tc program to a container's
// device as a tcx link (owned by an fd: it detaches with the process, even on
// SIGKILL, and leaves the device's qdiscs and filters untouched), or on
// kernels without tcx (before 6.6) as a cls_bpf filter on a clsact qdisc,
// which is removed explicitly, together with the qdisc if macebpf created
// it; configure rate and horizon at run time, read the state, and
// BPF_PROG_TEST_RUN it.
#include <fcntl.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "args.h"
#include "errors.h"
#include "in_netns.h"
#include "macebpf.h"
#include "macebpf.skel.h"
#include "tracer.h"

namespace mb {
namespace {

constexpr int kAttachTcxEgress = 47;  // BPF_TCX_EGRESS (Linux 6.6); libbpf 1.1 predates it
// The cls_bpf filter's handle and priority ("mb"): a filter a killed run left
// behind on the same device is replaced, not doubled.
constexpr __u32 kClsHandle = 0x6d62;
constexpr __u32 kClsPriority = 0x6d62;

}  // namespace

// limit(netnsPath, ifname, netnsInode, rateBytesPerSec, horizonNs, enforce)
// Attaches on first use; later calls only change the configuration.
Napi::Value Tracer::Limit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* s = Skel(env);
  std::string path = StringArg(info, 0, "netnsPath");
  std::string ifname = StringArg(info, 1, "ifname");
  uint32_t netns = U32Arg(info, 2, "netns");
  struct mb_limit_cfg cfg = {};
  // Bounds as src/core/units.ts (RATE_*, HORIZON_*), which callers check first.
  cfg.rate = static_cast<__u64>(NumberArg(info, 3, "rate", 1, 1e12));
  cfg.horizon_ns = static_cast<__u64>(NumberArg(info, 4, "horizonNs", 1e3, 60e9));
  cfg.enforce = info.Length() > 5 && info[5].ToBoolean() ? 1 : 0;
  if (!limit_links_.count(netns)) {
    struct mb_limit_state st = {};
    int err = bpf_map__update_elem(s->maps.limit_state, &netns, sizeof(netns), &st, sizeof(st), BPF_ANY);
    if (err) ThrowLibbpf(env, "bpf_map__update_elem(limit_state)", err);
    LimitLink link;
    link.netns_path = path;
    NetnsError r = InNetns(path, [&]() -> NetnsError {
      link.ifindex = if_nametoindex(ifname.c_str());
      if (!link.ifindex) return {errno, "if_nametoindex(" + ifname + ")"};
      if (tcx_) {
        link.fd = bpf_link_create(bpf_program__fd(edt_prog_), link.ifindex,
                                  static_cast<enum bpf_attach_type>(kAttachTcxEgress), nullptr);
        if (link.fd < 0) return {-link.fd, "bpf_link_create(tcx egress of " + ifname + ")"};
        return {};
      }
      LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(link.ifindex), .attach_point = BPF_TC_EGRESS);
      int err = bpf_tc_hook_create(&hook);
      if (err && err != -EEXIST) return {-err, "bpf_tc_hook_create(clsact on " + ifname + ")"};
      link.created_clsact = err == 0;
      LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = bpf_program__fd(edt_prog_), .flags = BPF_TC_F_REPLACE,
                  .handle = kClsHandle, .priority = kClsPriority);
      err = bpf_tc_attach(&hook, &opts);
      if (err) {
        if (link.created_clsact) {
          hook.attach_point = static_cast<enum bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
          bpf_tc_hook_destroy(&hook);
        }
        return {-err, "bpf_tc_attach(cls_bpf egress of " + ifname + ")"};
      }
      return {};
    });
    if (r.err) {
      bpf_map__delete_elem(s->maps.limit_state, &netns, sizeof(netns), 0);
      if (r.err == ENODEV) {
        throw Napi::Error::New(env, "no interface \"" + ifname + "\" in netns " + path + ": pass --dev with one of its interfaces");
      }
      ThrowLibbpf(env, r.call, r.err);
    }
    limit_links_[netns] = link;
  }
  int err = bpf_map__update_elem(s->maps.limit_cfg, &netns, sizeof(netns), &cfg, sizeof(cfg), BPF_ANY);
  if (err) ThrowLibbpf(env, "bpf_map__update_elem(limit_cfg)", err);
  return env.Undefined();
}

Napi::Value Tracer::Unlimit(const Napi::CallbackInfo& info) {
  auto* s = Skel(info.Env());
  uint32_t netns = U32Arg(info, 0, "netns");
  auto it = limit_links_.find(netns);
  if (it == limit_links_.end()) {
    throw Napi::Error::New(info.Env(), "netns inode " + std::to_string(netns) + " has no rate limit");
  }
  Detach(it->second);
  limit_links_.erase(it);
  bpf_map__delete_elem(s->maps.limit_cfg, &netns, sizeof(netns), 0);
  bpf_map__delete_elem(s->maps.limit_state, &netns, sizeof(netns), 0);
  return info.Env().Undefined();
}

// Removes one attachment; the device is left as it was before limit():
// a clsact qdisc macebpf created goes, one that was there stays.
void Tracer::Detach(LimitLink& link) {
  if (link.fd >= 0) {
    close(link.fd);  // tcx links detach with their fd
    link.fd = -1;
    return;
  }
  if (!link.ifindex) return;
  InNetns(link.netns_path, [&]() -> NetnsError {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(link.ifindex), .attach_point = BPF_TC_EGRESS);
    if (link.created_clsact) {
      hook.attach_point = static_cast<enum bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
      bpf_tc_hook_destroy(&hook);  // removes the filter with the qdisc
    } else {
      LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kClsHandle, .priority = kClsPriority);
      bpf_tc_detach(&hook, &opts);
    }
    return {};
  });
  link.ifindex = 0;
}

// A consistent copy of struct mb_limit_state (read under its spin lock).
Napi::Value Tracer::LimitState(const Napi::CallbackInfo& info) {
  auto* s = Skel(info.Env());
  uint32_t netns = U32Arg(info, 0, "netns");
  auto ab = Napi::ArrayBuffer::New(info.Env(), sizeof(struct mb_limit_state));
  int err = bpf_map__lookup_elem(s->maps.limit_state, &netns, sizeof(netns), ab.Data(), ab.ByteLength(), BPF_F_LOCK);
  if (err) ThrowLibbpf(info.Env(), "bpf_map__lookup_elem(limit_state)", err);
  return ab;
}

// edtTestRun(packet: ArrayBuffer, netnsPath) -> { verdict, tstamp: bigint }:
// one BPF_PROG_TEST_RUN of the EDT program on an Ethernet frame. The kernel
// runs it on the loopback device of the netns it is called from.
Napi::Value Tracer::EdtTestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Skel(env);  // throws when closed
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) {
    throw Napi::TypeError::New(env, "edtTestRun(packet): packet must be an ArrayBuffer holding an Ethernet frame");
  }
  auto pkt = info[0].As<Napi::ArrayBuffer>();
  std::string path = StringArg(info, 1, "netnsPath");
  struct __sk_buff ctx = {};
  ctx.wire_len = static_cast<__u32>(pkt.ByteLength());
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.Data(), .data_size_in = static_cast<__u32>(pkt.ByteLength()),
              .ctx_in = &ctx, .ctx_out = &ctx, .ctx_size_in = sizeof(ctx), .ctx_size_out = sizeof(ctx));
  int prog_fd = bpf_program__fd(edt_prog_);
  NetnsError r = InNetns(path, [&]() -> NetnsError {
    int err = bpf_prog_test_run_opts(prog_fd, &opts);
    return err ? NetnsError{-err, "bpf_prog_test_run_opts(mb_edt)"} : NetnsError{};
  });
  if (r.err) ThrowLibbpf(env, r.call, r.err);
  Napi::Object out = Napi::Object::New(env);
  out.Set("verdict", Napi::Number::New(env, opts.retval));
  out.Set("tstamp", Napi::BigInt::New(env, static_cast<uint64_t>(ctx.tstamp)));
  return out;
}

}  // namespace mb

namespace mb {

// findLimit(netnsInode) -> { rate, horizonNs, enforce, state: ArrayBuffer } | null
// The limit of a container as set by any macebpf process: maps are found by
// name among the kernel's maps (no pinning), so `macebpf stats` can report a
// limit that `macebpf limit` holds.
Napi::Value FindLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t netns = U32Arg(info, 0, "netns");
  struct mb_limit_cfg cfg = {};
  struct mb_limit_state st = {};
  bool have_cfg = false, have_state = false;
  __u32 id = 0;
  while (!(have_cfg && have_state) && bpf_map_get_next_id(id, &id) == 0) {
    int fd = bpf_map_get_fd_by_id(id);
    if (fd < 0) continue;
    struct bpf_map_info mi = {};
    __u32 len = sizeof(mi);
    if (bpf_obj_get_info_by_fd(fd, &mi, &len) == 0) {
      if (!have_cfg && strcmp(mi.name, "limit_cfg") == 0 && mi.value_size == sizeof(cfg)) {
        have_cfg = bpf_map_lookup_elem(fd, &netns, &cfg) == 0;
      } else if (!have_state && strcmp(mi.name, "limit_state") == 0 && mi.value_size == sizeof(st)) {
        have_state = bpf_map_lookup_elem_flags(fd, &netns, &st, BPF_F_LOCK) == 0;
      }
    }
    close(fd);
  }
  if (!have_cfg || !have_state) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("rate", Napi::Number::New(env, static_cast<double>(cfg.rate)));
  out.Set("horizonNs", Napi::Number::New(env, static_cast<double>(cfg.horizon_ns)));
  out.Set("enforce", Napi::Boolean::New(env, cfg.enforce != 0));
  auto ab = Napi::ArrayBuffer::New(env, sizeof(st));
  memcpy(ab.Data(), &st, sizeof(st));
  out.Set("state", ab);
  return out;
}

}  // namespace mb
