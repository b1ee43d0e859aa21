/**
 * What the fault tests share: the soak switch, bulk namespace creation, a convergence check that
 * compares every mirror in a test's namespaces with the exact desired state, objects planted to
 * prove nothing unowned is touched, nsync as a separate process, and a seeded random source so a
 * failing churn run can be replayed.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Cluster } from '../../tools/controlplane/harness.ts';
import { createObject, eventually, getObject, type TestObject } from '../support/cluster.ts';

/** FAULT_SOAK=1: the long mode (500 namespaces, 10 minutes of churn). */
export const SOAK = process.env['FAULT_SOAK'] === '1';

/** Namespaces of a fan-out: 150 by default, 500 in soak mode. */
export const FANOUT = SOAK ? 500 : 150;

/** The label nsync puts on every mirror it owns. */
export const MANAGED = 'app.kubernetes.io/managed-by=nsync';

/** Runs `work` over `items`, at most `concurrency` at a time. */
export async function inParallel<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Creates namespaces in parallel (a fan-out of 500 created one by one is slow for no reason). */
export async function createManyNamespaces(
  cluster: Cluster,
  names: readonly string[],
  labels: (name: string) => Record<string, string> = () => ({}),
): Promise<void> {
  await inParallel(names, 8, async (name) => {
    const answer = await cluster.api('POST', '/api/v1/namespaces', {
      metadata: { name, labels: labels(name) },
    });
    if (answer.status !== 201) throw new Error(`create namespace ${name}: ${String(answer.status)}`);
  });
}

/** Every object of a kind with the given label selector, in namespaces starting with `prefix-`. */
export async function listObjects(
  cluster: Cluster,
  plural: 'secrets' | 'configmaps',
  prefix: string,
  labelSelector?: string,
): Promise<TestObject[]> {
  const query = labelSelector === undefined ? '' : `?labelSelector=${encodeURIComponent(labelSelector)}`;
  const answer = await cluster.api<{ items: TestObject[] }>('GET', `/api/v1/${plural}${query}`);
  if (answer.status !== 200) throw new Error(`list ${plural}: ${String(answer.status)}`);
  return answer.body.items.filter((item) => item.metadata.namespace.startsWith(`${prefix}-`));
}

/** The desired mirrors: `<namespace>/<name>` → the exact data each must hold. */
export type DesiredMirrors = ReadonlyMap<string, Readonly<Record<string, string>>>;

/** Why the actual mirrors differ from the desired ones, or undefined when they are exactly equal. */
export function mirrorDiff(desired: DesiredMirrors, actual: readonly TestObject[]): string | undefined {
  const seen = new Map<string, TestObject>();
  const duplicates: string[] = [];
  for (const object of actual) {
    const key = `${object.metadata.namespace}/${object.metadata.name}`;
    if (seen.has(key)) duplicates.push(key);
    seen.set(key, object);
  }
  const missing = [...desired.keys()].filter((key) => !seen.has(key));
  const extra = [...seen.keys()].filter((key) => !desired.has(key));
  const stale = [...desired].filter(([key, data]) => {
    const object = seen.get(key);
    if (object === undefined) return false;
    const merged = { ...(object.data ?? {}), ...(object.binaryData ?? {}) };
    return !isDeepEqual(merged, data);
  });
  if (duplicates.length + missing.length + extra.length + stale.length === 0) return undefined;
  const some = (keys: readonly string[]): string => keys.slice(0, 5).join(', ');
  return [
    `${String(missing.length)} missing (${some(missing)})`,
    `${String(extra.length)} extra (${some(extra)})`,
    `${String(stale.length)} stale (${some(stale.map(([key]) => key))})`,
    `${String(duplicates.length)} duplicate`,
  ].join('; ');
}

function isDeepEqual(left: unknown, right: unknown): boolean {
  try {
    assert.deepEqual(left, right);
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits until the objects nsync manages in the test's namespaces are EXACTLY the desired ones:
 * every mirror present with the latest data, nothing extra, nothing duplicated.
 */
export async function convergedEventually(
  what: string,
  cluster: Cluster,
  plural: 'secrets' | 'configmaps',
  prefix: string,
  desired: () => DesiredMirrors,
  timeoutMs = 120_000,
): Promise<TestObject[]> {
  let last = 'not checked yet';
  try {
    return await eventually(
      what,
      async () => {
        const actual = await listObjects(cluster, plural, prefix, MANAGED);
        const diff = mirrorDiff(desired(), actual);
        last = diff ?? 'converged';
        return diff === undefined ? actual : undefined;
      },
      { timeoutMs, intervalMs: 250 },
    );
  } catch (error) {
    throw new Error(`${what}: not converged: ${last}`, { cause: error });
  }
}

/** An object nsync does not own, and how it looked when planted. */
export interface Planted {
  readonly plural: 'secrets' | 'configmaps';
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
}

/** Creates an object nsync does not own (no marker of any dialect) where a mirror would go. */
export async function plantUnowned(
  cluster: Cluster,
  plural: 'secrets' | 'configmaps',
  namespace: string,
  name: string,
): Promise<Planted> {
  const created = await createObject(cluster, plural, namespace, {
    metadata: { name, labels: { owner: 'another-team' } },
    data: { own: plural === 'secrets' ? Buffer.from('theirs').toString('base64') : 'theirs' },
  });
  return {
    plural,
    namespace,
    name,
    uid: created.metadata.uid,
    resourceVersion: created.metadata.resourceVersion,
  };
}

/** Fails unless a planted object is still there, the same object, never written. */
export async function assertUntouched(cluster: Cluster, planted: Planted): Promise<void> {
  const now = await getObject(cluster, planted.plural, planted.namespace, planted.name);
  assert.ok(now, `the unowned ${planted.namespace}/${planted.name} still exists`);
  assert.equal(
    now.metadata.uid,
    planted.uid,
    `the unowned ${planted.namespace}/${planted.name} was not re-created`,
  );
  assert.equal(
    now.metadata.resourceVersion,
    planted.resourceVersion,
    `the unowned ${planted.namespace}/${planted.name} was never written`,
  );
}

/** Verbs that write, as the fault proxy reports them. */
export const WRITE_VERBS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The seed of a fault run: FAULT_SEED to replay one, else a fresh one (printed by the tests). */
export function faultSeed(): number {
  return Number.parseInt(process.env['FAULT_SEED'] ?? String(Date.now() % 1_000_000), 10);
}

/** A deterministic random source (mulberry32): the seed is printed, so a churn run can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** nsync run as operators run it: its own process. */
export interface NsyncProcess {
  readonly child: ChildProcess;
  /** Everything it wrote to stderr (its JSON log). */
  stderr(): string;
  /** Resolves with the exit code (null after a signal). */
  readonly exited: Promise<number | null>;
  /** SIGKILL: no drain, no lease release, writes cut wherever they are. */
  kill(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'nsync.js');

/** Starts `nsync run` against a kubeconfig, confined to namespaces starting with `prefix-`. */
export function spawnNsync(kubeconfig: string, prefix: string, extra: readonly string[] = []): NsyncProcess {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'run',
      `--kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      '--listen=127.0.0.1:0',
      `--exclude-namespaces=*,!${prefix}-*`,
      `--source-namespaces=${prefix}-*`,
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    child,
    stderr: () => stderr,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The value of one sample of a metric in Prometheus text, 0 when absent. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((pair) => line.includes(pair))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/**
 * Teardown in reverse order of set-up, each step run even when an earlier one failed or set-up
 * stopped half-way (a failed before() must not leave a control plane or a proxy running).
 */
export class Teardown {
  private readonly steps: (() => Promise<void>)[] = [];

  /** Registers a step and returns the resource, for `x = teardown.add(await start(), (x) => x.stop())`. */
  add<T>(resource: T, step: (resource: T) => Promise<void>): T {
    this.steps.push(() => step(resource));
    return resource;
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'teardown failed');
  }
}

/** The `msg` of every JSON log line. */
export function logMessages(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return String((JSON.parse(line) as { msg?: unknown }).msg);
      } catch {
        return '';
      }
    });
}
