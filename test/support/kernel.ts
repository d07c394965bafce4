// kernel.ts - what the kernel matrix expects of the running kernel
// (docs/kernels.md): the cast kfuncs arrived in 6.2, tcx in 6.6, the
// sock_recv_length tracepoint in 6.3, tcp_sendmsg_locked after 6.12.
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';

export function kernelVersion(release = os.release()): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) throw new Error(`cannot parse kernel release "${release}"`);
  return [Number(m[1]), Number(m[2])];
}

const atLeast = (major: number, minor: number): boolean => {
  const [a, b] = kernelVersion();
  return a > major || (a === major && b >= minor);
};

export const hasCastKfuncs = (): boolean => atLeast(6, 2);
export const hasTcx = (): boolean => atLeast(6, 6);
/** tcp_sendmsg_locked is newer than 6.12; asked of the kernel's BTF with bpftool, not macebpf's own probe. */
export const hasTcpSendmsgTp = (): boolean =>
  execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 30 }).includes("'btf_trace_tcp_sendmsg_locked'");
export const hasSockRecvLength = (): boolean => atLeast(6, 3);
