#include "poller.h"

#include <bpf/libbpf.h>
#include <pthread.h>
#include <sys/epoll.h>

#include <thread>

#include "errors.h"

namespace mb {
namespace {
constexpr int kPollMs = 50;             // records wait at most this long when traffic is light
constexpr size_t kMaxBatch = 256 << 10;  // hand over early when a batch grows this big
// Each batch costs a wake-up of the JS thread and a callback (tens of µs in a
// VM): under load, gather records for this long so the cost spreads over
// hundreds of records, not the 64 of one BPF wake-up. Adds at most this much
// delay, and only when records arrive faster than 64 per kMinGapMs.
constexpr auto kMinGap = std::chrono::milliseconds(10);
// Batches waiting for JS before the poller stops taking records from the ring.
constexpr int kMaxQueued = 4;
}  // namespace

Poller::Poller(Napi::Env env, int ring_fd, Napi::Function callback) {
  rb_ = ring_buffer__new(ring_fd, OnRecord, this, nullptr);
  if (!rb_) ThrowLibbpf(env, "ring_buffer__new", errno);
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
  last_flush_ = std::chrono::steady_clock::now();
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
  batch_.reserve(kMaxBatch);
  napi_status st = tsfn_.BlockingCall(out, [q](Napi::Env env, Napi::Function cb, std::vector<uint8_t>* v) {
    auto ab = Napi::ArrayBuffer::New(env, v->size());
    memcpy(ab.Data(), v->data(), v->size());
    delete v;
    {
      std::lock_guard<std::mutex> l(q->m);
      q->queued--;
    }
    q->cv.notify_one();
    cb.Call({ab});
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
    auto since = std::chrono::steady_clock::now() - last_flush_;
    if (since < kMinGap && !stop_) std::this_thread::sleep_for(kMinGap - since);
    ring_buffer__consume(rb_);
    Flush();
  }
  ring_buffer__consume(rb_);
  Flush();
}

}  // namespace mb
