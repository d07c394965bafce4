#!/usr/bin/env node
// cli.ts - the `macebpf` entry point: parse, dispatch, report errors plainly.
// Signals, exit codes and lost output are wired in entry.ts.
import { runDemo } from './commands/demo';
import { runLabDown, runLabList, runLabUp } from './commands/lab';
import { runLimit } from './commands/limit';
import { parseCommandLine, USAGE } from './commands/options';
import { runPing } from './commands/ping';
import { runServe } from './commands/serve';
import { runStats } from './commands/stats';
import { runTrace } from './commands/trace';
import { EXIT, install, report, shutdown, signalsEndNormally } from './entry';

async function main(argv: string[]): Promise<void> {
  const cmd = parseCommandLine(argv);
  switch (cmd.name) {
    case 'help':
      process.stdout.write(USAGE + '\n');
      return;
    case 'trace':
      return runTrace(cmd.args);
    case 'limit':
      return runLimit(cmd.args);
    case 'ping':
      return runPing(cmd.args);
    case 'stats':
      return runStats(cmd.args);
    case 'serve':
      signalsEndNormally();
      return runServe(cmd.args);
    case 'demo':
      signalsEndNormally();
      return runDemo(cmd.args);
    case 'lab':
      if (cmd.action === 'up') return runLabUp(cmd.containers);
      if (cmd.action === 'down') return runLabDown(cmd.ids);
      return runLabList();
  }
}

install();
main(process.argv.slice(2)).then(
  () => shutdown(EXIT.ok),
  (err: Error) => {
    report(err.message);
    void shutdown(EXIT.error);
  },
);
