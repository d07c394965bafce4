#!/usr/bin/env node
// cli.ts - the `macebpf` entry point: parse, dispatch, report errors plainly.
import { runDemo } from './commands/demo';
import { runLabDown, runLabList, runLabUp } from './commands/lab';
import { runLimit } from './commands/limit';
import { parseCommandLine, USAGE } from './commands/options';
import { runStats } from './commands/stats';
import { runTrace } from './commands/trace';
import { shutdown } from './core/shutdown';

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
    case 'stats':
      return runStats(cmd.args);
    case 'demo':
      return runDemo(cmd.containers, cmd.durationNs);
    case 'lab':
      if (cmd.action === 'up') return runLabUp(cmd.containers);
      if (cmd.action === 'down') return runLabDown(cmd.ids);
      return runLabList();
  }
}

main(process.argv.slice(2)).then(
  () => shutdown(0),
  (err: Error) => {
    process.stderr.write(`macebpf: ${err.message}\n`);
    void shutdown(1);
  },
);
