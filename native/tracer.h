// tracer.h - the JS class over the BPF skeleton (DESIGN §4):
// new Tracer(options) opens, loads and attaches; setOuter/trace/untrace fill
// the filter maps; counters(index) sums a container's per-CPU counters;
// onEvents(cb) starts the ring-buffer poller; drain() detaches the tracing
// programs and resolves once the last record reached JS (maps stay readable);
// limit/unlimit attach the EDT program to a container's device; close()
// detaches everything and frees the maps. features() lists the kernel
// features in use and the fallbacks taken (features.h, docs/kernels.md).
#pragma once
#include <napi.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "in_netns.h"
#include "poller.h"

struct macebpf;
struct mb_netns;
struct bpf_program;
struct bpf_link;

namespace mb {

class Tracer : public Napi::ObjectWrap<Tracer> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Tracer(const Napi::CallbackInfo& info);
  ~Tracer() override;

 private:
  Napi::Value SetOuter(const Napi::CallbackInfo& info);
  Napi::Value Trace(const Napi::CallbackInfo& info);
  Napi::Value Untrace(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value Drops(const Napi::CallbackInfo& info);  // drops.cc
  Napi::Value OnEvents(const Napi::CallbackInfo& info);
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  // The kernel's BPF run-time accounting (stats.cc)
  Napi::Value EnableStats(const Napi::CallbackInfo& info);
  Napi::Value ProgStats(const Napi::CallbackInfo& info);
  // EDT rate limits (limit.cc)
  Napi::Value Limit(const Napi::CallbackInfo& info);
  Napi::Value Unlimit(const Napi::CallbackInfo& info);
  Napi::Value LimitState(const Napi::CallbackInfo& info);
  Napi::Value EdtTestRun(const Napi::CallbackInfo& info);
  Napi::Value Features(const Napi::CallbackInfo& info);
  // Ingress device stages as tcx links (devices.cc)
  Napi::Value RefreshDevices(const Napi::CallbackInfo& info);
  // The synthetic record producer (synth.cc), loaded with { synth: true }
  Napi::Value Synth(const Napi::CallbackInfo& info);

  ::macebpf* Skel(Napi::Env env);
  void UpdateNetns(Napi::Env env, uint32_t netns, const std::function<void(struct mb_netns&)>& change);
  void RebuildFilters(Napi::Env env);
  void Destroy();

  ::macebpf* skel_ = nullptr;
  std::unique_ptr<Poller> poller_;
  // One limited device: a tcx link (an fd), or on kernels before 6.6 a
  // cls_bpf filter on a clsact qdisc, removed explicitly.
  struct LimitLink {
    int fd = -1;              // tcx link; -1 for cls_bpf
    std::string netns_path;   // cls_bpf: where to remove the filter
    unsigned int ifindex = 0;
    bool created_clsact = false;  // cls_bpf: the qdisc is ours to delete
  };
  void Detach(LimitLink& link);  // limit.cc
  std::map<uint32_t, LimitLink> limit_links_;  // netns inode -> attachment
  // A traced container's cgroup with the egress socket-stage program on it.
  struct CgroupLink {
    struct bpf_link* link = nullptr;
    uint64_t id = 0;  // cgroup id (the cgroup2 directory's inode)
  };
  void AttachCgroup(Napi::Env env, uint32_t netns, const std::string& cgroup);  // "": none
  void DetachCgroup(uint32_t netns);
  std::map<uint32_t, CgroupLink> cgroup_links_;  // netns inode -> attachment
  // mb_tc_rx on one device (devices.cc): a tcx link, and why it is there.
  static constexpr uint8_t kRoleContainer = 1, kRoleOuter = 2;
  struct DevLink {
    int fd = -1;
    uint8_t roles = 0;
  };
  // Attaches to ifindex in the netns at path (0: each of its non-loopback
  // devices, and a device that went loses the role); adds role. A link with
  // no role left is closed, here and in ReleaseRx.
  NetnsError AttachRx(uint32_t netns, const std::string& path, unsigned ifindex, uint8_t role);
  void ReleaseRx(uint32_t netns, uint8_t role, unsigned ifindex);  // ifindex 0: all of netns
  void ReleaseAllRx();
  std::map<std::pair<uint32_t, unsigned>, DevLink> dev_links_;  // (netns inode, ifindex)
  // A traced netns's devices get the stage, and again at each refresh.
  NetnsError TraceDevices(uint32_t netns, const std::string& path);
  void UntraceDevices(uint32_t netns);
  std::map<uint32_t, std::string> traced_netns_;  // netns inode -> nsfs path, to enter it
  bool tc_rx_ = false;  // ingress device stages as tcx links, else the netif_receive_skb tracepoint
  bool sockets_ = false;
  bpf_program* edt_prog_ = nullptr;             // mb_edt or mb_edt_pr
  bool tcx_ = false;
  std::vector<std::string> features_;
  int stats_fd_ = -1;                    // BPF_ENABLE_STATS: accounting on while open
};

// Module function (limit.cc): a container's limit as held by any macebpf process.
Napi::Value FindLimit(const Napi::CallbackInfo& info);
// Module function (stats.cc): whether the reader of fd went away (closed pipe, hung-up terminal).
Napi::Value OutputGone(const Napi::CallbackInfo& info);
// Module function (devices.cc): a device's ifindex in a netns, 0 if gone.
Napi::Value IfindexOf(const Napi::CallbackInfo& info);

}  // namespace mb
