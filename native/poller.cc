#include "poller.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <pthread.h>
#include <sys/epoll.h>

#include <algorithm>
#include <thread>

#include <linux/types.h>

#include "errors.h"
#include "macebpf.h"

namespace mb {
namespace {
constexpr int kPollMs = 50;             // records wait at most this long when traffic is light
// Hand over early when a batch grows this big (6,553 records): the batch and
// its decoded columns then stay within a core's L2 cache while JS files
// them (1 MiB batches cost ~30% more per record, measured).
constexpr size_t kMaxBatch = 256 << 10;
// Each batch costs the JS thread a wake-up, a callback and a cache-cold start
// (about 0.2 ms in a VM, measured with the synthetic producer): under load,
// gather records for this long so that cost spreads over thousands of records
// rather than the 64 of one BPF wake-up. Records then reach JS within the
// same 50 ms as in a quiet period.
constexpr auto kMinGap = std::chrono::milliseconds(kPollMs);
// Meanwhile the ring must not fill: it is drained again whenever, at the rate
// of the last batch, it could be a quarter full, and at least every 10 ms (a
// sudden burst then fills the 4 MiB ring only above ~8.7 M records/s).
constexpr auto kMinDrainStep = std::chrono::milliseconds(1);
constexpr auto kMaxDrainStep = std::chrono::milliseconds(10);
// Batches waiting for JS before the poller stops taking records from the ring.
constexpr int kMaxQueued = 4;
}  // namespace

Poller::Poller(Napi::Env env, int ring_fd, Napi::Function callback) {
  rb_ = ring_buffer__new(ring_fd, OnRecord, this, nullptr);
  if (!rb_) ThrowLibbpf(env, "ring_buffer__new", errno);
  struct bpf_map_info info = {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(ring_fd, &info, &len) == 0) ring_bytes_ = info.max_entries;
  // libbpf registers the ring level-triggered: epoll then reports it readable
  // whenever any record waits, and under steady traffic the poller never
  // sleeps, handing JS a batch every few records. Edge-triggered, it wakes
  // only on the BPF side's forced wake-ups (one per batch of records, see
  // trace.bpf.c) or at the poll timeout. data.fd is libbpf's ring index.
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = 0;
  if (epoll_ctl(ring_buffer__epoll_fd(rb_), EPOLL_CTL_MOD, ring_fd, &ev) < 0) {
    int err = errno;
    ring_buffer__free(rb_);
    rb_ = nullptr;
    ThrowLibbpf(env, "epoll_ctl(EPOLL_CTL_MOD, EPOLLET)", err);
  }
  // The finalizer runs on the JS thread after the queue of batches is empty.
  auto delivery = delivery_;
  tsfn_ = Napi::ThreadSafeFunction::New(env, callback, "macebpf-events", 0, 1, [delivery](Napi::Env e) {
    delivery->done = true;
    for (auto& d : delivery->waiting) d.Resolve(e.Undefined());
    delivery->waiting.clear();
  });
  batch_.reserve(kMaxBatch);
  thread_ = std::thread([this] { Run(); });
}

Poller::~Poller() { Stop(); }

void Poller::Stop() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> l(queue_->m);
      queue_->stop = true;  // a Flush() waiting for JS hands over at once
    }
    queue_->cv.notify_all();
    stop_ = true;
    thread_.join();
    tsfn_.Release();
  }
  if (rb_) {
    ring_buffer__free(rb_);
    rb_ = nullptr;
  }
}

Napi::Promise Poller::Drained(Napi::Env env) {
  auto d = Napi::Promise::Deferred::New(env);
  if (delivery_->done) d.Resolve(env.Undefined());
  else delivery_->waiting.push_back(d);
  return d.Promise();
}

int Poller::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<Poller*>(ctx);
  auto* bytes = static_cast<uint8_t*>(data);
  self->batch_.insert(self->batch_.end(), bytes, bytes + size);
  if (self->batch_.size() >= kMaxBatch) self->Flush();
  return 0;
}

void Poller::Flush() {
  auto now = std::chrono::steady_clock::now();
  double s = std::chrono::duration<double>(now - last_flush_).count();
  rate_bytes_ = s > 0 ? static_cast<double>(batch_.size()) / s : 0;
  last_flush_ = now;
  if (batch_.empty()) return;
  auto q = queue_;
  {
    // Backpressure: while JS is kMaxQueued batches behind, wait (the ring
    // buffer holds, then counts as lost, what comes meanwhile).
    std::unique_lock<std::mutex> l(q->m);
    q->cv.wait(l, [&] { return q->queued < kMaxQueued || q->stop; });
    q->queued++;
  }
  auto* out = new std::vector<uint8_t>(std::move(batch_));
  batch_ = std::vector<uint8_t>();
  {
    std::lock_guard<std::mutex> l(q->m);
    if (!q->spare.empty()) {
      batch_ = std::move(q->spare.back());
      q->spare.pop_back();
    }
  }
  batch_.reserve(kMaxBatch);
  napi_status st = tsfn_.BlockingCall(out, [q](Napi::Env env, Napi::Function cb, std::vector<uint8_t>* v) {
    // JS sees the batch in place, no copy: an external ArrayBuffer over our
    // buffer, valid during the callback (which decodes it into columns of its
    // own), detached after it, when the buffer goes back to the pool.
    auto ab = Napi::ArrayBuffer::New(env, v->data(), v->size());
    auto recycle = [&] {
      ab.Detach();
      v->clear();  // keeps its capacity
      {
        std::lock_guard<std::mutex> l(q->m);
        q->queued--;
        if (q->spare.size() < static_cast<size_t>(kMaxQueued)) q->spare.push_back(std::move(*v));
      }
      delete v;
      q->cv.notify_one();
    };
    try {
      cb.Call({ab});
    } catch (...) {
      recycle();
      throw;
    }
    recycle();
  });
  if (st != napi_ok) {
    delete out;
    std::lock_guard<std::mutex> l(q->m);
    q->queued--;
  }
}

void Poller::Run() {
  pthread_setname_np(pthread_self(), "mb-poller");  // benchmarks account its CPU by name
  while (!stop_) {
    // The BPF side wakes us only once a batch is waiting; the timeout plus an
    // explicit consume picks up what a quiet period left behind.
    ring_buffer__poll(rb_, kPollMs);
    // Ring bytes per batch byte: records carry an 8-byte header in the ring.
    double quarter_s = rate_bytes_ > 0 ? ring_bytes_ / 4.0 / (rate_bytes_ * (sizeof(mb_event) + 8) / sizeof(mb_event)) : 1.0;
    auto step = std::clamp<std::chrono::steady_clock::duration>(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(quarter_s)), kMinDrainStep,
        kMaxDrainStep);
    for (;;) {
      auto left = kMinGap - (std::chrono::steady_clock::now() - last_flush_);
      if (left <= std::chrono::steady_clock::duration::zero() || stop_) break;
      std::this_thread::sleep_for(std::min(left, step));
      ring_buffer__consume(rb_);  // OnRecord hands over early at kMaxBatch
    }
    ring_buffer__consume(rb_);
    Flush();
  }
  ring_buffer__consume(rb_);
  Flush();
}

}  // namespace mb
