#include "poller.h"

#include <bpf/libbpf.h>
#include <sys/epoll.h>

#include "errors.h"

namespace mb {
namespace {
constexpr int kPollMs = 50;             // records wait at most this long when traffic is light
constexpr size_t kMaxBatch = 256 << 10;  // hand over early when a batch grows this big
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
  if (batch_.empty()) return;
  auto* out = new std::vector<uint8_t>(std::move(batch_));
  batch_ = std::vector<uint8_t>();
  batch_.reserve(kMaxBatch);
  napi_status st = tsfn_.BlockingCall(out, [](Napi::Env env, Napi::Function cb, std::vector<uint8_t>* v) {
    auto ab = Napi::ArrayBuffer::New(env, v->size());
    memcpy(ab.Data(), v->data(), v->size());
    delete v;
    cb.Call({ab});
  });
  if (st != napi_ok) delete out;
}

void Poller::Run() {
  while (!stop_) {
    // The BPF side wakes us only once a batch is waiting; the timeout plus an
    // explicit consume picks up what a quiet period left behind.
    ring_buffer__poll(rb_, kPollMs);
    ring_buffer__consume(rb_);
    Flush();
  }
  ring_buffer__consume(rb_);
  Flush();
}

}  // namespace mb
