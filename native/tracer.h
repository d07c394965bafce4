// tracer.h - the JS class over the BPF skeleton (DESIGN §4):
// new Tracer(options) opens, loads and attaches; setOuter/trace/untrace fill
// the filter maps; counters(index) sums a container's per-CPU counters;
// onEvents(cb) starts the ring-buffer poller; limit/unlimit attach the EDT
// program to a container's device; close() detaches everything.
#pragma once
#include <napi.h>

#include <functional>
#include <map>
#include <memory>

#include "poller.h"

struct macebpf;
struct mb_netns;

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
  Napi::Value Close(const Napi::CallbackInfo& info);
  // EDT rate limits (limit.cc)
  Napi::Value Limit(const Napi::CallbackInfo& info);
  Napi::Value Unlimit(const Napi::CallbackInfo& info);
  Napi::Value LimitState(const Napi::CallbackInfo& info);
  Napi::Value EdtTestRun(const Napi::CallbackInfo& info);

  ::macebpf* Skel(Napi::Env env);
  void UpdateNetns(Napi::Env env, uint32_t netns, const std::function<void(struct mb_netns&)>& change);
  void Destroy();

  ::macebpf* skel_ = nullptr;
  std::unique_ptr<Poller> poller_;
  std::map<uint32_t, int> limit_links_;  // netns inode -> tcx link fd
};

// Module function (limit.cc): a container's limit as held by any macebpf process.
Napi::Value FindLimit(const Napi::CallbackInfo& info);

}  // namespace mb
