// addon.cc - module entry: the Tracer class, the shared struct layout (so a
// test can hold the TypeScript decoder to it) and a paired clock reading.
#include <napi.h>
#include <linux/bpf.h>
#include <linux/types.h>

#include <cstddef>
#include <ctime>

#include "errors.h"
#include "macebpf.h"
#include "tracer.h"

namespace {

Napi::Object Offsets(Napi::Env env, std::initializer_list<std::pair<const char*, size_t>> fields) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& f : fields) o.Set(f.first, Napi::Number::New(env, f.second));
  return o;
}

Napi::Object Layout(Napi::Env env) {
  Napi::Object l = Napi::Object::New(env);
  l.Set("eventSize", Napi::Number::New(env, sizeof(struct mb_event)));
  l.Set("event", Offsets(env, {{"ts_ns", offsetof(mb_event, ts_ns)},
                               {"netns", offsetof(mb_event, netns)},
                               {"total_ns", offsetof(mb_event, total_ns)},
                               {"stack_ns", offsetof(mb_event, stack_ns)},
                               {"virt_ns", offsetof(mb_event, virt_ns)},
                               {"packet_id", offsetof(mb_event, packet_id)},
                               {"container", offsetof(mb_event, container)},
                               {"dir", offsetof(mb_event, dir)},
                               {"proto", offsetof(mb_event, proto)},
                               {"family", offsetof(mb_event, family)},
                               {"stages", offsetof(mb_event, stages)}}));
  l.Set("countersSize", Napi::Number::New(env, sizeof(struct mb_counters)));
  l.Set("dirCountersSize", Napi::Number::New(env, sizeof(struct mb_dir_counters)));
  l.Set("dirCounters", Offsets(env, {{"packets", offsetof(mb_dir_counters, packets)},
                                     {"bytes", offsetof(mb_dir_counters, bytes)},
                                     {"created", offsetof(mb_dir_counters, created)},
                                     {"events", offsetof(mb_dir_counters, events)},
                                     {"unmatched", offsetof(mb_dir_counters, unmatched)},
                                     {"stale", offsetof(mb_dir_counters, stale)},
                                     {"lost", offsetof(mb_dir_counters, lost)},
                                     {"collisions", offsetof(mb_dir_counters, collisions)}}));
  l.Set("limitStateSize", Napi::Number::New(env, sizeof(struct mb_limit_state)));
  l.Set("limitState", Offsets(env, {{"t_last", offsetof(mb_limit_state, t_last)},
                                    {"packets", offsetof(mb_limit_state, packets)},
                                    {"bytes", offsetof(mb_limit_state, bytes)},
                                    {"delayed", offsetof(mb_limit_state, delayed)},
                                    {"delay_ns", offsetof(mb_limit_state, delay_ns)},
                                    {"drops", offsetof(mb_limit_state, drops)},
                                    {"drop_bytes", offsetof(mb_limit_state, drop_bytes)}}));
  l.Set("maxContainers", Napi::Number::New(env, MB_MAX_CONTAINERS));
  l.Set("absent", Napi::Number::New(env, MB_ABSENT));
  l.Set("sFromSender", Napi::Number::New(env, MB_S_FROM_SENDER));
  l.Set("rxTstamp", Napi::Number::New(env, MB_RX_TSTAMP));
  return l;
}

// [CLOCK_REALTIME ns, CLOCK_MONOTONIC ns] read back to back: maps record
// timestamps (bpf_ktime_get_ns is CLOCK_MONOTONIC) to wall time.
Napi::Value ClockPair(const Napi::CallbackInfo& info) {
  timespec rt{}, mono{};
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  auto ns = [](const timespec& t) { return static_cast<uint64_t>(t.tv_sec * 1000000000ll + t.tv_nsec); };
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, Napi::BigInt::New(info.Env(), ns(rt)));
  a.Set(1u, Napi::BigInt::New(info.Env(), ns(mono)));
  return a;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  mb::CaptureLibbpfLog();
  exports.Set("Tracer", mb::Tracer::Define(env));
  exports.Set("layout", Layout(env));
  exports.Set("clockPair", Napi::Function::New(env, ClockPair));
  exports.Set("findLimit", Napi::Function::New(env, mb::FindLimit));
  exports.Set("outputGone", Napi::Function::New(env, mb::OutputGone));
  exports.Set("ifindexOf", Napi::Function::New(env, mb::IfindexOf));
  return exports;
}

}  // namespace

NODE_API_MODULE(macebpf, Init)
