#include "errors.h"

#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace mb {
namespace {

std::mutex log_mutex;
std::string log_tail;  // the last few KiB libbpf printed
constexpr size_t kLogTail = 8192;

int PrintToTail(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[8192];
  vsnprintf(line, sizeof(line), fmt, args);
  std::lock_guard<std::mutex> lock(log_mutex);
  log_tail += line;
  if (log_tail.size() > kLogTail) log_tail.erase(0, log_tail.size() - kLogTail);
  return 0;
}

}  // namespace

void CaptureLibbpfLog() { libbpf_set_print(PrintToTail); }

void ThrowLibbpf(Napi::Env env, const std::string& call, int err) {
  if (err < 0) err = -err;
  std::string msg = call + " failed: " + strerror(err) + " (errno " + std::to_string(err) + ")";
  if (err == EPERM) {  // EACCES from a load is the verifier: its log follows
    msg += ": macebpf needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (CAP_SYS_ADMIN to enter "
           "namespaces); run it as root, e.g. with sudo";
  }
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    if (!log_tail.empty()) msg += "\nlibbpf log:\n" + log_tail;
    log_tail.clear();
  }
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("call", Napi::String::New(env, call));
  throw e;
}

}  // namespace mb
