// `zooid bench <micro|compare|profile> [args]`: the same programs as `npm run bench:micro`,
// `npm run bench:compare` and `node bench/profile.ts`, behind the zooid command.
const USAGE = `usage: zooid bench <command> [args]
  micro [names] [--save]     tinybench microbenchmarks (jute, tree, ring, adler32, msgpackr)
  compare [options]          zooid vs Apache ZooKeeper 3.8 sweep (--quick for ~2-3 min; --help)
  profile [options]          zooid under load with --cpu-prof: where each thread's time goes (--help)
`;

export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case 'micro': {
      const { microMain } = await import('./micro.ts');
      return microMain(rest);
    }
    case 'compare': {
      const { compareMain } = await import('./compare.ts');
      return compareMain(rest);
    }
    case 'profile': {
      const { profileMain } = await import('./profile.ts');
      return profileMain(rest);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`zooid bench: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}
