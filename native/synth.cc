// synth.cc - drives the synthetic record producer (bpf/synth.bpf.c) for the
// pipeline benchmark and its test: BPF_PROG_TEST_RUN of mb_synth, back to
// back or paced to a rate, on a thread of its own (the libuv pool) so the JS
// thread stays free to consume what it produces. Reports what it attempted,
// what the kernel took and lost, and its own thread's CPU time, which the
// benchmark subtracts from the process's to get Node's share.
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>

#include "args.h"
#include "errors.h"
#include "macebpf.h"
#include "macebpf.skel.h"
#include "synth.h"
#include "tracer.h"

namespace mb {
namespace {

uint64_t ClockNs(clockid_t id) {
  timespec t{};
  clock_gettime(id, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000ull + static_cast<uint64_t>(t.tv_nsec);
}

struct SynthPlan {
  uint64_t records;    // reservations to attempt in all
  double duration_ns;  // or stop after this long (0 = no limit)
  double rate;         // records per second; 0 = as fast as possible
  uint32_t per_run;    // records per test run
  uint32_t container;
  uint32_t netns;
  uint32_t seq;        // packet_id of the first record
};

struct SynthOutcome {
  uint64_t attempts = 0, produced = 0, lost = 0, runs = 0, cpu_ns = 0, wall_ns = 0;
};

class SynthWorker : public Napi::AsyncWorker {
 public:
  SynthWorker(Napi::Env env, int fd, const SynthPlan& plan)
      : Napi::AsyncWorker(env, "macebpf-synth"), fd_(fd), plan_(plan), deferred_(Napi::Promise::Deferred::New(env)) {}
  ~SynthWorker() override { close(fd_); }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    uint64_t cpu0 = ClockNs(CLOCK_THREAD_CPUTIME_ID), t0 = ClockNs(CLOCK_MONOTONIC);
    while (out_.attempts < plan_.records) {
      if (plan_.duration_ns > 0 && static_cast<double>(ClockNs(CLOCK_MONOTONIC) - t0) >= plan_.duration_ns) break;
      if (plan_.rate > 0) {
        // Paced: never ahead of rate x elapsed (sleeps are short, so the
        // ring sees an even flow rather than one burst per second).
        double due_ns = static_cast<double>(out_.attempts) / plan_.rate * 1e9;
        double now_ns = static_cast<double>(ClockNs(CLOCK_MONOTONIC) - t0);
        if (due_ns > now_ns) std::this_thread::sleep_for(std::chrono::nanoseconds(static_cast<int64_t>(due_ns - now_ns)));
      }
      uint64_t left = plan_.records - out_.attempts;
      struct mb_synth_args a = {};
      a.count = static_cast<__u32>(left < plan_.per_run ? left : plan_.per_run);
      a.seq = static_cast<__u32>(plan_.seq + out_.attempts);
      a.netns = plan_.netns;
      a.container = static_cast<__u16>(plan_.container);
      LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &a, .ctx_size_in = sizeof(a));
      int err = bpf_prog_test_run_opts(fd_, &opts);
      if (err || opts.retval != 0) {
        error_ = err ? "bpf_prog_test_run_opts(mb_synth) failed: " + std::string(strerror(-err)) + " (errno " + std::to_string(-err) + ")"
                     : "mb_synth refused its arguments (retval " + std::to_string(static_cast<int>(opts.retval)) + ")";
        break;
      }
      out_.attempts += a.count;
      out_.produced += a.produced;
      out_.lost += a.lost;
      out_.runs++;
    }
    out_.cpu_ns = ClockNs(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    out_.wall_ns = ClockNs(CLOCK_MONOTONIC) - t0;
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (!error_.empty()) {
      deferred_.Reject(Napi::Error::New(env, error_).Value());
      return;
    }
    auto o = Napi::Object::New(env);
    auto num = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
    num("attempts", out_.attempts);
    num("produced", out_.produced);
    num("lost", out_.lost);
    num("runs", out_.runs);
    num("cpuNs", out_.cpu_ns);
    num("wallNs", out_.wall_ns);
    deferred_.Resolve(o);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  int fd_;
  SynthPlan plan_;
  Napi::Promise::Deferred deferred_;
  SynthOutcome out_;
  std::string error_;
};

}  // namespace

// synth({ records?, durationMs?, rate?, perRun?, container, netns?, seq? }) -> Promise<{
//   attempts, produced, lost, runs, cpuNs, wallNs }>; needs a tracer opened
// with { synth: true }.
Napi::Value Tracer::Synth(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* s = Skel(env);
  int prog_fd = bpf_program__fd(s->progs.mb_synth);
  if (prog_fd < 0) throw Napi::Error::New(env, "synth(): the synthetic producer is not loaded; open the tracer with { synth: true }");
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "synth(options): options must be an object");
  auto opts = info[0].As<Napi::Object>();
  SynthPlan plan;
  plan.records = static_cast<uint64_t>(Option(opts, "records", 1e12, 1, 1e12));
  plan.duration_ns = Option(opts, "durationMs", 0, 0, 3.6e6) * 1e6;
  plan.rate = Option(opts, "rate", 0, 0, 1e9);
  plan.per_run = static_cast<uint32_t>(Option(opts, "perRun", 4096, 1, MB_SYNTH_MAX_RUN));
  plan.container = static_cast<uint32_t>(Option(opts, "container", 0, 0, MB_MAX_CONTAINERS - 1));
  if (!plan.container) throw Napi::RangeError::New(env, "synth(): option 'container' must be a container index from 1");
  plan.netns = static_cast<uint32_t>(Option(opts, "netns", 0, 0, 4294967295.0));
  plan.seq = static_cast<uint32_t>(Option(opts, "seq", 0, 0, 4294967295.0));
  // Our own descriptor: close() of the tracer while a run is under way then
  // fails nothing but the run's remaining loads against a freed program.
  int fd = dup(prog_fd);
  if (fd < 0) ThrowLibbpf(env, "dup(mb_synth)", errno);
  auto* w = new SynthWorker(env, fd, plan);
  auto promise = w->Promise();
  w->Queue();
  return promise;
}

}  // namespace mb
