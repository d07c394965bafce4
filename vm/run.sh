#!/usr/bin/env bash
# npm run test:vm [-- --kernel 6.1|6.12|all] [--suite full|focused|'test/…'] [--job CMD]
# For each kernel: fetch Debian's package (cached in build-vm/cache: not
# build/, which node-gyp rebuild deletes), build the
# initramfs, boot it under qemu with the host tree shared read-only, run the
# root tests inside (CI=true: nothing skips) and report pass/fail per test.
# Artifacts per kernel in build-vm/out/<series>/: console.log (guest console),
# job.log (test output), results.json (vitest), summary.txt.
#   suite full:    test/integration (the root suite) + test/vm (kernel matrix)
#   suite focused: load, features, traced ping per path, where the ingress
#                  device stages run, limits with fq (what CI runs)
# The host tree must be built (npm run build): the guest runs the host's
# CO-RE object and addon unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
kernels=all suite=full job='' timeout=${VM_TIMEOUT:-2400}
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) kernels=$2; shift 2 ;;
    --suite) suite=$2; shift 2 ;;
    --job) job=$2; shift 2 ;;
    *) echo "vm/run.sh: unknown argument '$1'; use --kernel 6.1|6.12|all, --suite full|focused, --job CMD" >&2; exit 2 ;;
  esac
done
[ "$kernels" = all ] && kernels="6.1 6.12"
case $suite in
  full) files="test/integration test/vm" ;;
  focused) files="test/vm/features.vm.ts test/vm/edt-fq.vm.ts test/integration/device-stages.test.ts" ;;
  test/*) files=$suite ;;  # test files or directories, for a part of the suite
  *) echo "vm/run.sh: unknown suite '$suite'; use full, focused or test paths" >&2; exit 2 ;;
esac
for f in build/Release/macebpf.node dist/src/cli.js; do
  [ -e "$f" ] || { echo "vm/run.sh: $f missing: run 'npm run build' first" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "vm/run.sh: qemu-system-x86_64 missing: apt-get install qemu-system-x86 busybox-static" >&2; exit 1; }
# --config vm/vitest.config.mts: the test/vm files (*.vm.ts) are only picked up there.
# One vitest run per file, each writing its own JSON: a guest that dies (a
# kernel panic, the timeout) loses the file it was in, not the whole run.
[ -n "$job" ] || job="rc=0; mkdir -p /vmout/results; for f in \$(find $files -type f \\( -name '*.test.ts' -o -name '*.vm.ts' \\) | sort); do node_modules/.bin/vitest run --config vm/vitest.config.mts --reporter=default --reporter=json --outputFile.json=/vmout/results/\$(echo \$f | tr / _).json \$f || rc=1; done; exit \$rc"
status=0
for series in $kernels; do
  out=${VM_OUT:-$repo/build-vm/out}/$series  # VM_OUT: for runs side by side
  rm -rf "$out"; mkdir -p "$out"
  release=$(vm/kernel.sh "$series" "$repo/build-vm/cache")
  initrd=$(vm/initramfs.sh "$repo/build-vm/cache" "$release")
  cp vm/guest.sh "$out/guest.sh"
  # MB_TEST_TIME_FACTOR from the host overrides the guest's default (4), e.g.
  # 8 with VM_ACCEL=tcg,thread=single, which runs both vCPUs on one thread.
  printf 'REPO=%q\nJOB=%q\n' "$repo" "$job" > "$out/job.env"
  if [ -n "${MB_TEST_TIME_FACTOR:-}" ]; then printf 'MB_TEST_TIME_FACTOR=%q\n' "$MB_TEST_TIME_FACTOR" >> "$out/job.env"; fi
  echo "vm: booting $release (suite $suite); console: $out/console.log" >&2
  start=$(date +%s%N)
  # A guest that panics before its job starts is booted once more: under
  # multi-threaded TCG the kernel's own boot-time text patching can trap on a
  # stale int3 (docs/kernels.md), which no test caused. The first console is kept.
  for attempt in 1 2; do
    qrc=0
    vm/qemu.sh "$repo/build-vm/cache/$release/boot/vmlinuz-$release" "$initrd" "$out" "$timeout" || qrc=$?
    [ -e "$out/job.rc" ] || [ -e "$out/results" ] || ! grep -q 'Kernel panic' "$out/console.log" || [ "$attempt" = 2 ] && break
    echo "vm: $release panicked before its job ran (console kept as console.boot-panic.log); booting once more" >&2
    mv "$out/console.log" "$out/console.boot-panic.log"
  done
  secs=$(( ($(date +%s%N) - start) / 1000000 ))e-3
  node vm/report.js "$series" "$release" "$out" "$qrc" "$secs" | tee "$out/summary.txt" || status=1
done
exit $status
