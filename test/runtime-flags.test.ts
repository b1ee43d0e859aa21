/**
 * One runtime: `node bin/nsync.js` runs with the V8 settings of the container image, so memory
 * measured from a checkout is the image's (bin/launch.js, Dockerfile NODE_OPTIONS).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..');
/** bin/launch.js is plain JavaScript (it must load on old Nodes): imported by URL, typed here. */
const launcher = new URL('../bin/launch.js', import.meta.url).href;
const { RUNTIME_FLAGS } = (await import(launcher)) as { RUNTIME_FLAGS: readonly string[] };

test("the launcher's V8 flags are the image's NODE_OPTIONS V8 flags", () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const options = /NODE_OPTIONS="([^"]*)"/.exec(dockerfile)?.[1] ?? '';
  const v8Flags = options.split(/\s+/).filter((flag) => flag !== '' && flag !== '--enable-source-maps');
  assert.deepEqual(v8Flags, RUNTIME_FLAGS);
});

test('a process started without the flags replaces itself with one that has them; flags given win', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nsync-flags-'));
  try {
    const probe = join(dir, 'probe.mjs');
    writeFileSync(
      probe,
      [
        `import { ensureRuntimeFlags } from ${JSON.stringify(join(ROOT, 'bin', 'launch.js'))};`,
        'ensureRuntimeFlags();',
        'process.stdout.write(JSON.stringify({ execArgv: process.execArgv, argv: process.argv.slice(2) }));',
      ].join('\n'),
    );
    const run = (
      args: readonly string[],
      env: NodeJS.ProcessEnv = {},
    ): { execArgv: string[]; argv: string[] } =>
      JSON.parse(
        execFileSync(process.execPath, [...args, probe, 'run', '--flag=x'], {
          encoding: 'utf8',
          env: { ...process.env, NODE_OPTIONS: '', ...env },
        }),
      ) as { execArgv: string[]; argv: string[] };

    const plain = run([]);
    for (const flag of RUNTIME_FLAGS)
      assert.ok(plain.execArgv.includes(flag), `${flag} in ${plain.execArgv.join(' ')}`);
    assert.deepEqual(plain.argv, ['run', '--flag=x'], 'arguments survive the relaunch');

    const own = run(['--max-semi-space-size=16']);
    assert.deepEqual(own.execArgv, ['--max-semi-space-size=16'], 'a flag the user gave is kept, not doubled');

    const viaEnv = run([], { NODE_OPTIONS: '--max-semi-space-size=8' });
    assert.deepEqual(viaEnv.execArgv, [], 'NODE_OPTIONS counts as given');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a checkout keeps Node's compile cache, so later starts load no TypeScript compiler", () => {
  const cache = mkdtempSync(join(tmpdir(), 'nsync-compile-cache-'));
  try {
    // No NODE_COMPILE_CACHE (which alone would turn the cache on): the launcher must, into the
    // default directory under the temporary directory.
    const { NODE_DISABLE_COMPILE_CACHE: _off, NODE_COMPILE_CACHE: _dir, ...env } = process.env;
    const version = execFileSync(process.execPath, [join(ROOT, 'bin', 'nsync.js'), 'version'], {
      encoding: 'utf8',
      env: { ...env, TMPDIR: cache },
    });
    assert.match(version, /\d+\.\d+\.\d+/);
    const cached = readdirSync(cache, { recursive: true }).length;
    assert.ok(cached > 0, 'the stripped modules were cached');
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});
