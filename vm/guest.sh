#!/bin/sh
# Runs inside the guest after vm/init switched to the overlay of the host's
# root: finishes the machine (mounts, modules, loopback), runs the job from
# /vmout/job.env in the project directory and powers off. The job's output and
# exit status go to the output share; markers on the console time the run.
set -u
. /vmout/job.env                  # REPO, JOB
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root CI=true
export MB_TEST_TIME_FACTOR=${MB_TEST_TIME_FACTOR:-4}  # TCG: deadlines of the reference host x4 (test/support/timing.ts)
mark() { echo "VM-GUEST: $* at $(cut -d' ' -f1 /proc/uptime)s"; }
# Fresh /run and /tmp for the guest, but a project that lives under one of
# them (a CI clone in /tmp) must stay visible: hold it, then put it back.
mkdir -p /.repo && mount --bind "$REPO" /.repo
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
case "$REPO" in
/tmp/* | /run/*) mkdir -p "$REPO" && mount --bind /.repo "$REPO" ;;
esac
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
rel=$(uname -r)
# The guest kernel's modules, extracted by vm/kernel.sh, seen through the host tree.
mkdir -p "/lib/modules/$rel" && mount --bind "$REPO/build-vm/cache/$rel/lib/modules/$rel" "/lib/modules/$rel"
# What the lab and the limits need; loaded up front so a missing one is named here.
for m in veth bridge br_netfilter nf_tables nft_chain_nat nft_masq nft_nat nf_nat nf_conntrack sch_fq sch_htb sch_tbf sch_ingress cls_bpf tun; do
  modprobe "$m" 2>/dev/null || echo "VM-GUEST: modprobe $m failed (continuing)"
done
ip link set lo up
hostname macebpf-vm 2>/dev/null || true
mark "ready (kernel $rel)"
cd "$REPO"
# The host tree is live: a `npm run build` there (node-gyp deletes build/)
# must not pull the addon from under a running guest. Copies made inside the
# overlay land in its tmpfs and hide the host's later changes.
for d in build/Release dist; do
  [ -d "$d" ] && cp -a "$d" "$d.vm" && rm -rf "$d" && mv "$d.vm" "$d"
done
mark "snapshot of build/Release and dist taken"
sh -c "$JOB" > /vmout/job.log 2>&1
echo $? > /vmout/job.rc
mark "job exited $(cat /vmout/job.rc)"
sync
echo o > /proc/sysrq-trigger
sleep 10
