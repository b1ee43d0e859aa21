/**
 * An older Node than package.json's "engines" asks for gets one line saying which Node nsync needs
 * and exit 2, for every command of both executables (`nsync`, `kubectl-nsync`), instead of a crash
 * on the first missing API. Run with the machine's own Node when it is older (Debian's is 20):
 * inside npm scripts PATH puts the project's Node 24 first, so it is found past node_modules.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..');
const required = (
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }
).engines.node;
const requiredMajor = Number(/\d+/.exec(required)?.[0]);

/** Major version of a Node executable, or undefined when it does not run. */
function majorOf(node: string): number | undefined {
  try {
    return Number(execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).split('.')[0]);
  } catch {
    return undefined;
  }
}

/** The first Node on this machine older than the one package.json requires, outside node_modules. */
function olderNode(): { path: string; major: number } | undefined {
  const candidates = [
    ...(process.env['PATH'] ?? '')
      .split(delimiter)
      .filter((dir) => dir !== '' && !dir.includes('node_modules')),
    '/usr/bin',
    '/usr/local/bin',
  ].map((dir) => join(dir, 'node'));
  const seen = new Set<string>([realpathSync(process.execPath)]);
  for (const candidate of candidates) {
    let real: string;
    try {
      accessSync(candidate, constants.X_OK);
      real = realpathSync(candidate);
    } catch {
      continue;
    }
    if (seen.has(real)) continue;
    seen.add(real);
    const major = majorOf(real);
    if (major !== undefined && major < requiredMajor) return { path: candidate, major };
  }
  return undefined;
}

const older = olderNode();
const commands = [
  ['version'],
  ['--help'],
  ['run', '--kubeconfig=/nonexistent'],
  ['explain', 'secret/x', '-n', 'default', '-o', 'json'],
  [],
];

test(
  `every command on a Node older than ${String(requiredMajor)} says which Node it needs and exits 2`,
  {
    skip:
      older === undefined
        ? `no Node older than ${String(requiredMajor)} on this machine (PATH outside node_modules, /usr/bin, /usr/local/bin)`
        : false,
  },
  async (t) => {
    const node = older?.path ?? '';
    t.diagnostic(`older Node: ${node} (major ${String(older?.major)})`);
    for (const executable of ['nsync.js', 'kubectl-nsync.js']) {
      for (const args of commands) {
        const outcome = await promisify(execFile)(node, [join(root, 'bin', executable), ...args]).then(
          ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
          (error: unknown) => error as { code: number; stdout: string; stderr: string },
        );
        const what = `${executable} ${args.join(' ')}`;
        assert.equal(outcome.code, 2, `${what}: exit 2; stderr: ${outcome.stderr}`);
        assert.equal(outcome.stdout, '', `${what}: nothing on stdout`);
        const lines = outcome.stderr.split('\n').filter((line) => line !== '');
        assert.equal(lines.length, 1, `${what}: one line: ${outcome.stderr}`);
        assert.match(
          lines[0] ?? '',
          new RegExp(
            `^(kubectl )?nsync: needs Node\\.js >=${String(requiredMajor)} .*Node\\.js v${String(older?.major)}\\.`,
          ),
          what,
        );
      }
    }
  },
);

test(`the same commands run on this Node (${process.version})`, async () => {
  for (const executable of ['nsync.js', 'kubectl-nsync.js']) {
    const { stdout } = await promisify(execFile)(process.execPath, [
      join(root, 'bin', executable),
      'version',
    ]);
    assert.match(stdout, /^\d+\.\d+\.\d+\n$/, executable);
  }
});
