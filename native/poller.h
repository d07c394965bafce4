// poller.h - drains the BPF ring buffer on its own thread and hands JS one
// ArrayBuffer per batch of fixed-size records (never one call per packet).
// Stop() hands over what is left; the promise of Drained() resolves on the JS
// thread only after that last batch was delivered to the callback. Batches
// are coalesced to at most one per 50 ms under load (the ring drained meanwhile), and at most
// kMaxQueued wait for JS: a JS thread that falls behind leaves the records in
// the ring buffer, where the kernel counts what no longer fits as lost,
// instead of in an unbounded queue on the heap.
#pragma once
#include <napi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

struct ring_buffer;

namespace mb {

class Poller {
 public:
  // ring_fd: the BPF_MAP_TYPE_RINGBUF map of ring_bytes; callback(ArrayBuffer batch).
  Poller(Napi::Env env, int ring_fd, size_t ring_bytes, Napi::Function callback);
  ~Poller();
  // Joins the thread after a final drain of the ring; safe to call twice.
  void Stop();
  // Resolves once every batch handed over before Stop() reached JS.
  Napi::Promise Drained(Napi::Env env);

 private:
  struct Delivery {
    bool done = false;
    std::vector<Napi::Promise::Deferred> waiting;
  };
  // Batches handed to the TSFN and not yet run by JS (shared with the
  // callbacks, which may run after the Poller is gone).
  struct Queue {
    std::mutex m;
    std::condition_variable cv;
    int queued = 0;
    bool stop = false;
    // Batch buffers JS has copied out, kept for reuse: a fresh 256 KiB
    // allocation per batch costs page faults (and trims) every time.
    std::vector<std::vector<uint8_t>> spare;
  };
  static int OnRecord(void* ctx, void* data, size_t size);
  void Run();
  void Flush();
  // Bytes of records (with their headers) in the ring not yet consumed.
  size_t Unread() const;

  ring_buffer* rb_ = nullptr;
  Napi::ThreadSafeFunction tsfn_;
  std::shared_ptr<Delivery> delivery_ = std::make_shared<Delivery>();
  std::shared_ptr<Queue> queue_ = std::make_shared<Queue>();
  std::chrono::steady_clock::time_point last_flush_;
  uint8_t* positions_ = nullptr;  // the ring's consumer page, then its producer page
  size_t page_ = 0;
  size_t quarter_ = 0;  // a quarter of the ring: the BPF side's early wake-ups
  std::atomic<bool> stop_{false};
  std::vector<uint8_t> batch_;
  std::thread thread_;
};

}  // namespace mb
