// The one start-up path of the `nsync` and `kubectl-nsync` commands. Written for any Node that can
// load an ES module, so an older Node than package.json's "engines" asks for says so in one line
// (exit 2) instead of dying on the first missing API (Promise.withResolvers on Node 20).
// Nothing here may import the CLI before the check: its modules need the newer Node.
import { existsSync, readFileSync } from 'node:fs';

/** Exit code of a command line that cannot run here (the same as a bad flag). */
const UNUSABLE = 2;

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
  const compiled = new URL('../dist/cli/main.js', import.meta.url);
  const entry = existsSync(compiled) ? compiled : new URL('../src/cli/main.ts', import.meta.url);
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
