// The one start-up path of the `nsync` and `kubectl-nsync` commands. Written for any Node that can
// load an ES module, so an older Node than package.json's "engines" asks for says so in one line
// (exit 2) instead of dying on the first missing API (Promise.withResolvers on Node 20).
// Nothing here may import the CLI before the check: its modules need the newer Node.
import { existsSync, readFileSync } from 'node:fs';
import * as nodeModule from 'node:module';

/** Exit code of a command line that cannot run here (the same as a bad flag). */
const UNUSABLE = 2;

/**
 * V8 settings nsync runs with, from a checkout as in the container image (whose Dockerfile sets the
 * same in NODE_OPTIONS; test/runtime-flags.test.ts keeps the two equal), so that memory measured
 * from a checkout is the image's. A young generation of 4 MiB semi-spaces: Node's default lets it
 * grow to 16 MiB each during a large start-up and keeps ~75 MiB more RSS (docs/operations.md).
 */
export const RUNTIME_FLAGS = ['--max-semi-space-size=4'];

/**
 * Makes this process run with RUNTIME_FLAGS: V8 reads them only when it starts, so a process
 * started without them replaces itself (execve: the same pid, no parent left behind) with one that
 * has them. Flags the user set (on the command line or in NODE_OPTIONS) win over ours. Where
 * execve is missing (Windows) nsync runs with Node's defaults.
 */
export function ensureRuntimeFlags() {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const missing = RUNTIME_FLAGS.filter((flag) => {
    const name = flag.split('=')[0];
    return !given.some((arg) => arg === name || arg.startsWith(`${name}=`));
  });
  if (missing.length === 0 || typeof process.execve !== 'function') return;
  try {
    process.execve(
      process.execPath,
      [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)],
      process.env,
    );
  } catch {
    // Not allowed here (a worker thread, a sandbox): run with Node's defaults.
  }
}

/** package.json's "engines.node" range, e.g. ">=24", and the lowest major version it accepts. */
function requiredNode() {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const range = (manifest.engines && manifest.engines.node) || '>=24';
  const match = /^\s*>=?\s*v?(\d+)/.exec(range);
  return { range, major: match ? Number(match[1]) : 24 };
}

/** Why this Node cannot run nsync (one line), or undefined when it can. */
export function unsupportedNode() {
  const required = requiredNode();
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= required.major) return undefined;
  return `needs Node.js ${required.range} (package.json "engines"), but this is Node.js ${process.version} at ${process.execPath}`;
}

/**
 * Checks the Node version, then runs the compiled CLI when present (npm package, container image),
 * else the TypeScript source (a checkout, on Node 24, which strips types itself).
 * `program` is the name usage texts show: `nsync`, or `kubectl nsync` for the kubectl plugin.
 */
export function launch(program) {
  const problem = unsupportedNode();
  if (problem !== undefined) {
    process.stderr.write(`${program}: ${problem}\n`);
    process.exitCode = UNUSABLE;
    return Promise.resolve();
  }
  ensureRuntimeFlags();
  const compiled = new URL('../dist/cli/main.js', import.meta.url);
  const fromSource = !existsSync(compiled);
  // From a checkout, Node strips the TypeScript types of every module with a WebAssembly compiler
  // that stays in memory (~30 MiB of RSS). Node's compile cache keeps the stripped code (keyed by
  // the file's content), so every start after the first loads no compiler and a checkout's memory
  // is the image's. NODE_COMPILE_CACHE chooses the directory, NODE_DISABLE_COMPILE_CACHE=1 turns it off.
  if (fromSource && typeof nodeModule.enableCompileCache === 'function') nodeModule.enableCompileCache();
  const entry = fromSource ? new URL('../src/cli/main.ts', import.meta.url) : compiled;
  return import(entry.href)
    .then(({ main }) => main(process.argv.slice(2), process.env, { program }))
    .then(
      (code) => {
        process.exitCode = code;
      },
      (error) => {
        process.stderr.write(`${program}: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
      },
    );
}
