// poller.h - drains the BPF ring buffer on its own thread and hands JS one
// ArrayBuffer per batch of fixed-size records (never one call per packet).
// Stop() hands over what is left; the promise of Drained() resolves on the JS
// thread only after that last batch was delivered to the callback.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

struct ring_buffer;

namespace mb {

class Poller {
 public:
  // ring_fd: the BPF_MAP_TYPE_RINGBUF map; callback(ArrayBuffer batch).
  Poller(Napi::Env env, int ring_fd, Napi::Function callback);
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
  static int OnRecord(void* ctx, void* data, size_t size);
  void Run();
  void Flush();

  ring_buffer* rb_ = nullptr;
  Napi::ThreadSafeFunction tsfn_;
  std::shared_ptr<Delivery> delivery_ = std::make_shared<Delivery>();
  std::atomic<bool> stop_{false};
  std::vector<uint8_t> batch_;
  std::thread thread_;
};

}  // namespace mb
