/**
 * S2 latency. One source pushed to 20 namespaces; successive source updates, each timed from the
 * write's acknowledgement to the watch event of the last mirror carrying the new content hash
 * (the next update is written as soon as the previous one has landed everywhere); then new
 * namespaces, each timed from its creation's acknowledgement to its mirror's watch event.
 */
import { join } from 'node:path';
import { freshCluster, type Context } from '../lib/context.ts';
import { SOURCE_NAMESPACE, sourceBody, tlsData } from '../lib/data.ts';
import { createNamespaces, type KubeClient } from '../lib/kube.ts';
import { load, type Load } from '../lib/machine.ts';
import { CHECKOUT, NsyncProcess } from '../lib/nsync.ts';
import { apiserverRequests, byVerb, requestDelta } from '../lib/prom.ts';
import { percentile, round } from '../lib/stats.ts';
import { MirrorWatch, verifyData } from '../lib/watch.ts';

/** Percentiles of a latency series, in ms. */
export interface Latencies {
  readonly count: number;
  readonly failed: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  /** Every sample, in order. */
  readonly samples: readonly number[];
}

/** S2 results. */
export interface LatencyResult {
  readonly kubernetes: string;
  readonly namespaces: number;
  readonly load: { readonly start: Load; readonly end: Load };
  /** Source update → last mirror updated. */
  readonly update: Latencies;
  /** Source update → first mirror updated (nsync's reaction time). */
  readonly updateFirst: Latencies;
  /** New namespace → its mirror exists. */
  readonly newNamespace: Latencies;
  /** Requests per update per mirror over the update series (the benchmark's own writes removed). */
  readonly requestsPerUpdatePerMirror: Readonly<Record<string, number>>;
  /** Updates after which the mirrors did not all carry one new content hash (should be 0). */
  readonly inconsistentUpdates: number;
  readonly dataCheck: { readonly checked: number; readonly wrong: number };
}

/** Percentiles and samples of a latency series (ms), with how many timed out. */
export function latencies(samples: readonly number[], failed: number): Latencies {
  return {
    count: samples.length,
    failed,
    p50: round(percentile(samples, 50), 1),
    p95: round(percentile(samples, 95), 1),
    p99: round(percentile(samples, 99), 1),
    max: round(Math.max(...samples), 1),
    samples: samples.map((value) => round(value, 1)),
  };
}

/** What a series of successive source updates measured. */
export interface UpdateSeries {
  /** Write acknowledged → last mirror's watch event, ms, per update that landed everywhere. */
  readonly last: number[];
  /** Write acknowledged → first mirror's watch event, ms. */
  readonly first: number[];
  /** Updates that did not land on every mirror within 10 s. */
  readonly failed: number;
  /** Updates after which the mirrors did not all carry one new content hash. */
  readonly mixed: number;
  /** The source's data after the last update (undefined: no update), and the mirrors' content hash then. */
  readonly data: Record<string, string> | undefined;
  readonly hash: string | undefined;
}

/**
 * `updates` successive data changes of the TLS Secret `name` in SOURCE_NAMESPACE, each timed from
 * the write's acknowledgement to the watch event of the last of `keys` carrying a new content
 * hash; the next is written once the previous one has landed everywhere (S2, and S6's latency).
 * `annotations` are the source's (default: pushed everywhere); `before` runs, untimed, before
 * each write (S6 waits for nsync to be idle, as S1 does before each phase).
 */
export async function updateSeries(
  admin: KubeClient,
  watch: MirrorWatch,
  keys: readonly string[],
  name: string,
  updates: number,
  annotations?: Readonly<Record<string, string>>,
  before?: () => Promise<unknown>,
): Promise<UpdateSeries> {
  const path = `/api/v1/namespaces/${SOURCE_NAMESPACE}/secrets/${name}`;
  let hash = [...watch.hashes(keys)][0];
  const seen = new Set<string | undefined>([hash]);
  const last: number[] = [];
  const first: number[] = [];
  let failed = 0;
  let mixed = 0;
  let data: Record<string, string> | undefined;
  for (let i = 0; i < updates; i += 1) {
    await before?.();
    data = tlsData();
    const previous = hash;
    const waiting = watch.waitAll(
      keys,
      (state) => state?.hash !== undefined && state.hash !== previous,
      10_000,
    );
    await admin.ok('PUT', path, sourceBody('Secret', name, data, 'kubernetes.io/tls', annotations));
    const acked = performance.now();
    const result = await waiting;
    if (!result.done) {
      failed += 1;
      continue;
    }
    last.push(result.at - acked);
    if (result.first !== undefined) first.push(result.first - acked);
    const hashes = watch.hashes(keys);
    if (hashes.size !== 1) mixed += 1;
    hash = [...hashes][0];
    if (seen.has(hash)) mixed += 1;
    seen.add(hash);
  }
  return { last, first, failed, mixed, data, hash };
}

/** Runs S2. */
export async function runLatency(context: Context): Promise<LatencyResult> {
  const { namespaces: n, updates, newNamespaces } = context.profile.latency;
  const startLoad = load();
  const { cp, admin, kubernetes } = await freshCluster();
  const info = cp.info();
  const watch = new MirrorWatch(admin, 'secrets');
  const name = 'latency';
  let nsync: NsyncProcess | undefined;
  try {
    const namespaces = Array.from({ length: n }, (_, i) => `lat-${String(i).padStart(2, '0')}`);
    await createNamespaces(admin, [SOURCE_NAMESPACE, ...namespaces]);
    await watch.start();
    nsync = NsyncProcess.start(info, join(context.logDir, 's2-nsync.log'), CHECKOUT, context.nsyncArgs);
    await nsync.waitReady();
    await nsync.waitSettled();
    const keys = namespaces.map((namespace) => `${namespace}/${name}`);
    let data = tlsData();
    const created = watch.waitAll(keys, (state) => state?.hash !== undefined, 30_000);
    await admin.ok(
      'POST',
      `/api/v1/namespaces/${SOURCE_NAMESPACE}/secrets`,
      sourceBody('Secret', name, data, 'kubernetes.io/tls'),
    );
    if (!(await created).done) throw new Error(`S2: mirrors not created:\n${nsync.lastLines()}`);
    await nsync.waitSettled();

    context.say(`S2: ${String(updates)} successive updates of a source pushed to ${String(n)} namespaces`);
    const requestsBefore = await apiserverRequests(admin);
    const series = await updateSeries(admin, watch, keys, name, updates);
    data = series.data ?? data;
    const hash = series.hash;
    const { last, first, failed, mixed } = series;
    await nsync.waitSettled();
    const requestsAfter = await apiserverRequests(admin);
    const perVerb = byVerb(requestDelta(requestsBefore, requestsAfter));
    perVerb['PUT secrets'] = (perVerb['PUT secrets'] ?? 0) - updates; // the benchmark's own source writes
    const requestsPerUpdatePerMirror = Object.fromEntries(
      Object.entries(perVerb)
        .filter(([, count]) => count !== 0)
        .map(([key, count]) => [key, round(count / updates / n, 4)]),
    );

    context.say(`S2: ${String(newNamespaces)} new namespaces`);
    const fresh: number[] = [];
    let freshFailed = 0;
    for (let i = 0; i < newNamespaces; i += 1) {
      const namespace = `lat-new-${String(i).padStart(2, '0')}`;
      const current = hash;
      const waiting = watch.waitAll([`${namespace}/${name}`], (state) => state?.hash === current, 10_000);
      await admin.ok('POST', '/api/v1/namespaces', { metadata: { name: namespace } });
      const acked = performance.now();
      const result = await waiting;
      if (result.done) fresh.push(result.at - acked);
      else freshFailed += 1;
    }
    const dataCheck = await verifyData(admin, 'secrets', (_ns, object) =>
      object === name ? data : undefined,
    );
    return {
      kubernetes,
      namespaces: n,
      load: { start: startLoad, end: load() },
      update: latencies(last, failed),
      updateFirst: latencies(first, 0),
      newNamespace: latencies(fresh, freshFailed),
      requestsPerUpdatePerMirror,
      inconsistentUpdates: mixed,
      dataCheck: { checked: dataCheck.checked, wrong: dataCheck.wrong },
    };
  } finally {
    await nsync?.stop();
    await watch.stop();
    admin.close();
    await cp.stop();
  }
}
