#include "tracer.h"

#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <utility>
#include <vector>

#include "args.h"
#include "errors.h"
#include "features.h"
#include "macebpf.h"
#include "macebpf.skel.h"

namespace mb {

namespace {

// CLOCK_TAI − CLOCK_REALTIME in whole seconds (the kernel's TAI offset, 0
// unless NTP set one): BPF reads wall time only as TAI (lib/echo_stamp.h).
uint64_t TaiOffsetNs() {
  timespec tai{}, real{};
  clock_gettime(CLOCK_TAI, &tai);
  clock_gettime(CLOCK_REALTIME, &real);
  int64_t d = (tai.tv_sec - real.tv_sec) * 1000000000LL + (tai.tv_nsec - real.tv_nsec);
  return static_cast<uint64_t>((d + 500000000LL) / 1000000000LL * 1000000000LL);
}

}  // namespace

Napi::Function Tracer::Define(Napi::Env env) {
  return DefineClass(env, "Tracer",
                     {
                         InstanceMethod<&Tracer::SetOuter>("setOuter"),
                         InstanceMethod<&Tracer::Trace>("trace"),
                         InstanceMethod<&Tracer::Untrace>("untrace"),
                         InstanceMethod<&Tracer::Counters>("counters"),
                         InstanceMethod<&Tracer::Drops>("drops"),
                         InstanceMethod<&Tracer::OnEvents>("onEvents"),
                         InstanceMethod<&Tracer::Drain>("drain"),
                         InstanceMethod<&Tracer::Close>("close"),
                         InstanceMethod<&Tracer::EnableStats>("enableStats"),
                         InstanceMethod<&Tracer::ProgStats>("progStats"),
                         InstanceMethod<&Tracer::Limit>("limit"),
                         InstanceMethod<&Tracer::Unlimit>("unlimit"),
                         InstanceMethod<&Tracer::LimitState>("limitState"),
                         InstanceMethod<&Tracer::EdtTestRun>("edtTestRun"),
                         InstanceMethod<&Tracer::Features>("features"),
                         InstanceMethod<&Tracer::RefreshDevices>("refreshDevices"),
                         InstanceMethod<&Tracer::Synth>("synth"),
                     });
}

// options: { inflightEntries, maxAgeNs, wakeupRecords, ringBytes, sockets, tracing,
//            disable: ["kfunc" | "tcx"] (take the fallback on any kernel),
//            synth (load the benchmark's synthetic producer, synth.cc) }
Tracer::Tracer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tracer>(info) {
  Napi::Env env = info.Env();
  Napi::Object opts = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
  auto inflight = static_cast<uint32_t>(Option(opts, "inflightEntries", 65536, 64, 1 << 24));
  auto max_age = static_cast<uint64_t>(Option(opts, "maxAgeNs", 1e9, 1e3, 4e9));  // records hold u32 ns
  auto wakeup = static_cast<uint64_t>(Option(opts, "wakeupRecords", 64, 1, 65536));
  double ring_opt = Option(opts, "ringBytes", MB_RINGBUF_BYTES, MB_RINGBUF_MIN_BYTES, MB_RINGBUF_MAX_BYTES);
  auto ring = static_cast<uint32_t>(ring_opt);
  if (ring != ring_opt || (ring & (ring - 1))) {
    throw Napi::RangeError::New(env, "option 'ringBytes' must be a power of two (the kernel's ring buffer size), got " +
                                         NumberText(ring_opt));
  }
  bool sockets = !opts.Has("sockets") || opts.Get("sockets").ToBoolean();
  bool tracing = !opts.Has("tracing") || opts.Get("tracing").ToBoolean();
  if (!tracing) ring = MB_RINGBUF_MIN_BYTES;  // a limiter alone writes no records
  std::vector<std::string> disable;
  if (opts.Has("disable") && opts.Get("disable").IsArray()) {
    auto a = opts.Get("disable").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) disable.push_back(a.Get(i).ToString().Utf8Value());
  }
  KernelFeatures kernel;
  try {
    kernel = ProbeKernel(disable);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }

  skel_ = macebpf__open();
  if (!skel_) ThrowLibbpf(env, "macebpf__open", errno);
  skel_->rodata->max_age_ns = max_age;
  skel_->rodata->wakeup_bytes = wakeup * sizeof(struct mb_event);
  skel_->rodata->ring_bytes = ring;
  skel_->rodata->cg_egress_tcp = !kernel.tcp_sendmsg_tp;
  skel_->rodata->tai_offset_ns = TaiOffsetNs();
  for (auto [map, size] : {std::pair{skel_->maps.inflight_egress, inflight}, {skel_->maps.inflight_ingress, inflight},
                            {skel_->maps.traced_flows, inflight}, {skel_->maps.events, ring}}) {
    int err = bpf_map__set_max_entries(map, size);
    if (err) {
      Destroy();
      ThrowLibbpf(env, "bpf_map__set_max_entries", err);
    }
  }
  // The socket stage (docs/measurement.md) can be left out, and a limiter
  // needs no tracing programs at all.
  auto* p = &skel_->progs;
  sockets_ = tracing && sockets;
  std::vector<bpf_program*> unused;
  if (!sockets_) unused = {p->mb_tcp_send, p->mb_cg_egress, p->mb_udp_recv};
  if (sockets_ && !kernel.tcp_sendmsg_tp) unused.push_back(p->mb_tcp_send);
  if (sockets_ && !kernel.sock_recv_length_tp) unused.push_back(p->mb_udp_recv);
  skel_->rodata->udp_recv_stage = sockets_ && kernel.sock_recv_length_tp;
  if (!tracing) {
    unused.insert(unused.end(), {p->mb_dev_xmit, p->mb_dev_rx, p->mb_sock_recv, p->mb_dev_xmit_pr, p->mb_dev_rx_pr,
                                 p->mb_sock_recv_pr, p->mb_drop});
  }
  // Ingress device stages on the traced and outer devices only (devices.cc),
  // where tcx links and the cast kfunc exist; else on every device's
  // netif_receive_skb.
  tc_rx_ = tracing && kernel.tcx && kernel.kfunc_cast;
  if (tc_rx_) unused.insert(unused.end(), {p->mb_dev_rx, p->mb_dev_rx_pr});
  else unused.push_back(p->mb_tc_rx);
  // Each program that uses the 6.2 cast kfuncs has a probe-read twin (*_pr,
  // bpf/lib/cast.h); exactly one of each pair is loaded.
  if (kernel.kfunc_cast) {
    unused.insert(unused.end(), {p->mb_dev_xmit_pr, p->mb_dev_rx_pr, p->mb_sock_recv_pr, p->mb_edt_pr});
  } else {
    unused.insert(unused.end(), {p->mb_dev_xmit, p->mb_dev_rx, p->mb_sock_recv, p->mb_edt});
  }
  edt_prog_ = kernel.kfunc_cast ? p->mb_edt : p->mb_edt_pr;
  tcx_ = kernel.tcx;
  features_ = {kernel.kfunc_cast ? "cast:kfunc" : "cast:probe-read", kernel.tcx ? "limit-attach:tcx" : "limit-attach:clsact"};
  if (tracing) features_.push_back(tc_rx_ ? "device-ingress:tcx" : "device-ingress:netif_receive_skb");
  if (sockets_) {
    features_.push_back(kernel.tcp_sendmsg_tp ? "socket-egress-tcp:tcp_sendmsg_locked" : "socket-egress-tcp:cgroup_skb");
    features_.push_back("socket-egress-udp-icmp:cgroup_skb");
    features_.push_back(kernel.sock_recv_length_tp ? "socket-ingress-udp:sock_recv_length" : "socket-ingress-udp:none");
    features_.push_back("socket-ingress-tcp-icmp:skb_copy_datagram_iovec");
  }
  for (auto* prog : unused) {
    int err = bpf_program__set_autoload(prog, false);
    if (err) {
      Destroy();
      ThrowLibbpf(env, "bpf_program__set_autoload", err);
    }
  }
  if (opts.Has("synth") && opts.Get("synth").ToBoolean()) bpf_program__set_autoload(p->mb_synth, true);
  int err = macebpf__load(skel_);
  if (err) {
    Destroy();
    ThrowLibbpf(env, "macebpf__load", err);
  }
  err = macebpf__attach(skel_);
  if (err) {
    Destroy();
    ThrowLibbpf(env, "macebpf__attach", err);
  }
}

Tracer::~Tracer() { Destroy(); }

void Tracer::Destroy() {
  ReleaseAllRx();
  for (auto& [netns, link] : limit_links_) Detach(link);  // before the program goes
  limit_links_.clear();
  while (!cgroup_links_.empty()) DetachCgroup(cgroup_links_.begin()->first);
  if (stats_fd_ >= 0) close(stats_fd_);
  stats_fd_ = -1;
  if (poller_) {
    poller_->Stop();
    poller_.reset();
  }
  if (skel_) {
    macebpf__destroy(skel_);  // detaches every link and closes the maps
    skel_ = nullptr;
  }
}

::macebpf* Tracer::Skel(Napi::Env env) {
  if (!skel_) throw Napi::Error::New(env, "tracer is closed: create a new Tracer");
  return skel_;
}

// Read-modify-write of a netns_info entry (only this thread writes them).
void Tracer::UpdateNetns(Napi::Env env, uint32_t netns, const std::function<void(struct mb_netns&)>& change) {
  auto* s = Skel(env);
  struct mb_netns ns = {};
  int err = bpf_map__lookup_elem(s->maps.netns_info, &netns, sizeof(netns), &ns, sizeof(ns), 0);
  if (err && err != -ENOENT) ThrowLibbpf(env, "bpf_map__lookup_elem(netns_info)", err);
  change(ns);
  bool empty = !ns.container;
  for (auto ifindex : ns.outer) empty = empty && !ifindex;
  if (empty) {
    err = bpf_map__delete_elem(s->maps.netns_info, &netns, sizeof(netns), 0);
    if (err && err != -ENOENT) ThrowLibbpf(env, "bpf_map__delete_elem(netns_info)", err);
  } else {
    err = bpf_map__update_elem(s->maps.netns_info, &netns, sizeof(netns), &ns, sizeof(ns), BPF_ANY);
    if (err) ThrowLibbpf(env, "bpf_map__update_elem(netns_info)", err);
  }
  RebuildFilters(env);
}

// The hooks' first checks (macebpf.h): recomputed from netns_info after it
// changed, so a bit is set while its entry exists (a bit set for a removed
// entry only sends a packet on to a lookup that misses).
void Tracer::RebuildFilters(Napi::Env env) {
  auto* s = Skel(env);
  __u32 traced[MB_FILTER_WORDS] = {};
  __u32 outer[MB_FILTER_WORDS] = {};
  auto set = [](__u32* bits, __u32 bit) { bits[bit >> 5] |= 1u << (bit & 31); };
  uint32_t key = 0;
  bool first = true;
  for (;;) {
    uint32_t next;
    int err = bpf_map__get_next_key(s->maps.netns_info, first ? nullptr : &key, &next, sizeof(next));
    if (err == -ENOENT) break;
    if (err) ThrowLibbpf(env, "bpf_map__get_next_key(netns_info)", err);
    first = false;
    key = next;
    struct mb_netns ns = {};
    if (bpf_map__lookup_elem(s->maps.netns_info, &key, sizeof(key), &ns, sizeof(ns), 0)) continue;  // removed meanwhile
    if (ns.container) set(traced, mb_filter_bit(key));
    for (auto ifindex : ns.outer) {
      if (ifindex) set(outer, mb_outer_filter_bit(key, ifindex));
    }
  }
  for (int i = 0; i < MB_FILTER_WORDS; i++) {
    s->bss->mb_traced_bits[i] = traced[i];
    s->bss->mb_outer_bits[i] = outer[i];
  }
}

Napi::Value Tracer::SetOuter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t netns = U32Arg(info, 0, "netns");
  uint32_t ifindex = U32Arg(info, 1, "ifindex");
  std::string path = StringArg(info, 2, "netnsPath");
  if (!ifindex) throw Napi::RangeError::New(env, "ifindex 0 is no device");
  Skel(env);
  if (tc_rx_) {
    NetnsError r = AttachRx(netns, path, ifindex, kRoleOuter);
    if (r.err) ThrowLibbpf(env, r.call, r.err);
  }
  try {
    UpdateNetns(env, netns, [&](struct mb_netns& ns) {
      for (auto& slot : ns.outer) {
        if (slot == ifindex) return;
      }
      for (auto& slot : ns.outer) {
        if (!slot) {
          slot = ifindex;
          return;
        }
      }
      throw Napi::RangeError::New(env, "netns " + std::to_string(netns) + " already has " +
                                           std::to_string(MB_MAX_OUTER) + " outer devices: at most that many per netns");
    });
  } catch (...) {
    ReleaseRx(netns, kRoleOuter, ifindex);
    throw;
  }
  return env.Undefined();
}

// trace(netns, index, netnsPath[, cgroupPath]): the netns's devices get the
// ingress device stage where it is a tcx link (devices.cc); the cgroup, where
// the container has one, the egress socket-stage program (cgroup_skb/egress).
Napi::Value Tracer::Trace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Skel(env);
  uint32_t netns = U32Arg(info, 0, "netns");
  uint32_t index = U32Arg(info, 1, "index");
  if (index == 0 || index >= MB_MAX_CONTAINERS) {
    throw Napi::RangeError::New(env, "container index " + std::to_string(index) + " is out of range 1.." +
                                         std::to_string(MB_MAX_CONTAINERS - 1));
  }
  std::string path = StringArg(info, 2, "netnsPath");
  std::string cgroup = info.Length() > 3 && info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
  if (tc_rx_) {
    NetnsError r = TraceDevices(netns, path);
    if (r.err) ThrowLibbpf(env, r.call, r.err);
  }
  try {
    AttachCgroup(env, netns, cgroup);
  } catch (...) {
    UntraceDevices(netns);
    throw;
  }
  UpdateNetns(env, netns, [&](struct mb_netns& ns) { ns.container = static_cast<__u16>(index); });
  return env.Undefined();
}

void Tracer::AttachCgroup(Napi::Env env, uint32_t netns, const std::string& cgroup) {
  auto* s = Skel(env);
  if (sockets_ && !cgroup.empty() && !cgroup_links_.count(netns)) {
    int fd = open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) ThrowLibbpf(env, "open(cgroup " + cgroup + ")", -errno);
    struct stat st;
    if (fstat(fd, &st)) {
      int err = -errno;
      close(fd);
      ThrowLibbpf(env, "fstat(cgroup " + cgroup + ")", err);
    }
    for (const auto& [other, l] : cgroup_links_) {
      if (l.id == st.st_ino) {
        close(fd);
        throw Napi::Error::New(env, "cgroup " + cgroup + " already belongs to traced netns " + std::to_string(other) +
                                        ": one cgroup per container");
      }
    }
    struct bpf_link* link = bpf_program__attach_cgroup(s->progs.mb_cg_egress, fd);
    int err = link ? 0 : -errno;
    close(fd);
    if (!link) ThrowLibbpf(env, "bpf_program__attach_cgroup(" + cgroup + ")", err);
    CgroupLink cl{link, static_cast<uint64_t>(st.st_ino)};
    err = bpf_map__update_elem(s->maps.cgroup_netns, &cl.id, sizeof(cl.id), &netns, sizeof(netns), BPF_ANY);
    if (err) {
      bpf_link__destroy(link);
      ThrowLibbpf(env, "bpf_map__update_elem(cgroup_netns)", err);
    }
    cgroup_links_[netns] = cl;
  }
}

void Tracer::DetachCgroup(uint32_t netns) {
  auto it = cgroup_links_.find(netns);
  if (it == cgroup_links_.end()) return;
  if (skel_) bpf_map__delete_elem(skel_->maps.cgroup_netns, &it->second.id, sizeof(it->second.id), 0);
  bpf_link__destroy(it->second.link);
  cgroup_links_.erase(it);
}

Napi::Value Tracer::Untrace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t netns = U32Arg(info, 0, "netns");
  UpdateNetns(env, netns, [](struct mb_netns& ns) { ns.container = 0; });
  DetachCgroup(netns);
  UntraceDevices(netns);
  return env.Undefined();
}

// Returns one struct mb_counters, summed over CPUs, as an ArrayBuffer.
Napi::Value Tracer::Counters(const Napi::CallbackInfo& info) {
  auto* s = Skel(info.Env());
  uint32_t index = U32Arg(info, 0, "index");
  if (index >= MB_MAX_CONTAINERS) {
    throw Napi::RangeError::New(info.Env(), "container index " + std::to_string(index) + " is out of range");
  }
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu < 0) ThrowLibbpf(info.Env(), "libbpf_num_possible_cpus", ncpu);
  std::vector<struct mb_counters> percpu(ncpu);
  int err = bpf_map__lookup_elem(s->maps.counters, &index, sizeof(index), percpu.data(),
                                 percpu.size() * sizeof(struct mb_counters), 0);
  if (err) ThrowLibbpf(info.Env(), "bpf_map__lookup_elem(counters)", err);
  auto ab = Napi::ArrayBuffer::New(info.Env(), sizeof(struct mb_counters));
  auto* sum = static_cast<__u64*>(ab.Data());
  constexpr size_t n = sizeof(struct mb_counters) / sizeof(__u64);
  for (size_t i = 0; i < n; i++) sum[i] = 0;
  for (const auto& c : percpu) {
    const auto* v = reinterpret_cast<const __u64*>(&c);
    for (size_t i = 0; i < n; i++) sum[i] += v[i];
  }
  return ab;
}

Napi::Value Tracer::OnEvents(const Napi::CallbackInfo& info) {
  auto* s = Skel(info.Env());
  if (info.Length() < 1 || !info[0].IsFunction()) {
    throw Napi::TypeError::New(info.Env(), "onEvents(callback): callback must be a function");
  }
  if (poller_) throw Napi::Error::New(info.Env(), "onEvents was already called on this tracer");
  poller_ = std::make_unique<Poller>(info.Env(), bpf_map__fd(s->maps.events), bpf_map__max_entries(s->maps.events),
                                     info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value Tracer::Drain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (skel_) macebpf__detach(skel_);  // no new records; limits and maps stay
  while (!cgroup_links_.empty()) DetachCgroup(cgroup_links_.begin()->first);
  ReleaseAllRx();
  if (!poller_) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  poller_->Stop();
  return poller_->Drained(env);
}

Napi::Value Tracer::Features(const Napi::CallbackInfo& info) {
  auto a = Napi::Array::New(info.Env(), features_.size());
  for (size_t i = 0; i < features_.size(); i++) a.Set(i, features_[i]);
  return a;
}

Napi::Value Tracer::Close(const Napi::CallbackInfo& info) {
  Destroy();
  return info.Env().Undefined();
}

}  // namespace mb
