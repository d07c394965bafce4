#!/usr/bin/env bash
# Installs the Debian packages macebpf builds and runs with (DESIGN §2), only
# when one is missing. As root it uses apt-get; otherwise it prints the command.
set -euo pipefail

# bpftrace: the peer `npm run bench` compares against; prometheus: its
# promtool checks /metrics in the tests; chromium: the browser the dashboard
# tests and benchmark drive (playwright-core never downloads one).
packages=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev iproute2 iputils-ping iperf3 nftables util-linux bpftrace prometheus chromium tcpdump)
# The kernel matrix (npm run test:vm, vm/): qemu boots Debian's kernels with a
# busybox initramfs. Their recommends (GUI, audio) are not needed.
vm_packages=(qemu-system-x86 busybox-static)
missing=() vm_missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
for p in "${vm_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || vm_missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && [ ${#vm_missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
[ ${#vm_missing[@]} -gt 0 ] && cmd="$cmd && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${vm_missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "macebpf: missing system packages: ${missing[*]}" >&2
  echo "macebpf: install them as root: sudo sh -c '$cmd'" >&2
  exit 1
fi
echo "macebpf: installing system packages: ${missing[*]} ${vm_missing[*]}" >&2
apt-get update -qq
[ ${#missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
[ ${#vm_missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${vm_missing[@]}" >&2
