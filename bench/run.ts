/**
 * `npm run bench [-- --smoke | --quick | --full] [--only=s1,s2,s3] [--nsync-arg=--flag=value …]
 * [--out=dir]`: nsync's benchmark on a real
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
import { runFanout, type FanoutResult } from './scenarios/fanout.ts';
import { runIdle, type IdleResult } from './scenarios/idle.ts';
import { runLatency, type LatencyResult } from './scenarios/latency.ts';

const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
    only: { type: 'string', default: 's1,s2,s3' },
    out: { type: 'string', default: join(import.meta.dirname, 'results') },
    'nsync-arg': { type: 'string', multiple: true, default: [] },
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
const only = new Set(values.only.split(',').map((entry) => entry.trim().toLowerCase()));

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

const workDir = mkdtempSync(join(tmpdir(), `nsync-bench-${profile.name}-`));
const logDir = join(workDir, 'logs');
mkdirSync(logDir);
say(`profile ${profile.name}; logs in ${logDir}; load: ${load().uptime}`);
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
const summary = summarize(fanout, latency, idle);
const date = startedAt.toISOString().slice(0, 10);
const results: Results = {
  profile: profile.name,
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
  settings: { ...profile, nsyncArgs: values['nsync-arg'] },
  load: { start: startLoad, end: load() },
  ...(fanout === undefined ? {} : { fanout }),
  ...(latency === undefined ? {} : { latency }),
  ...(idle === undefined ? {} : { idle }),
  summary,
};

mkdirSync(values.out, { recursive: true });
const base = join(values.out, `${profile.name}-${date}`);
writeFileSync(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(`${base}.svg`, chart(results));
rmSync(join(workDir, 'build'), { recursive: true, force: true });

const kubernetes = [fanout, latency, idle].find(
  (r): r is FanoutResult => r !== undefined && 'kubernetes' in r,
);
process.stdout.write(
  [
    '',
    `nsync benchmark, ${profile.name} profile — ${String(results.machine['cpus'])} CPUs (${String(results.machine['cpuModel'])}), Node ${process.versions.node}, Kubernetes ${kubernetes?.kubernetes ?? '?'}, commit ${results.git.commit}${results.git.uncommittedSrcFiles > 0 ? ` (+${String(results.git.uncommittedSrcFiles)} uncommitted src files)` : ''}`,
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
