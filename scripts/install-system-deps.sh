#!/usr/bin/env bash
# Installs the Debian packages macebpf builds and runs with (DESIGN §2), only
# when one is missing. As root it uses apt-get; otherwise it prints the command.
set -euo pipefail

# bpftrace: the peer `npm run bench` compares against; prometheus: its
# promtool checks /metrics in the tests; chromium: the browser the dashboard
# tests and benchmark drive (playwright-core never downloads one).
packages=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev iproute2 iputils-ping iperf3 nftables util-linux bpftrace prometheus chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "macebpf: missing system packages: ${missing[*]}" >&2
  echo "macebpf: install them as root: sudo sh -c '$cmd'" >&2
  exit 1
fi
echo "macebpf: installing system packages: ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
