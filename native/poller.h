// poller.h - drains the BPF ring buffer on its own thread and hands JS one
// ArrayBuffer per batch of fixed-size records (never one call per packet).
#pragma once
#include <napi.h>

#include <atomic>
#include <thread>
#include <vector>

struct ring_buffer;

namespace mb {

class Poller {
 public:
  // ring_fd: the BPF_MAP_TYPE_RINGBUF map; callback(ArrayBuffer batch).
  Poller(Napi::Env env, int ring_fd, Napi::Function callback);
  ~Poller();
  void Stop();  // joins the thread; safe to call twice

 private:
  static int OnRecord(void* ctx, void* data, size_t size);
  void Run();
  void Flush();

  ring_buffer* rb_ = nullptr;
  Napi::ThreadSafeFunction tsfn_;
  std::atomic<bool> stop_{false};
  std::vector<uint8_t> batch_;
  std::thread thread_;
};

}  // namespace mb
