{
  # BPF chain (DESIGN §2): vmlinux.h from the running kernel's BTF, every
  # bpf/*.bpf.c compiled with clang, linked into one object by libbpf's static
  # linker, skeleton header for native/.
  "variables": {
    "gen": "<(SHARED_INTERMEDIATE_DIR)/macebpf",
    "bpf_cc": "clang",
    "bpf_headers": ["bpf/macebpf.h", "bpf/lib/netns.h", "bpf/lib/pkt_key.h", "bpf/lib/flow.h", "bpf/lib/recv_buf.h", "bpf/lib/cast.h", "bpf/lib/echo_stamp.h", "bpf/lib/wall_clock.h", "bpf/lib/ringbuf_wakeup.h", "bpf/lib/tc_act.h", "bpf/synth.h"]
  },
  "targets": [
    {
      "target_name": "macebpf_bpf",
      "type": "none",
      "sources": ["bpf/trace.bpf.c", "bpf/edt.bpf.c", "bpf/synth.bpf.c"],
      "actions": [
        {
          "action_name": "vmlinux_h",
          "inputs": ["/sys/kernel/btf/vmlinux"],
          "outputs": ["<(gen)/vmlinux.h"],
          "action": ["sh", "-c", "mkdir -p <(gen) && bpftool btf dump file /sys/kernel/btf/vmlinux format c > <(gen)/vmlinux.h"]
        }
      ],
      "rules": [
        {
          "rule_name": "bpf_compile",
          "extension": "c",
          "inputs": ["<(gen)/vmlinux.h", "<@(bpf_headers)"],
          "outputs": ["<(gen)/<(RULE_INPUT_ROOT).o"],
          "action": ["sh", "-c", "<(bpf_cc) -target bpf -D__TARGET_ARCH_x86 -O2 -g -Wall -Werror -I<(gen) -Ibpf -c <(RULE_INPUT_PATH) -o <(gen)/<(RULE_INPUT_ROOT).o"],
          "process_outputs_as_sources": 0
        }
      ]
    },
    {
      "target_name": "macebpf_skel",
      "type": "none",
      "dependencies": ["macebpf_bpf"],
      "actions": [
        {
          "action_name": "bpf_link",
          "inputs": ["<(gen)/trace.bpf.o", "<(gen)/edt.bpf.o", "<(gen)/synth.bpf.o"],
          "outputs": ["<(gen)/macebpf.bpf.o"],
          "action": ["sh", "-c", "bpftool gen object <(gen)/macebpf.bpf.o <@(_inputs)"]
        },
        {
          "action_name": "bpf_skeleton",
          "inputs": ["<(gen)/macebpf.bpf.o"],
          "outputs": ["<(gen)/macebpf.skel.h"],
          "action": ["sh", "-c", "bpftool gen skeleton <(gen)/macebpf.bpf.o name macebpf > <(gen)/macebpf.skel.h"]
        }
      ]
    },
    {
      "target_name": "macebpf",
      "dependencies": ["macebpf_skel"],
      "sources": ["native/addon.cc", "native/tracer.cc", "native/limit.cc", "native/devices.cc", "native/drops.cc", "native/poller.cc", "native/stats.cc", "native/errors.cc", "native/features.cc", "native/synth.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")", "<(gen)", "bpf"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "libraries": ["-lbpf", "-lelf", "-lz"]
    }
  ]
}
