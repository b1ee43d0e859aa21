/**
 * The `nsync` command: run | explain | version.
 */
import { optionsHelp } from '../app/config.ts';
import { EXPLAIN_USAGE, explainCommand } from './explain.ts';
import { runCommand } from './run.ts';
import { VERSION } from './version.ts';

const HELP = `nsync ${VERSION} — keeps Secrets and ConfigMaps in sync across namespaces

usage:
  nsync run [options]            run the controller
  nsync explain <kind>/<name> -n <namespace>
                                 what nsync does for one source in every namespace, and why
  nsync version                  print the version

nsync run options (each also an environment variable):
${optionsHelp()}

${EXPLAIN_USAGE}
`;

/** Dispatches a command line; returns the exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [command, ...rest] = argv;
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  switch (command) {
    case 'run':
      return runCommand(rest, env);
    case 'explain':
      return explainCommand(rest, env);
    case 'version':
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`nsync: unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`nsync: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
