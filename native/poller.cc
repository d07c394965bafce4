#include "poller.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <thread>

#include "errors.h"

namespace mb {
namespace {
// Hand over early when a batch grows this big (6,553 records): the batch and
// its decoded columns then stay within a core's L2 cache while JS files
// them (1 MiB batches cost ~30% more per record, measured).
constexpr size_t kMaxBatch = 256 << 10;
// The batch period: records wait at most this long when traffic is light.
// Each batch costs the JS thread a wake-up, a callback and a cache-cold start
// (about 0.2 ms in a VM, measured with the synthetic producer): under load,
// gather records for this long so that cost spreads over thousands of records
// rather than the 64 of one BPF wake-up. Records then reach JS within 50 ms
// in a quiet period, 100 ms under load (see Run). Meanwhile the poller sleeps
// until the BPF side wakes it at a quarter-full ring
// (bpf/lib/ringbuf_wakeup.h), so it drains before a burst fills the ring and
// is not woken otherwise.
constexpr auto kBatchPeriod = std::chrono::milliseconds(50);
// Batches waiting for JS before the poller stops taking records from the ring
// (12 MiB at most, allocated only while JS is behind; kSpare of them are kept
// for reuse). With the ring's 4 MiB they hold ~2 s of records at the lab's
// highest rate and ~80 ms at 4.9 M records/s: the spells in which a shared
// CPU slows the JS thread (docs/measurement.md). A larger ring would hold as
// much but is written through whole at every rate, and cost Node more.
constexpr int kMaxQueued = 48;
constexpr size_t kSpare = 4;
}  // namespace

Poller::Poller(Napi::Env env, int ring_fd, size_t ring_bytes, Napi::Function callback) : quarter_(ring_bytes / 4) {
  rb_ = ring_buffer__new(ring_fd, OnRecord, this, nullptr);
  if (!rb_) ThrowLibbpf(env, "ring_buffer__new", errno);
  // The ring's consumer and producer positions, read-only (libbpf 1.1 has
  // no accessor): how much waits unread when a wake-up comes.
  page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* pos = mmap(nullptr, 2 * page_, PROT_READ, MAP_SHARED, ring_fd, 0);
  if (pos == MAP_FAILED) {
    int err = errno;
    ring_buffer__free(rb_);
    rb_ = nullptr;
    ThrowLibbpf(env, "mmap of the ring buffer's positions", err);
  }
  positions_ = static_cast<uint8_t*>(pos);
  // libbpf registers the ring level-triggered: epoll then reports it readable
  // whenever any record waits, and under steady traffic the poller never
  // sleeps, handing JS a batch every few records. Edge-triggered, it wakes
  // only on the BPF side's forced wake-ups (bpf/lib/ringbuf_wakeup.h); Run
  // drains at the end of each batch period. data.fd is libbpf's ring index.
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
  if (positions_) {
    munmap(positions_, 2 * page_);
    positions_ = nullptr;
  }
}

size_t Poller::Unread() const {
  auto consumer = __atomic_load_n(reinterpret_cast<const uint64_t*>(positions_), __ATOMIC_ACQUIRE);
  auto producer = __atomic_load_n(reinterpret_cast<const uint64_t*>(positions_ + page_), __ATOMIC_ACQUIRE);
  return static_cast<size_t>(producer - consumer);
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
        if (q->spare.size() < kSpare) q->spare.push_back(std::move(*v));
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
  int efd = ring_buffer__epoll_fd(rb_);
  while (!stop_) {
    // Sleep until the batch period ends. A wake-up meanwhile is either a
    // batch's first crossing (keep gathering: nothing is consumed, so it does
    // not come again this period) or a quarter mark (drain the ring now).
    auto left = std::chrono::ceil<std::chrono::milliseconds>(kBatchPeriod - (std::chrono::steady_clock::now() - last_flush_));
    if (left.count() > 0) {
      struct epoll_event ev;
      if (epoll_wait(efd, &ev, 1, static_cast<int>(left.count())) <= 0 || Unread() < quarter_) continue;
    }
    ring_buffer__consume(rb_);  // OnRecord hands over early at kMaxBatch
    // A full batch handed over by this consume starts the next period, and
    // what came after it waits for that period's end: a remainder of a few
    // records is not worth a batch of its own.
    if (std::chrono::steady_clock::now() - last_flush_ >= kBatchPeriod) Flush();
  }
  ring_buffer__consume(rb_);
  Flush();
}

}  // namespace mb
