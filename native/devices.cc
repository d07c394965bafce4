// devices.cc - where the kernel has tcx and the cast kfunc
// ("device-ingress:tcx"), the ingress device stages run as mb_tc_rx, a tcx
// ingress link on every non-loopback device of a traced netns and on each
// outer device, and nowhere else: the rest of the host's receive path runs
// no macebpf program. Links are fds, so they detach with the process, even on
// SIGKILL, and leave the devices' qdiscs and filters alone. A runtime may add
// a container's device after trace(): refreshDevices() (called every second)
// lists each traced netns's devices again, attaching those that appeared and
// letting go of those that went. Nothing is held open inside a traced netns
// (a netlink socket there would keep a deleted netns and its devices alive):
// it is entered by path for each listing, about 40 µs here.
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "args.h"
#include "errors.h"
#include "in_netns.h"
#include "macebpf.skel.h"
#include "tracer.h"

namespace mb {
namespace {

constexpr int kAttachTcxIngress = 46;  // BPF_TCX_INGRESS (Linux 6.6); libbpf 1.1 predates it

// Ifindexes of the calling thread's netns's devices, loopback left out.
NetnsError ListDevices(std::vector<unsigned>& out) {
  struct if_nameindex* all = if_nameindex();
  if (!all) return {errno, "if_nameindex"};
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    int err = errno;
    if_freenameindex(all);
    return {err, "socket(AF_INET)"};
  }
  for (auto* i = all; i->if_index; i++) {
    struct ifreq req = {};
    strncpy(req.ifr_name, i->if_name, IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFFLAGS, &req) == 0 && (req.ifr_flags & IFF_LOOPBACK)) continue;
    out.push_back(i->if_index);
  }
  close(sock);
  if_freenameindex(all);
  return {};
}

}  // namespace

NetnsError Tracer::TraceDevices(uint32_t netns, const std::string& path) {
  NetnsError r = AttachRx(netns, path, 0, kRoleContainer);
  if (!r.err) traced_netns_[netns] = path;
  return r;
}

void Tracer::UntraceDevices(uint32_t netns) {
  traced_netns_.erase(netns);
  ReleaseRx(netns, kRoleContainer, 0);
}

NetnsError Tracer::AttachRx(uint32_t netns, const std::string& path, unsigned ifindex, uint8_t role) {
  int prog = bpf_program__fd(skel_->progs.mb_tc_rx);
  std::vector<unsigned> devs;
  std::vector<std::pair<unsigned, int>> made;  // ifindex, link fd
  // The JS thread waits in InNetns meanwhile: the netns thread may read dev_links_.
  NetnsError r = InNetns(path, [&]() -> NetnsError {
    if (ifindex) devs.push_back(ifindex);
    else if (NetnsError e = ListDevices(devs); e.err) return e;
    for (unsigned i : devs) {
      if (dev_links_.count({netns, i})) continue;
      int fd = bpf_link_create(prog, i, static_cast<enum bpf_attach_type>(kAttachTcxIngress), nullptr);
      if (fd == -ENODEV && !ifindex) continue;  // gone since it was listed
      if (fd < 0) return {-fd, "bpf_link_create(tcx ingress of ifindex " + std::to_string(i) + " in " + path + ")"};
      made.emplace_back(i, fd);
    }
    return {};
  });
  if (r.err) {
    for (auto [i, fd] : made) close(fd);
    return r;
  }
  for (auto [i, fd] : made) dev_links_[{netns, i}] = DevLink{fd, 0};
  // Listed devices get the role; after a whole listing, a device that went
  // loses it, and a link left with no role goes.
  for (auto it = dev_links_.begin(); it != dev_links_.end();) {
    auto& [key, link] = *it;
    if (key.first == netns) {
      if (std::find(devs.begin(), devs.end(), key.second) != devs.end()) link.roles |= role;
      else if (!ifindex) link.roles &= ~role;
    }
    if (link.roles) {
      ++it;
      continue;
    }
    close(link.fd);
    it = dev_links_.erase(it);
  }
  return {};
}

void Tracer::ReleaseRx(uint32_t netns, uint8_t role, unsigned ifindex) {
  for (auto it = dev_links_.begin(); it != dev_links_.end();) {
    bool mine = it->first.first == netns && (!ifindex || it->first.second == ifindex);
    if (mine) it->second.roles &= ~role;
    if (!mine || it->second.roles) {
      ++it;
      continue;
    }
    close(it->second.fd);
    it = dev_links_.erase(it);
  }
}

void Tracer::ReleaseAllRx() {
  traced_netns_.clear();
  for (auto& [key, link] : dev_links_) close(link.fd);
  dev_links_.clear();
}

Napi::Value Tracer::RefreshDevices(const Napi::CallbackInfo& info) {
  Skel(info.Env());
  for (const auto& [netns, path] : traced_netns_) {
    // A netns that is gone (its container ended) has no devices left.
    if (AttachRx(netns, path, 0, kRoleContainer).err) ReleaseRx(netns, kRoleContainer, 0);
  }
  return info.Env().Undefined();
}

// ifindexOf(netnsPath, name): the ifindex of device name in that netns, 0
// when the netns or the device is gone (an outer device's check: a device
// made again gets a new ifindex, which the BPF side does not know).
Napi::Value IfindexOf(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info, 0, "netnsPath");
  std::string name = StringArg(info, 1, "name");
  unsigned ifindex = 0;
  InNetns(path, [&]() -> NetnsError {
    ifindex = if_nametoindex(name.c_str());
    return {};
  });
  return Napi::Number::New(info.Env(), ifindex);
}

}  // namespace mb
