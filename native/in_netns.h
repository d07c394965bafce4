// in_netns.h - run a function inside another network namespace. setns()
// applies to the calling thread only, so fn runs on a short-lived thread
// that enters the netns at path; the caller's threads stay where they are.
#pragma once
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>

namespace mb {

// A failed call: its positive errno and its name (0 and "" on success).
struct NetnsError {
  int err = 0;
  std::string call;
};

// fn returns a NetnsError naming its own failing call.
template <typename Fn>
NetnsError InNetns(const std::string& path, Fn fn) {
  NetnsError r;
  std::thread([&] {
    int ns = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      r = {errno, "open(" + path + ")"};
      return;
    }
    int ok = setns(ns, CLONE_NEWNET);
    int err = errno;
    close(ns);
    if (ok < 0) r = {err, "setns(" + path + ")"};
    else r = fn();
  }).join();
  return r;
}

}  // namespace mb
