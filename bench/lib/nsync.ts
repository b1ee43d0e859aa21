/**
 * nsync as production runs it: its own process (`node bin/nsync.js run`), admin kubeconfig,
 * loopback metrics port chosen by the kernel (read from its "nsync starting" log line), no leader
 * election. The benchmark reads its /readyz, /metrics, and its RSS and CPU time from /proc.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { ClusterInfo } from '../../tools/controlplane/harness.ts';
import { parseProm, sumOf, type Sample } from './prom.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'nsync.js');

/**
 * How nsync is started: `checkout` is `node bin/nsync.js` on the TypeScript sources (Node strips
 * the types at load), as `npm run demo` does; `compiled` is what the container image runs — the
 * tsc output, `node dist/cli/main.js` with the image's NODE_OPTIONS flags (imageNodeFlags) and
 * NODE_ENV=production. `nodeFlags` replaces the Node flags (default: none for checkout).
 */
export type Runtime =
  | { readonly kind: 'checkout'; readonly nodeFlags?: readonly string[] }
  | { readonly kind: 'compiled'; readonly main: string; readonly nodeFlags?: readonly string[] };

/** The checkout runtime. */
export const CHECKOUT: Runtime = { kind: 'checkout' };

/**
 * Compiles src/ with the project's tsconfig.build.json into `dir` (outside the working tree, so
 * nothing appears in it), with node_modules linked beside it. Returns the compiled runtime.
 */
export function compileNsync(dir: string): Runtime {
  const out = join(dir, 'dist');
  try {
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        join(ROOT, 'tsconfig.build.json'),
        '--outDir',
        out,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (error) {
    // Type errors still emit JavaScript; only a missing entry point is fatal.
    if (!existsSync(join(out, 'cli', 'main.js'))) throw error;
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  if (!existsSync(join(dir, 'node_modules')))
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { kind: 'compiled', main: join(out, 'cli', 'main.js'), nodeFlags: imageNodeFlags() };
}

/**
 * The Node flags the container image sets (its NODE_OPTIONS in the Dockerfile), so the compiled
 * runtime is measured exactly as the image runs it, and stays so when the Dockerfile changes.
 */
export function imageNodeFlags(): string[] {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const options = /NODE_OPTIONS="([^"]*)"/.exec(dockerfile)?.[1];
  if (options === undefined) throw new Error('the Dockerfile sets no NODE_OPTIONS="…"');
  return options.split(' ').filter((flag) => flag !== '');
}

/** Clock ticks per second of /proc/<pid>/stat (Linux uses 100 on every common platform). */
const CLOCK_TICKS = 100;

/** CPU seconds (user + system) a process has used, from /proc; 0 when it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** VmRSS and VmHWM (peak) of a process, in bytes. */
export function residentMemory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const kib = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') * 1024, peak: kib('VmHWM') * 1024 };
}

/** Every nsync this process started and has not seen exit: killed if the benchmark dies first. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** What waitSettled() saw. */
export interface Settled {
  /** True when the counters went flat in time. */
  readonly settled: boolean;
  /** performance.now() of the last observed change of the reconcile or write counters. */
  readonly lastChangeAt: number;
  readonly reconciles: number;
  readonly writes: number;
}

/** One running nsync process. */
export class NsyncProcess {
  readonly child: ChildProcess;
  /** performance.now() just before spawn. */
  readonly spawnedAt: number;
  /** Date.now() just before spawn (to compare with log timestamps). */
  readonly spawnedWall: number;
  private readonly log: WriteStream;
  private readonly tail: string[] = [];
  private port: number | undefined;
  private readonly portKnown: Promise<number>;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Date.now() of the "caches synced" log line, when seen. */
  cachesSyncedWall: number | undefined;
  private inspectorUrl: string | undefined;

  private constructor(info: ClusterInfo, logFile: string, runtime: Runtime, extraArgs: readonly string[]) {
    this.log = createWriteStream(logFile, { flags: 'a' });
    // --inspect-port only says where the inspector would listen: it stays off unless S4 sends
    // SIGUSR1 to force a full GC (see liveHeap), so the process runs as in production until then.
    const inspect = '--inspect-port=127.0.0.1:0';
    const flags = runtime.nodeFlags ?? (runtime.kind === 'compiled' ? ['--enable-source-maps'] : []);
    // NSYNC_BENCH_NODE_FLAGS adds Node flags for exploring (e.g. --cpu-prof); never set in a report run.
    const extra = (process.env['NSYNC_BENCH_NODE_FLAGS'] ?? '').split(' ').filter((flag) => flag !== '');
    const entry = [inspect, ...flags, ...extra, runtime.kind === 'checkout' ? BIN : runtime.main];
    const args = [
      ...entry,
      'run',
      `--kubeconfig=${info.admin.kubeconfigPath}`,
      '--listen=127.0.0.1:0',
      '--leader-elect=false',
      ...extraArgs,
    ];
    const env = runtime.kind === 'checkout' ? process.env : { ...process.env, NODE_ENV: 'production' };
    this.spawnedWall = Date.now();
    this.spawnedAt = performance.now();
    this.child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    live.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        resolve({ code, signal });
      });
    });
    let resolvePort: (port: number) => void = () => undefined;
    let rejectPort: (error: Error) => void = () => undefined;
    this.portKnown = new Promise((resolve, reject) => {
      resolvePort = resolve;
      rejectPort = reject;
    });
    // Awaiters see the rejection; a process stopped before anyone asked must not crash the run.
    this.portKnown.catch(() => undefined);
    void this.exited.then(({ code }) => {
      rejectPort(new Error(`nsync exited (${String(code)}) before listening:\n${this.lastLines()}`));
    });
    let pending = '';
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      this.log.write(chunk);
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
        this.onLogLine(line, resolvePort);
        newline = pending.indexOf('\n');
      }
    });
  }

  /** Starts nsync against a control plane, logging to `logFile`. */
  static start(
    info: ClusterInfo,
    logFile: string,
    runtime: Runtime = CHECKOUT,
    extraArgs: readonly string[] = [],
  ): NsyncProcess {
    return new NsyncProcess(info, logFile, runtime, extraArgs);
  }

  private onLogLine(line: string, resolvePort: (port: number) => void): void {
    let entry: { msg?: string; listen?: string; time?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      const inspector = /Debugger listening on (ws:\/\/\S+)/.exec(line);
      if (inspector?.[1] !== undefined) this.inspectorUrl = inspector[1];
      return;
    }
    if (entry.msg === 'nsync starting' && entry.listen !== undefined) {
      this.port = Number(entry.listen.slice(entry.listen.lastIndexOf(':') + 1));
      resolvePort(this.port);
    } else if (entry.msg === 'caches synced' && entry.time !== undefined) {
      this.cachesSyncedWall = Date.parse(entry.time);
    }
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error('nsync has no pid');
    return pid;
  }

  /** The last log lines, for error messages. */
  lastLines(): string {
    return this.tail.join('\n');
  }

  private async get(path: string): Promise<{ status: number; text: string }> {
    // The port comes from the info-level "nsync starting" line; never wait for it forever.
    const port = this.port ?? (await this.portWithin(30_000));
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        response.on('error', reject);
      });
      req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path} timed out`)));
      req.on('error', reject);
      req.end();
    });
  }

  private async portWithin(ms: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`nsync logged no listen address (log level below info?):\n${this.lastLines()}`));
      }, ms);
    });
    try {
      return await Promise.race([this.portKnown, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Polls /readyz until 200; resolves with performance.now() of the first 200. */
  async waitReady(timeoutMs = 60_000, intervalMs = 20): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const answer = await this.get('/readyz').catch(() => undefined);
      if (answer?.status === 200) return performance.now();
      await sleep(intervalMs);
    }
    throw new Error(`nsync not ready after ${String(timeoutMs)} ms:\n${this.lastLines()}`);
  }

  /** nsync's /metrics, parsed. */
  async metrics(): Promise<Sample[]> {
    const answer = await this.get('/metrics');
    return parseProm(answer.text);
  }

  /** Reconciles and writes so far, and the queue depth, from /metrics. */
  async counters(): Promise<{ reconciles: number; writes: number; depth: number; samples: Sample[] }> {
    const samples = await this.metrics();
    return {
      reconciles: sumOf(samples, 'nsync_reconcile_total'),
      writes: sumOf(samples, 'nsync_writes_total'),
      depth: sumOf(samples, 'nsync_workqueue_depth'),
      samples,
    };
  }

  /**
   * Waits until nsync has done at least `minReconciles` reconciles and its reconcile and write
   * counters stayed flat for `quietMs`: the first idle moment. Polls every `intervalMs`.
   */
  async waitSettled(
    options: { minReconciles?: number; quietMs?: number; timeoutMs?: number; intervalMs?: number } = {},
  ): Promise<Settled> {
    const { minReconciles = 0, quietMs = 1000, timeoutMs = 120_000, intervalMs = 100 } = options;
    const deadline = performance.now() + timeoutMs;
    let last = { reconciles: -1, writes: -1 };
    let lastChangeAt = performance.now();
    while (performance.now() < deadline) {
      const now = await this.counters().catch(() => undefined);
      const at = performance.now();
      if (now !== undefined) {
        if (now.reconciles !== last.reconciles || now.writes !== last.writes) {
          last = { reconciles: now.reconciles, writes: now.writes };
          lastChangeAt = at;
        } else if (now.reconciles >= minReconciles && now.depth === 0 && at - lastChangeAt >= quietMs) {
          return { settled: true, lastChangeAt, ...last };
        }
      }
      await sleep(intervalMs);
    }
    return { settled: false, lastChangeAt, ...last };
  }

  /**
   * Forces a full garbage collection through the inspector (activated with SIGUSR1 on its
   * loopback port) and returns V8's heap usage right after it: the live heap, which the
   * heap-used metric (garbage included) only approximates.
   */
  /** The inspector's URL once it logged it (a call: it changes while we wait). */
  private inspector(): string | undefined {
    return this.inspectorUrl;
  }

  async liveHeap(): Promise<{ used: number; total: number }> {
    if (this.inspectorUrl === undefined) {
      process.kill(this.pid, 'SIGUSR1');
      for (let i = 0; i < 100 && this.inspector() === undefined; i += 1) await sleep(50);
    }
    const url = this.inspector();
    if (url === undefined) throw new Error('nsync did not start its inspector on SIGUSR1');
    const socket = new WebSocket(url);
    try {
      await new Promise((resolve, reject) => {
        socket.addEventListener('open', resolve, { once: true });
        socket.addEventListener('error', reject, { once: true });
      });
      const call = (id: number, method: string): Promise<Record<string, unknown>> =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            reject(new Error(`inspector ${method} timed out`));
          }, 30_000);
          socket.addEventListener('message', (event) => {
            const message = JSON.parse(String(event.data)) as {
              id?: number;
              result?: Record<string, unknown>;
            };
            if (message.id !== id) return;
            clearTimeout(timer);
            resolve(message.result ?? {});
          });
          socket.send(JSON.stringify({ id, method }));
        });
      await call(1, 'HeapProfiler.collectGarbage');
      const usage = await call(2, 'Runtime.getHeapUsage');
      return { used: Number(usage['usedSize']), total: Number(usage['totalSize']) };
    } finally {
      socket.close();
    }
  }

  /** SIGTERM, SIGKILL after `graceMs`; resolves with the exit and how long it took. */
  async stop(graceMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const started = performance.now();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      const exit = await this.exited;
      clearTimeout(timer);
      this.log.end();
      return { ...exit, ms: performance.now() - started };
    }
    this.log.end();
    return { ...(await this.exited), ms: 0 };
  }
}

/**
 * RSS of a reference process on the same Node binary after `settleMs`: `bare` does nothing,
 * `libraries` only imports the libraries nsync loads on its normal path (pino, prom-client,
 * js-yaml, re2js). The fixed part of nsync's memory, to read S4 against.
 */
export async function referenceRss(kind: 'bare' | 'libraries', settleMs = 3000): Promise<number> {
  const code =
    kind === 'bare'
      ? 'setTimeout(() => {}, 600000);'
      : "await Promise.all(['pino', 'prom-client', 'js-yaml', 're2js'].map((name) => import(name))); setTimeout(() => {}, 600000);";
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, stdio: 'ignore' });
  live.add(child);
  try {
    await sleep(settleMs);
    return residentMemory(child.pid ?? 0).rss;
  } finally {
    child.kill('SIGKILL');
    live.delete(child);
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
