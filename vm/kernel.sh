#!/usr/bin/env bash
# kernel.sh SERIES CACHE_DIR -> prints the release (e.g. 6.1.0-56-amd64) whose
# vmlinuz, config and modules (with modules.dep) are under CACHE_DIR/RELEASE/.
# The newest Debian linux-image package of the series is fetched with
# `apt-get download` once and kept in the cache; nothing is installed on the host.
set -euo pipefail
series=$1 cache=$2
case $series in
  6.1)  pattern='^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' ;;
  6.12) pattern='^linux-image-6\.12\.[0-9]+\+deb[0-9]+-amd64-unsigned$' ;;
  *) echo "vm/kernel.sh: unknown kernel series '$series'; use 6.1 or 6.12" >&2; exit 2 ;;
esac
mkdir -p "$cache"
cd "$cache"
deb=$(ls -1 linux-image-*.deb 2>/dev/null | grep -E "${pattern%\$}_" | sort -V | tail -1 || true)
if [ -z "$deb" ]; then
  pkg=$(apt-cache search --names-only "$pattern" | awk '{print $1}' | sort -V | tail -1)
  if [ -z "$pkg" ]; then
    echo "vm/kernel.sh: no package matches $pattern in apt's lists; run 'apt-get update' and retry" >&2
    exit 1
  fi
  echo "vm: downloading $pkg" >&2
  # apt's sandbox user cannot write here; the download itself is verified by apt.
  apt-get download -q "$pkg" >&2 2>/dev/null || apt-get download "$pkg" >&2
  deb=$(ls -1 "$pkg"_*.deb | sort -V | tail -1)
fi
release=$(echo "$deb" | sed -E 's/^linux-image-(.*)-unsigned_.*/\1/')
if [ ! -f "$release/.ready" ]; then
  rm -rf "$release"
  mkdir -p "$release"
  dpkg-deb -x "$deb" "$release"
  # Debian generates modules.dep at install time; do it here for the guest's modprobe.
  depmod -b "$release" "$release"
  touch "$release/.ready"
fi
echo "$release"
