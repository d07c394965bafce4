// run.ts - `npm run bench` (DESIGN §9). Builds a lab of its own, measures
// side by side in one run, writes raw numbers to bench/results/<section>.json
// and a summary to bench/results/SUMMARY.md, and prints the summary.
//
//   flock /tmp/macebpf-kernel.lock npm run bench [-- --quick] [-- --only cost,accuracy]
//
// Sections: cost (BPF ns per packet, incl. the bpftrace peer), perturbation
// (RTT and TCP throughput off / macebpf / bpftrace), tax (what tracing costs
// untraced processes, containers and outer traffic), pipeline (records/s,
// lost, coverage at flood rates), accuracy (corrected container RTT vs host),
// edt (achieved / configured rate under EDT limits; a neighbour's RTT while
// c1 floods, unlimited and limited), server (the daemon's CPU per record
// with 0, 1 and 10 WebSocket clients vs the tracing's own; store memory).
// Everything it creates is removed on exit, on failure and on SIGINT/SIGTERM;
// kernel.bpf_stats_enabled is restored to its previous value.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onShutdown } from '../src/commands/lifecycle';
import { install, shutdown } from '../src/entry';
import { runAccuracy } from './accuracy';
import { repairStaleStats } from './bpfstats';
import { stopAllBpftrace } from './bpftrace';
import { aborted, log, setUp, type BenchContext } from './context';
import { runCost } from './cost';
import { runEdt } from './edt';
import { holdKernelLock, type KernelLock } from './lock';
import { runPerturbation } from './perturbation';
import { runTax } from './tax';
import { runPipeline } from './pipeline';
import { runServer } from './server';
import type { DashboardResult } from './dashboard';
import { renderSummary, type AllResults, type Env, type SectionOutcome } from './summary';

const SECTIONS = ['cost', 'perturbation', 'tax', 'pipeline', 'accuracy', 'edt', 'server', 'dashboard'] as const;
type Section = (typeof SECTIONS)[number];

const RESULTS = path.resolve(__dirname, '..', '..', 'bench', 'results');
/** The whole run is bounded; each command inside has its own timeout too.
 * A full run takes ~12 min on an idle host and ~20 where syscalls are slow
 * (the tax section's 40 dd runs): the bound is for a hung run, not a slow one. */
const WATCHDOG_MS = 40 * 60_000;

interface Args {
  quick: boolean;
  only: Section[];
}

function usage(): string {
  return `usage: npm run bench [-- --quick] [-- --only ${SECTIONS.join(',')}]`;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, only: [...SECTIONS] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') args.quick = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a.includes('=') ? a.slice('--only='.length) : argv[++i];
      if (!v) throw new Error(`--only needs a list: ${SECTIONS.join(',')}\n${usage()}`);
      const names = v.split(',').map((s) => s.trim()).filter(Boolean);
      const bad = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
      if (bad.length) throw new Error(`unknown section(s) ${bad.join(', ')}; sections: ${SECTIONS.join(', ')}\n${usage()}`);
      args.only = names as Section[];
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(`${usage()}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${usage()}`);
  }
  return args;
}

function cmd(c: string, a: string[]): string {
  try {
    return execFileSync(c, a, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    return `unavailable (${(e as Error).message.split('\n')[0]})`;
  }
}

function environment(ctx: BenchContext): Env {
  const cpuModel = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  let clocksource = 'unknown';
  try {
    clocksource = fs.readFileSync('/sys/devices/system/clocksource/clocksource0/current_clocksource', 'utf8').trim();
  } catch {
    /* keep unknown */
  }
  return {
    date: new Date().toISOString(),
    kernel: os.release(),
    cpus: os.cpus().length,
    cpuModel,
    clocksource,
    node: process.version,
    bpftrace: cmd('bpftrace', ['--version']),
    bpftool: cmd('bpftool', ['version']).split('\n')[0] ?? '',
    lab: ctx.lab.id,
  };
}

function writeJson(name: string, doc: unknown): void {
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${name}.json`);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(doc, null, 2) + '\n');
  fs.renameSync(`${file}.tmp`, file);
}

/** A section not run this time: its result from the last run that wrote it. */
function previous<T>(name: Section): SectionOutcome<T> {
  try {
    const doc = JSON.parse(fs.readFileSync(path.join(RESULTS, `${name}.json`), 'utf8')) as { env?: Env; result?: T; error?: string };
    if (doc.result === undefined) return { error: doc.error ?? 'no result recorded' };
    return { result: doc.result, from: `the run of ${doc.env?.date ?? 'an earlier date'}` };
  } catch {
    return { error: 'not run yet' };
  }
}

// The dashboard's frame times (bench/dashboard.ts) run in their own process:
// it starts its own demo and drives Chromium, apart from this process's lab.
function runDashboard(): Promise<DashboardResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'dashboard.js')], { stdio: ['ignore', 'inherit', 'inherit'] });
    onShutdown(() => {
      if (child.exitCode === null) child.kill('SIGTERM');
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`bench/dashboard.js exited with ${code}`));
      resolve((JSON.parse(fs.readFileSync(path.join(RESULTS, 'dashboard.json'), 'utf8')) as { result: DashboardResult }).result);
    });
  });
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('the benchmark loads BPF programs and creates network namespaces: run it as root');
  // Installs the SIGINT/SIGTERM/SIGHUP handlers now, so a signal while we wait for the lock exits too.
  let lock: KernelLock | undefined;
  onShutdown(() => lock?.release());
  lock = await holdKernelLock();
  const repaired = repairStaleStats();
  if (repaired) log(repaired);
  const started = Date.now();
  const watchdog = setTimeout(() => {
    log(`watchdog: still running after ${WATCHDOG_MS / 60_000} min, giving up`);
    void shutdown(1);
  }, WATCHDOG_MS);
  watchdog.unref();

  const { ctx, tearDown } = await setUp(args.quick);
  onShutdown(stopAllBpftrace); // runs before the lab goes (last registered, first run)
  const env = environment(ctx);
  const outcomes: Partial<Record<Section, SectionOutcome<unknown>>> = {};
  let failed = false;
  try {
    const runners: Record<Section, (c: BenchContext) => Promise<unknown>> = {
      cost: runCost,
      perturbation: runPerturbation,
      tax: runTax,
      pipeline: runPipeline,
      accuracy: runAccuracy,
      edt: runEdt,
      server: runServer,
      dashboard: runDashboard,
    };
    for (const s of SECTIONS) {
      if (!args.only.includes(s)) continue;
      if (aborted()) break;
      const t0 = Date.now();
      log(`--- ${s} ---`);
      try {
        const result = await runners[s](ctx);
        if (aborted()) break;
        outcomes[s] = { result };
        writeJson(s, { env, quick: args.quick, result });
        log(`${s}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      } catch (e) {
        failed = true;
        if (aborted()) {
          log(`${s}: interrupted by ${aborted()}; its earlier results are kept`);
          break;
        }
        const msg = (e as Error).stack ?? String(e);
        log(`${s}: FAILED: ${msg}`);
        outcomes[s] = { error: (e as Error).message };
        writeJson(s, { env, quick: args.quick, error: (e as Error).message });
        await stopAllBpftrace();
      }
    }
  } finally {
    await stopAllBpftrace();
    await tearDown();
    clearTimeout(watchdog);
  }
  if (aborted()) {
    log(`stopped by ${aborted()}: nothing written for the interrupted section`);
    return 130;
  }
  const all: AllResults = {
    env,
    cost: (outcomes.cost as AllResults['cost']) ?? previous('cost'),
    perturbation: (outcomes.perturbation as AllResults['perturbation']) ?? previous('perturbation'),
    tax: (outcomes.tax as AllResults['tax']) ?? previous('tax'),
    pipeline: (outcomes.pipeline as AllResults['pipeline']) ?? previous('pipeline'),
    accuracy: (outcomes.accuracy as AllResults['accuracy']) ?? previous('accuracy'),
    edt: (outcomes.edt as AllResults['edt']) ?? previous('edt'),
    server: (outcomes.server as AllResults['server']) ?? previous('server'),
    dashboard: (outcomes.dashboard as AllResults['dashboard']) ?? previous('dashboard'),
  };
  const md = renderSummary(all);
  fs.writeFileSync(path.join(RESULTS, 'SUMMARY.md'), md);
  process.stdout.write(`\n${md}\n`);
  log(`finished in ${((Date.now() - started) / 1000).toFixed(0)} s; results in ${RESULTS}`);
  lock.release();
  return failed ? 1 : 0;
}

install();
main().then(
  (code) => void shutdown(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    void shutdown(1);
  },
);
