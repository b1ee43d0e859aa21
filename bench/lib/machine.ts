/**
 * The machine a result came from and how busy it was: the benchmark shares a 2-core machine with
 * other work, so every result carries the load average at its start and end.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { cpuSeconds } from './nsync.ts';

/** `uptime`'s line and the three load averages. */
export interface Load {
  readonly uptime: string;
  readonly loadavg: readonly [number, number, number];
}

/** The load now. */
export function load(): Load {
  let uptime = '';
  try {
    uptime = execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    // uptime(1) missing: the numbers below still say it
  }
  const [one = 0, five = 0, fifteen = 0] = loadavg();
  return { uptime, loadavg: [one, five, fifteen] };
}

/** What the machine is. */
export function machine(): Record<string, string | number> {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/** pids of the control-plane components (the harness' reaper keeps <dir>/<name>.pid files). */
export function componentPid(dir: string, name: 'etcd' | 'kube-apiserver'): number | undefined {
  try {
    return Number(readFileSync(join(dir, `${name}.pid`), 'utf8'));
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by each process of interest. */
export interface CpuSnapshot {
  readonly nsync: number;
  readonly apiserver: number;
  readonly etcd: number;
  readonly bench: number;
}

/** Takes a CPU snapshot (nsync's pid may be undefined when it is not running). */
export function cpuSnapshot(dir: string, nsyncPid: number | undefined): CpuSnapshot {
  const own = process.cpuUsage();
  return {
    nsync: cpuSeconds(nsyncPid),
    apiserver: cpuSeconds(componentPid(dir, 'kube-apiserver')),
    etcd: cpuSeconds(componentPid(dir, 'etcd')),
    bench: (own.user + own.system) / 1e6,
  };
}

/** CPU seconds used between two snapshots, rounded to 10 ms. */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  const d = (a: number, b: number): number => Math.round((b - a) * 100) / 100;
  return {
    nsync: d(before.nsync, after.nsync),
    apiserver: d(before.apiserver, after.apiserver),
    etcd: d(before.etcd, after.etcd),
    bench: d(before.bench, after.bench),
  };
}
