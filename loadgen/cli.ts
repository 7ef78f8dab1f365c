// `zooid loadgen [options]` and `zooid loadgen sweep [options]`. Exit codes: 0 done (errors
// during the run are reported, not fatal), 1 the run could not start (no host reachable,
// setup failed), 2 bad options.
import fs from 'node:fs';
import { OptionError, USAGE, SWEEP_USAGE, parseLoadOptions } from './options.ts';
import { closePool, runLoad } from './run.ts';
import { formatSummary } from './summary.ts';
import { LoadgenError } from './setup.ts';
import { renderRunReport } from './report.ts';

function progressWriter(enabled: boolean): ((line: string, final: boolean) => void) | undefined {
  if (!enabled) return undefined;
  const tty = process.stderr.isTTY === true;
  return (line, final) => {
    if (tty) process.stderr.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    else process.stderr.write(`${line}\n`);
  };
}

export async function main(args: string[]): Promise<number> {
  if (args[0] === 'sweep') {
    const { sweepMain } = await import('./sweep.ts');
    return sweepMain(args.slice(1));
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE + '\n' + SWEEP_USAGE);
    return 0;
  }
  let options;
  try {
    options = parseLoadOptions(args).options;
  } catch (err) {
    if (err instanceof OptionError) {
      process.stderr.write(`zooid loadgen: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  try {
    process.stderr.write(`seed ${options.seed}\n`);
    const { result } = await runLoad(options, { progress: progressWriter(options.progress) });
    if (options.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else process.stdout.write(formatSummary(result) + '\n');
    if (options.reportPath !== null) {
      fs.writeFileSync(options.reportPath, renderRunReport(result));
      process.stderr.write(`report written to ${options.reportPath}\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof LoadgenError) {
      process.stderr.write(`zooid loadgen: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await closePool();
  }
}

// run directly (`node loadgen/cli.ts ...`), as well as through `zooid loadgen`
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
