/**
 * A real Prometheus server (Debian's `prometheus` package, installed by .ci/run) on loopback with
 * its own temporary storage, and the parts of its HTTP API the monitoring tests read.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { eventually } from './cluster.ts';

/** One series of a query result: its labels and value. */
export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: string;
}

/** A running Prometheus. */
export interface RunningPrometheus {
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** An instant query at the current time; throws on a PromQL or evaluation error. */
  query(expr: string): Promise<Sample[]>;
  /** The label sets of the series a selector matches over the last `lookbackSeconds`. */
  series(selector: string, lookbackSeconds?: number): Promise<Record<string, string>[]>;
  /** The values of a label among the series a selector matches. */
  labelValues(label: string, selector: string): Promise<string[]>;
  /** GET of an API path (e.g. `/api/v1/rules`), its `data`. */
  get<T>(path: string): Promise<T>;
  /** What it wrote to stderr (its log), for failure messages. */
  log(): string;
  /** SIGTERM, wait, remove its storage. */
  stop(): Promise<void>;
}

/**
 * Starts `prometheus` with the given configuration (written as prometheus.yml in a temporary
 * directory, with the rules files given by name and content beside it), on 127.0.0.1 at a port
 * the kernel chooses; resolves once it answers /-/ready.
 */
export async function startPrometheus(
  binary: string,
  config: object,
  files: Readonly<Record<string, string>> = {},
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'nsync-prometheus-'));
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  const child = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      // Port 0: no race for a free port with other test files; the log says which one it got.
      '--web.listen-address=127.0.0.1:0',
      '--storage.tsdb.retention.time=1h',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  // Fails set-up at once when prometheus exits (bad flag, bad config) instead of at a deadline.
  const died = exited.then((code) => {
    throw new Error(`prometheus exited ${String(code)}:\n${stderr}`);
  });
  died.catch(() => undefined);
  try {
    const url = await Promise.race([
      died,
      eventually(
        'prometheus to listen',
        () => {
          // "Listening on" with the bound address, in the logfmt of 2.x and the slog text of 3.x.
          const line = stderr.split('\n').find((l) => l.includes('msg="Listening on"'));
          const address = line?.match(/address=(127\.0\.0\.1:\d+)/)?.[1];
          return address === undefined ? undefined : `http://${address}`;
        },
        { timeoutMs: 60_000 },
      ),
    ]);
    await Promise.race([
      died,
      eventually(
        'prometheus to be ready',
        async () => {
          const response = await fetch(`${url}/-/ready`).catch(() => undefined);
          return response?.ok === true ? true : undefined;
        },
        { timeoutMs: 60_000 },
      ),
    ]);

    const get = async <T>(path: string): Promise<T> => {
      const response = await fetch(`${url}${path}`);
      const body = (await response.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') {
        throw new Error(`prometheus ${path}: ${String(body.error)}`);
      }
      return body.data;
    };
    const now = (): number => Date.now() / 1000;
    return {
      url,
      get,
      async query(expr) {
        const data = await get<{ resultType: string; result: unknown }>(
          `/api/v1/query?query=${encodeURIComponent(expr)}&time=${String(now())}`,
        );
        if (data.resultType === 'vector') {
          return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map(
            (sample) => ({ metric: sample.metric, value: sample.value[1] }),
          );
        }
        // A scalar (e.g. time()) is one value without labels.
        const [, value] = data.result as [number, string];
        return [{ metric: {}, value }];
      },
      series(selector, lookbackSeconds = 300) {
        const end = now();
        return get<Record<string, string>[]>(
          `/api/v1/series?match[]=${encodeURIComponent(selector)}&start=${String(end - lookbackSeconds)}&end=${String(end)}`,
        );
      },
      labelValues(label, selector) {
        return get<string[]>(
          `/api/v1/label/${encodeURIComponent(label)}/values?match[]=${encodeURIComponent(selector)}`,
        );
      },
      log: () => stderr,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
