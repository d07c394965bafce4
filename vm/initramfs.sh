#!/usr/bin/env bash
# initramfs.sh CACHE_DIR RELEASE -> prints the path of a gzip'd cpio holding
# static busybox, the modules needed to reach the host tree (virtio-pci, 9p,
# overlay; decompressed, in dependency order) and vm/init. Everything else the
# guest runs (node, iproute2, iperf3, the built project) comes from the host's
# own root, shared read-only over 9p: the same binaries as on the host.
set -euo pipefail
cache=$1 release=$2
here=$(cd "$(dirname "$0")" && pwd)
kdir=$cache/$release
out=$kdir/initramfs.cpio.gz
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "vm/initramfs.sh: $busybox missing; apt-get install busybox-static" >&2; exit 1; }
if [ -f "$out" ] && [ "$out" -nt "$here/init" ] && [ "$out" -nt "$0" ]; then echo "$out"; exit 0; fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,modules,newroot,host,rw,out}
cp "$busybox" "$root/bin/busybox"
cp "$here/init" "$root/init"
chmod +x "$root/init"
: > "$root/modules/order"
seen=" "
for m in virtio_pci 9pnet_virtio 9p overlay; do
  while read -r verb path; do
    [ "$verb" = insmod ] || continue
    name=$(basename "$path"); name=${name%%.ko*}
    case $seen in *" $name "*) continue ;; esac
    seen="$seen$name "
    case $path in
      *.xz) xz -dc "$path" > "$root/modules/$name.ko" ;;
      *.zst) zstd -qdc "$path" > "$root/modules/$name.ko" ;;
      *) cp "$path" "$root/modules/$name.ko" ;;
    esac
    echo "$name" >> "$root/modules/order"
  done < <(modprobe -d "$kdir" -S "$release" --show-depends "$m")
done
(cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) > "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
