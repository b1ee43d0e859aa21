/**
 * The `nsync` command (and the kubectl plugin `kubectl nsync`): run | explain | version.
 */
import { optionsHelp } from '../app/config.ts';
import { explainCommand, explainUsage } from './explain.ts';
import { runCommand } from './run.ts';
import { VERSION } from './version.ts';

/** How the command was called. */
export interface Invocation {
  /** The name usage texts show: `nsync`, or `kubectl nsync` for the plugin. @default 'nsync' */
  readonly program?: string;
}

/** The whole help text, under the name the command was called by. */
function helpText(program: string): string {
  return `${program} ${VERSION} — keeps Secrets and ConfigMaps in sync across namespaces

usage:
  ${program} run [options]            run the controller
  ${program} explain <kind>/<name> [-n <namespace>] [-o json]
                                 what nsync does for one source in every namespace, and why
                                 (-o json: a versioned document for scripts)
  ${program} version                  print the version

nsync run options (each also an environment variable):
${optionsHelp()}

${explainUsage(program)}
`;
}

/** Dispatches a command line; returns the exit code. */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  invocation: Invocation = {},
): Promise<number> {
  const program = invocation.program ?? 'nsync';
  const [command, ...rest] = argv;
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(helpText(program));
    return 0;
  }
  switch (command) {
    case 'run':
      return runCommand(rest, env);
    case 'explain':
      return explainCommand(rest, env, program);
    case 'version':
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(helpText(program));
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`${program}: unknown command "${command}"\n\n${helpText(program)}`);
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
