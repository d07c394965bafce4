// @ts-check
// report.js SERIES RELEASE OUTDIR QEMU_STATUS SECONDS: pass/fail per test of
// one guest run, from vitest's JSON (results/*.json, one per test file), the job's exit status and
// the console's timing markers. Exits 1 unless the guest ran every test and
// all passed.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [series, release, out, qemuStatus, seconds] = process.argv.slice(2);
const read = (/** @type {string} */ f) => {
  try {
    return fs.readFileSync(path.join(out, f), 'utf8');
  } catch {
    return undefined;
  }
};
const consoleLog = read('console.log') ?? '';
const ready = /VM-GUEST: ready .* at ([\d.]+)s/.exec(consoleLog)?.[1];
const jobRc = read('job.rc')?.trim();
const lines = [];
let ok = qemuStatus === '0' && jobRc === '0';
lines.push(`kernel ${series} (${release}): boot to result ${Number(seconds).toFixed(1)} s, guest ready after ${ready ?? '?'} s, qemu exit ${qemuStatus}${qemuStatus === '124' ? ' (timed out)' : ''}, job exit ${jobRc ?? 'none'}`);
const initError = /VM-INIT: (?!kernel).*/.exec(consoleLog)?.[0];
if (initError) lines.push(`  ${initError}`);
/** @type {{name: string, assertionResults: {fullName: string, status: string, duration?: number, failureMessages?: string[]}[], message?: string, status: string}[]} */
const files = [];
for (const f of (() => { try { return fs.readdirSync(path.join(out, 'results')).sort(); } catch { return []; } })()) {
  const json = read(path.join('results', f));
  if (json) files.push(...JSON.parse(json).testResults);
}
if (files.length) {
  const results = { testResults: files };
  const count = { passed: 0, failed: 0, skipped: 0 };
  for (const file of results.testResults) {
    const rel = path.relative(process.cwd(), file.name);
    if (file.assertionResults.length === 0 && file.status === 'failed') {
      count.failed++;
      lines.push(`  FAIL  ${rel}: ${(file.message ?? '').split('\n')[0]}`);
    }
    for (const t of file.assertionResults) {
      const status = t.status === 'passed' ? 'PASS' : t.status === 'failed' ? 'FAIL' : 'SKIP';
      if (t.status === 'passed') count.passed++;
      else if (t.status === 'failed') count.failed++;
      else count.skipped++;
      const ms = t.duration === undefined ? '' : ` (${(t.duration / 1000).toFixed(1)} s)`;
      lines.push(`  ${status}  ${rel} > ${t.fullName}${ms}`);
      if (t.status === 'failed') lines.push(`        ${(t.failureMessages?.[0] ?? '').split('\n')[0]}`);
    }
  }
  lines.splice(1, 0, `  ${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped`);
  ok = ok && count.failed === 0 && count.skipped === 0 && count.passed > 0;
} else {
  lines.push(`  no test results: see ${path.join(out, 'job.log')} and ${path.join(out, 'console.log')}`);
  ok = ok && false;
}
lines.push(`  ${ok ? 'OK' : 'FAILED'}: kernel ${series}`);
console.log(lines.join('\n'));
process.exit(ok ? 0 : 1);
