// drops.cc - Tracer::drops(index): a traced container's kernel drops by
// reason, named from the running kernel's BTF (enum skb_drop_reason), so new
// reasons of newer kernels are named without a table of ours.
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "macebpf.h"
#include "macebpf.skel.h"
#include "tracer.h"

namespace mb {
namespace {

const std::map<uint32_t, std::string>& ReasonNames() {
  static std::map<uint32_t, std::string> names = [] {
    std::map<uint32_t, std::string> out;
    struct btf* btf = btf__load_vmlinux_btf();
    if (!btf) return out;
    int id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
    if (id > 0) {
      const struct btf_type* t = btf__type_by_id(btf, id);
      const struct btf_enum* e = btf_enum(t);
      for (int i = 0; i < btf_vlen(t); i++, e++) {
        std::string name = btf__name_by_offset(btf, e->name_off);
        const std::string prefix = "SKB_DROP_REASON_";
        if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        out[static_cast<uint32_t>(e->val)] = name;
      }
    }
    btf__free(btf);
    return out;
  }();
  return names;
}

}  // namespace

Napi::Value Tracer::Drops(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* s = Skel(env);
  uint32_t index = U32Arg(info, 0, "index");
  int fd = bpf_map__fd(s->maps.drops);
  int ncpu = libbpf_num_possible_cpus();
  std::vector<__u64> percpu(ncpu > 0 ? ncpu : 1);
  Napi::Object out = Napi::Object::New(env);
  struct mb_drop_key key, next;
  struct mb_drop_key* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    if (key.container != index) continue;
    if (bpf_map_lookup_elem(fd, &key, percpu.data())) continue;  // deleted meanwhile
    __u64 sum = 0;
    for (__u64 v : percpu) sum += v;
    auto it = ReasonNames().find(key.reason);
    std::string name = it != ReasonNames().end() ? it->second : "reason_" + std::to_string(key.reason);
    out.Set(name, Napi::Number::New(env, static_cast<double>(sum)));
  }
  return out;
}

}  // namespace mb
