#!/usr/bin/env bash
# qemu.sh KERNEL INITRD OUTDIR TIMEOUT_S: boots the guest under software
# emulation (TCG; no KVM here), without any network device, with the host root
# shared read-only (tag host) and OUTDIR read-write (tag out). The serial
# console goes to OUTDIR/console.log. Exits with qemu's status (124 on timeout).
set -euo pipefail
kernel=$1 initrd=$2 out=$3 limit=$4
# KVM is present but unusable on the reference machine, so TCG unless asked.
accel=${VM_ACCEL:-tcg,thread=multi}
exec timeout --kill-after=10 "$limit" qemu-system-x86_64 \
  -accel "$accel" -cpu max -smp "${VM_CPUS:-2}" -m "${VM_MEM:-3072}" \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 panic=-1 quiet loglevel=4 rdinit=/init" \
  -nographic -no-reboot -monitor none -serial "file:$out/console.log" \
  -nic none \
  -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$out",mount_tag=out,security_model=none,multidevs=remap
