/**
 * `npm run test:matrix`: the integration suite on the other supported Kubernetes releases, one
 * after another, so the range stated in the README is proven rather than assumed. CI runs the
 * newest pinned release only (`npm test`); this runs the rest, outside CI, since each release is
 * a cold build of minutes plus a whole suite.
 *
 *   npm run test:matrix                        every pinned release but the newest
 *   npm run test:matrix -- --all               every pinned release
 *   npm run test:matrix -- 1.34 1.35           these releases
 *   npm run test:matrix -- 1.34 -- test/seed.test.ts test/mirror.test.ts   a subset of files
 *
 * Each release runs with NSYNC_KUBE_VERSION set, so the shared control plane and every private
 * one a test starts are that release. Prints one summary line per release; exits 1 if any failed.
 */
import { execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlPlaneBinaries } from './harness.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

interface Outcome {
  readonly version: string;
  readonly counts: Readonly<Record<string, number>>;
  readonly exitCode: number;
  readonly seconds: number;
}

function parseArgs(argv: readonly string[]): { versions: string[]; files: string[] } {
  const split = argv.indexOf('--');
  const own = split === -1 ? [...argv] : argv.slice(0, split);
  const files = split === -1 ? [] : argv.slice(split + 1);
  const pinned = execFileSync('bash', [join(here, 'build.sh'), '--list'], { encoding: 'utf8' })
    .trim()
    .split('\n');
  const all = own.includes('--all');
  const named = own.filter((arg) => arg !== '--all');
  const versions = named.length > 0 ? named : all ? pinned : pinned.slice(1);
  return { versions, files: files.length > 0 ? files : ['test/**/*.test.ts'] };
}

/** Runs the integration suite on one release, echoing its output, and reads the runner's totals. */
async function runSuite(version: string, files: readonly string[]): Promise<Outcome> {
  const started = performance.now();
  let binaries;
  try {
    // Built before the clock of any test starts, as ensure.ts does for npm test.
    binaries = controlPlaneBinaries(version);
  } catch (error) {
    console.error(`test:matrix: could not build Kubernetes ${version}:`, error);
    return { version, counts: {}, exitCode: 1, seconds: (performance.now() - started) / 1000 };
  }
  console.log(`\n=== Kubernetes ${binaries.version}, etcd ${binaries.etcdVersion} (${binaries.dir})`);
  const child = spawn(
    process.execPath,
    [
      '--test',
      '--test-concurrency=2',
      '--test-timeout=180000',
      '--test-global-setup=test/support/global-setup.ts',
      '--test-reporter=spec',
      ...files,
    ],
    {
      cwd: root,
      env: { ...process.env, NSYNC_KUBE_VERSION: binaries.version },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    output += chunk.toString('utf8');
  });
  const exitCode = await new Promise<number>((resolve) => {
    child.once('close', (code) => {
      resolve(code ?? 1);
    });
  });
  const counts: Record<string, number> = {};
  for (const match of output.matchAll(/^ℹ (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gmu)) {
    counts[match[1] ?? ''] = Number(match[2]);
  }
  return { version: binaries.version, counts, exitCode, seconds: (performance.now() - started) / 1000 };
}

const { versions, files } = parseArgs(process.argv.slice(2));
console.log(`test:matrix: Kubernetes ${versions.join(', ')}; files: ${files.join(' ')}`);
const outcomes: Outcome[] = [];
for (const version of versions) outcomes.push(await runSuite(version, files));

console.log('\ntest:matrix summary');
for (const { version, counts, exitCode, seconds } of outcomes) {
  const tally = ['tests', 'pass', 'fail', 'cancelled', 'skipped']
    .map((k) => `${k} ${counts[k] ?? '?'}`)
    .join(', ');
  console.log(`  ${version}: ${exitCode === 0 ? 'ok  ' : 'FAIL'} ${tally} (${Math.round(seconds)} s)`);
}
process.exitCode = outcomes.every((outcome) => outcome.exitCode === 0) ? 0 : 1;
