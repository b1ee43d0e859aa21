/**
 * `npm run bench [-- --smoke | --quick | --full] [--only=s1,s2,s3,s6] [--nsync-arg=--flag=value …]
 * [--out=dir]`, or `npm run bench -- --scale [--scale-namespaces=N] [--scale-batches=20,20,…]
 * [--scale-idle=S] [--scale-resync=S]`
 * (the scale profile, not in CI): nsync's benchmark on a real
 * control plane on loopback, nsync running as its own process. Prints a table, writes
 * bench/results/<profile>-<date>.json and .svg. See bench/README.md.
 *
 * Not a test: it asserts nothing about time. It exits non-zero only when a scenario could not
 * run at all (e.g. the control plane did not start).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Context } from './lib/context.ts';
import { load, machine } from './lib/machine.ts';
import { compileNsync } from './lib/nsync.ts';
import { PROFILES, type Profile } from './lib/profiles.ts';
import { chart, summarize, table, type Failed, type Results } from './lib/report.ts';
import { chartScale, summarizeScale } from './lib/report-scale.ts';
import { runFanout, type FanoutResult } from './scenarios/fanout.ts';
import { runIdle, type IdleResult } from './scenarios/idle.ts';
import { runLatency, type LatencyResult } from './scenarios/latency.ts';
import { runRemoteDown, type RemoteDownResult } from './scenarios/remote.ts';
import { runScale, SCALE, type ScaleResult } from './scenarios/scale.ts';

/**
 * The scenarios a run without --only runs. S6 needs a second control plane and a fresh nsync per
 * set-up and round (about two minutes even at smoke size), so the smoke profile `npm test` runs
 * leaves it out; `--smoke --only=s6` runs it small.
 */
const DEFAULT_ONLY = 's1,s2,s3,s6';
const SMOKE_DEFAULT_ONLY = 's1,s2,s3';

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: join(import.meta.dirname, 'results') },
    'nsync-arg': { type: 'string', multiple: true, default: [] },
    scale: { type: 'boolean', default: false },
    'scale-namespaces': { type: 'string' },
    'scale-batches': { type: 'string' },
    'scale-idle': { type: 'string' },
    'scale-resync': { type: 'string' },
  },
  strict: true,
});
const chosen = [values.smoke && 'smoke', values.quick && 'quick', values.full && 'full'].filter(
  (name): name is Profile['name'] => typeof name === 'string',
);
if (chosen.length > 1) {
  process.stderr.write('bench: choose one of --smoke, --quick, --full\n');
  process.exit(2);
}
const profile = PROFILES[chosen[0] ?? 'quick'];
const scaleProfile = {
  ...SCALE,
  ...(values['scale-namespaces'] === undefined ? {} : { namespaces: Number(values['scale-namespaces']) }),
  ...(values['scale-batches'] === undefined
    ? {}
    : { batches: values['scale-batches'].split(',').map((count) => Number(count)) }),
  ...(values['scale-idle'] === undefined ? {} : { idleSeconds: Number(values['scale-idle']) }),
  ...(values['scale-resync'] === undefined ? {} : { resyncSeconds: Number(values['scale-resync']) }),
};
if (
  !Number.isInteger(scaleProfile.namespaces) ||
  scaleProfile.namespaces < 1 ||
  scaleProfile.batches.some((count) => !Number.isInteger(count) || count < 1) ||
  !(scaleProfile.idleSeconds > 0 && scaleProfile.resyncSeconds > 0)
) {
  process.stderr.write(
    'bench: --scale-namespaces, --scale-batches, --scale-idle and --scale-resync take positive numbers\n',
  );
  process.exit(2);
}
const profileName = values.scale ? 'scale' : profile.name;
const defaultOnly = profile.name === 'smoke' ? SMOKE_DEFAULT_ONLY : DEFAULT_ONLY;
const onlyText = values.only ?? defaultOnly;
const only = values.scale
  ? new Set(['scale'])
  : new Set(onlyText.split(',').map((entry) => entry.trim().toLowerCase()));

const started = performance.now();
const startedAt = new Date();
const say = (message: string): void => {
  const seconds = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${seconds} s] ${message}\n`);
};

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: join(import.meta.dirname, '..'), encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

const workDir = mkdtempSync(join(tmpdir(), `nsync-bench-${profileName}-`));
const logDir = join(workDir, 'logs');
mkdirSync(logDir);
say(`profile ${profileName}; logs in ${logDir}; load: ${load().uptime}`);
say('compiling nsync as the image does (tsc -p tsconfig.build.json, into the work directory)');
const context: Context = {
  profile,
  logDir,
  compiled: compileNsync(join(workDir, 'build')),
  nsyncArgs: values['nsync-arg'],
  say,
};

async function attempt<T>(name: string, run: () => Promise<T>): Promise<T | Failed | undefined> {
  if (!only.has(name)) return undefined;
  try {
    return await run();
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    say(`${name} failed: ${message}`);
    return { error: message.split('\n')[0] ?? message };
  }
}

const startLoad = load();
const fanout: FanoutResult | Failed | undefined = await attempt('s1', () => runFanout(context));
const latency: LatencyResult | Failed | undefined = await attempt('s2', () => runLatency(context));
const idle: IdleResult | Failed | undefined = await attempt('s3', () => runIdle(context));
const remote: RemoteDownResult | Failed | undefined = await attempt('s6', () => runRemoteDown(context));
const scale: ScaleResult | Failed | undefined = await attempt('scale', () => runScale(context, scaleProfile));
const summary =
  scale === undefined
    ? summarize(fanout, latency, idle, remote)
    : 'error' in scale
      ? [{ scenario: 'SC', measure: 'failed', value: scale.error, goal: '', met: false, load: '' }]
      : summarizeScale(scale);
const date = startedAt.toISOString().slice(0, 10);
const results: Results = {
  profile: profileName,
  date,
  startedAt: startedAt.toISOString(),
  durationSeconds: Math.round((performance.now() - started) / 1000),
  machine: machine(),
  git: {
    commit: git(['rev-parse', '--short', 'HEAD']),
    uncommittedSrcFiles: git(['status', '--porcelain', '--', 'src'])
      .split('\n')
      .filter((line) => line !== '').length,
  },
  settings: values.scale
    ? { ...scaleProfile, nsyncArgs: values['nsync-arg'] }
    : { ...profile, nsyncArgs: values['nsync-arg'] },
  load: { start: startLoad, end: load() },
  ...(fanout === undefined ? {} : { fanout }),
  ...(latency === undefined ? {} : { latency }),
  ...(idle === undefined ? {} : { idle }),
  ...(remote === undefined ? {} : { remote }),
  ...(scale === undefined ? {} : { scale }),
  summary,
};

mkdirSync(values.out, { recursive: true });
const scaleTag = values.scale
  ? `-${String(scaleProfile.namespaces * scaleProfile.batches.reduce((a, b) => a + b, 0))}`
  : '';
// A subset run (--only) is named by its scenarios, so it never overwrites the profile's full results.
const subsetTag = values.scale || onlyText === defaultOnly ? '' : `-${[...only].sort().join('-')}`;
const base = join(values.out, `${profileName}${scaleTag}${subsetTag}-${date}`);
writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(
  `${base}.svg`,
  scale !== undefined && !('error' in scale)
    ? chartScale(
        scale,
        `nsync benchmark — scale profile, ${date}`,
        `${String(results.machine['cpus'])} × ${String(results.machine['cpuModel'])}, ${String(results.machine['node'])}; load ${startLoad.loadavg[0].toFixed(2)} → ${results.load.end.loadavg[0].toFixed(2)}; commit ${results.git.commit}`,
      )
    : chart(results),
);
rmSync(join(workDir, 'build'), { recursive: true, force: true });

const kubernetes = [fanout, latency, idle, remote, scale].find(
  (r): r is FanoutResult => r !== undefined && 'kubernetes' in r,
);
process.stdout.write(
  [
    '',
    `nsync benchmark, ${profileName} profile — ${String(results.machine['cpus'])} CPUs (${String(results.machine['cpuModel'])}), Node ${process.versions.node}, Kubernetes ${kubernetes?.kubernetes ?? '?'}, commit ${results.git.commit}${results.git.uncommittedSrcFiles > 0 ? ` (+${String(results.git.uncommittedSrcFiles)} uncommitted src files)` : ''}`,
    `load at start: ${startLoad.uptime}`,
    `load at end:   ${results.load.end.uptime}`,
    '',
    table(summary),
    '',
    `results: ${base}.json, ${base}.svg; nsync logs: ${logDir}; ${String(results.durationSeconds)} s`,
    '',
  ].join('\n'),
);
process.exitCode = summary.some((row) => row.measure === 'failed') ? 1 : 0;
