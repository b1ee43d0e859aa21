/**
 * S1 fan-out and S5 API cost. One source pushed to N namespaces, by nsync (as its own process)
 * and by the floor: a minimal client doing exactly N creates and N updates on the same API server
 * at its best concurrency. One long-lived nsync process (as in production) serves every round;
 * it is idle while the floor runs, so the API server has the same watchers in both measurements
 * and only the writer differs. Both sides warm up once before anything is timed; rounds
 * interleave floor and nsync so that background load on the machine hits both.
 *
 * nsync's time runs from the source write's acknowledgement to the watch event of the last mirror
 * carrying the expected content hash; the data of every mirror is then checked with one LIST. The
 * floor's time runs from its first request to the watch event of its last object, on a watch of
 * the same kind (label-selected, metadata-only), so the API server serves the same watchers in
 * both measurements.
 */
import { join } from 'node:path';
import { cpuDelta, cpuSnapshot, load, type CpuSnapshot, type Load } from '../lib/machine.ts';
import { adminCredentials, createNamespaces, KubeClient, pool } from '../lib/kube.ts';
import { freshCluster, ms, type Context } from '../lib/context.ts';
import {
  fakeHash,
  FLOOR_HASH,
  FLOOR_SELECTOR,
  floorBody,
  SOURCE_NAMESPACE,
  sourceBody,
  tlsData,
} from '../lib/data.ts';
import { CHECKOUT, NsyncProcess } from '../lib/nsync.ts';
import { apiserverRequests, byVerb, requestDelta, type RequestDelta } from '../lib/prom.ts';
import { median, round } from '../lib/stats.ts';
import { MirrorWatch, verifyData } from '../lib/watch.ts';
import type { ClusterInfo } from '../../tools/controlplane/harness.ts';

/** One floor measurement. */
export interface FloorRun {
  readonly createConcurrency: number;
  readonly updateConcurrency: number;
  /** First request → watch event of the last object (what the ratio uses, like nsync's time). */
  readonly createMs: number;
  readonly updateMs: number;
  /** First request → last acknowledgement. */
  readonly createAckedMs: number;
  readonly updateAckedMs: number;
  readonly cpu: { readonly create: CpuSnapshot; readonly update: CpuSnapshot };
}

/** One nsync phase (create or update). */
export interface NsyncPhase {
  readonly done: boolean;
  /** Source write acknowledged → last mirror's watch event. */
  readonly ms: number;
  /** Source write acknowledged → first mirror's watch event (nsync's reaction time). */
  readonly firstMs: number | undefined;
  readonly mirrors: number;
  /** CPU seconds during the timed part. */
  readonly cpu: CpuSnapshot;
  /** API server requests from the write until nsync settled, the benchmark's own write removed. */
  readonly requests: readonly RequestDelta[];
  /** nsync's own count of its writes (nsync_writes_total delta). */
  readonly nsyncWrites: number;
  /** Reconciles of the source key until nsync settled (the first plus re-runs its own writes' events trigger). */
  readonly nsyncReconciles: number;
}

/** One nsync fan-out: a new source's creation, then one change of its data. */
export interface NsyncFanout {
  readonly create: NsyncPhase;
  readonly update: NsyncPhase;
  /** Distinct content hashes over the N mirrors after each phase (1: all the same). */
  readonly distinctHashes: { readonly create: number; readonly update: number };
  /** Mirrors whose data (read with one LIST after the timed part) equals the source's. */
  readonly dataCheck: { readonly checked: number; readonly wrong: number };
}

/** One round: a floor run and an nsync fan-out, back to back. */
export interface FanoutRound {
  readonly floor: FloorRun;
  readonly nsync: NsyncFanout;
  readonly ratio: { readonly create: number; readonly update: number };
}

/** S1 + S5 results. */
export interface FanoutResult {
  readonly kubernetes: string;
  readonly namespaces: number;
  readonly load: { readonly start: Load; readonly end: Load };
  /** nsync process start → /readyz 200 (an empty cluster but for the namespaces). */
  readonly readyMs: number;
  /** nsync's first fan-out after start (cold JIT, new connections): information, not in the ratio. */
  readonly warmup: NsyncFanout;
  readonly sweep: readonly FloorRun[];
  readonly best: { readonly createConcurrency: number; readonly updateConcurrency: number };
  readonly rounds: readonly FanoutRound[];
  readonly median: {
    readonly nsync: { readonly createMs: number; readonly updateMs: number };
    readonly floor: { readonly createMs: number; readonly updateMs: number };
    /** median(nsync) / median(floor): what the report shows. */
    readonly ratio: { readonly create: number; readonly update: number };
    /** Median of the per-round ratios (each round's floor and nsync ran back to back). */
    readonly pairedRatio: { readonly create: number; readonly update: number };
  };
  /** S5: requests per mirror in the update phase (and the create phase), by `VERB resource`. */
  readonly apiCost: {
    readonly update: Readonly<Record<string, number>>;
    readonly create: Readonly<Record<string, number>>;
  };
  readonly watchEvents: number;
}

const FIELD_MANAGER = '?fieldManager=bench-floor';

/** The floor's fixed parts: one keep-alive client (warm, like long-lived nsync's) and its own watch. */
interface Floor {
  readonly info: ClusterInfo;
  readonly client: KubeClient;
  readonly watch: MirrorWatch;
  readonly nsync: NsyncProcess;
  readonly namespaces: readonly string[];
}

/**
 * N creates then N updates (PUT with the resourceVersion precondition, as nsync writes) of
 * mirror-shaped objects named `name`, at the given concurrencies. Each phase is timed from its
 * first request to the watch event of its last object, exactly as nsync's phases are.
 */
async function floorRun(
  floor: Floor,
  name: string,
  createConcurrency: number,
  updateConcurrency: number,
): Promise<FloorRun> {
  const { info, client, watch, nsync, namespaces } = floor;
  const keys = namespaces.map((namespace) => `${namespace}/${name}`);
  const first = tlsData();
  const next = tlsData();
  const firstHash = fakeHash();
  const nextHash = fakeHash();
  const creates = namespaces.map((namespace) => JSON.stringify(floorBody(namespace, name, first, firstHash)));
  const versions: string[] = [];
  const timeout = 30_000 + namespaces.length * 100;
  const created = watch.waitAll(keys, (state) => state?.hash === firstHash, timeout);
  const cpu0 = cpuSnapshot(info.dir, nsync.pid);
  const t0 = performance.now();
  await pool(namespaces.length, createConcurrency, async (i) => {
    const answer = await client.call<{ metadata: { resourceVersion: string } }>(
      'POST',
      `/api/v1/namespaces/${namespaces[i] ?? ''}/secrets${FIELD_MANAGER}`,
      creates[i],
    );
    if (answer.status !== 201) throw new Error(`floor create: ${String(answer.status)}`);
    versions[i] = answer.body.metadata.resourceVersion;
  });
  const createAcked = performance.now();
  const createSeen = await created;
  const cpu1 = cpuSnapshot(info.dir, nsync.pid);
  const updates = namespaces.map((namespace, i) =>
    JSON.stringify(floorBody(namespace, name, next, nextHash, versions[i])),
  );
  const updated = watch.waitAll(keys, (state) => state?.hash === nextHash, timeout);
  const cpu2 = cpuSnapshot(info.dir, nsync.pid);
  const t1 = performance.now();
  await pool(namespaces.length, updateConcurrency, async (i) => {
    const answer = await client.call(
      'PUT',
      `/api/v1/namespaces/${namespaces[i] ?? ''}/secrets/${name}${FIELD_MANAGER}`,
      updates[i],
    );
    if (answer.status !== 200) throw new Error(`floor update: ${String(answer.status)}`);
  });
  const updateAcked = performance.now();
  const updateSeen = await updated;
  const cpu3 = cpuSnapshot(info.dir, nsync.pid);
  if (!createSeen.done || !updateSeen.done) throw new Error(`floor ${name}: watch did not see every write`);
  return {
    createConcurrency,
    updateConcurrency,
    createMs: ms(createSeen.at - t0),
    updateMs: ms(updateSeen.at - t1),
    createAckedMs: ms(createAcked - t0),
    updateAckedMs: ms(updateAcked - t1),
    cpu: { create: cpuDelta(cpu0, cpu1), update: cpuDelta(cpu2, cpu3) },
  };
}

/** Removes the benchmark's own requests from a delta (its one source write). */
function withoutOwn(rows: readonly RequestDelta[], verb: string): RequestDelta[] {
  let own = 1;
  return rows.flatMap((row) => {
    if (own > 0 && row.verb === verb && row.resource === 'secrets' && row.code.startsWith('2')) {
      const count = row.count - own;
      own = 0;
      return count === 0 ? [] : [{ ...row, count }];
    }
    return [row];
  });
}

async function nsyncPhase(
  admin: KubeClient,
  info: ClusterInfo,
  nsync: NsyncProcess,
  watch: MirrorWatch,
  keys: readonly string[],
  predicate: Parameters<MirrorWatch['waitAll']>[1],
  write: () => Promise<void>,
  verb: 'POST' | 'PUT',
): Promise<NsyncPhase> {
  const requestsBefore = await apiserverRequests(admin);
  const countersBefore = await nsync.counters();
  const waiting = watch.waitAll(keys, predicate, 30_000 + keys.length * 100);
  const cpu0 = cpuSnapshot(info.dir, nsync.pid);
  await write();
  const acked = performance.now();
  const result = await waiting;
  const cpu1 = cpuSnapshot(info.dir, nsync.pid);
  await nsync.waitSettled({ quietMs: 1000 });
  const requestsAfter = await apiserverRequests(admin);
  const countersAfter = await nsync.counters();
  return {
    done: result.done,
    ms: ms(result.at - acked),
    firstMs: result.first === undefined ? undefined : ms(result.first - acked),
    mirrors: result.satisfied,
    cpu: cpuDelta(cpu0, cpu1),
    requests: withoutOwn(requestDelta(requestsBefore, requestsAfter), verb),
    nsyncWrites: countersAfter.writes - countersBefore.writes,
    nsyncReconciles: countersAfter.reconciles - countersBefore.reconciles,
  };
}

/** Resources S5 reports on (the API server's own background requests, e.g. leases, are left out). */
const COST_RESOURCES = new Set(['secrets', 'configmaps', 'events', 'namespaces']);

/** Requests per mirror by `VERB resource`, medians over rounds. */
function perMirror(phases: readonly NsyncPhase[], mirrors: number): Record<string, number> {
  const keys = new Set(
    phases.flatMap((phase) =>
      Object.keys(byVerb(phase.requests)).filter((key) => COST_RESOURCES.has(key.split(' ')[1] ?? '')),
    ),
  );
  const out: Record<string, number> = {};
  for (const key of [...keys].sort()) {
    out[key] = round(median(phases.map((phase) => (byVerb(phase.requests)[key] ?? 0) / mirrors)), 4);
  }
  return out;
}

/** One nsync fan-out of a new source: create, then one data change; mirrors' data checked after. */
async function nsyncFanout(
  admin: KubeClient,
  info: ClusterInfo,
  nsync: NsyncProcess,
  watch: MirrorWatch,
  namespaces: readonly string[],
  name: string,
): Promise<NsyncFanout> {
  const keys = namespaces.map((namespace) => `${namespace}/${name}`);
  const first = tlsData();
  const create = await nsyncPhase(
    admin,
    info,
    nsync,
    watch,
    keys,
    (state) => state?.hash !== undefined,
    async () => {
      await admin.ok(
        'POST',
        `/api/v1/namespaces/${SOURCE_NAMESPACE}/secrets`,
        sourceBody('Secret', name, first, 'kubernetes.io/tls'),
      );
    },
    'POST',
  );
  const createHashes = watch.hashes(keys);
  const createHash = [...createHashes][0];
  const next = tlsData();
  const update = await nsyncPhase(
    admin,
    info,
    nsync,
    watch,
    keys,
    (state) => state?.hash !== undefined && state.hash !== createHash,
    async () => {
      await admin.ok(
        'PUT',
        `/api/v1/namespaces/${SOURCE_NAMESPACE}/secrets/${name}`,
        sourceBody('Secret', name, next, 'kubernetes.io/tls'),
      );
    },
    'PUT',
  );
  const updateHashes = watch.hashes(keys);
  const dataCheck = await verifyData(admin, 'secrets', (_namespace, object) =>
    object === name ? next : undefined,
  );
  return {
    create,
    update,
    distinctHashes: { create: createHashes.size, update: updateHashes.size },
    dataCheck: { checked: dataCheck.checked, wrong: dataCheck.wrong },
  };
}

/** Runs S1 (and collects S5). */
export async function runFanout(context: Context): Promise<FanoutResult> {
  const { namespaces: n, rounds, concurrencies } = context.profile.fanout;
  const startLoad = load();
  const { cp, admin, kubernetes } = await freshCluster();
  const info = cp.info();
  const watch = new MirrorWatch(admin, 'secrets');
  const floorWatch = new MirrorWatch(admin, 'secrets', FLOOR_SELECTOR, FLOOR_HASH);
  let nsync: NsyncProcess | undefined;
  let floorClient: KubeClient | undefined;
  try {
    const namespaces = Array.from({ length: n }, (_, i) => `fan-${String(i).padStart(4, '0')}`);
    await createNamespaces(admin, [SOURCE_NAMESPACE, ...namespaces]);
    await watch.start();
    await floorWatch.start();
    nsync = NsyncProcess.start(info, join(context.logDir, 's1-nsync.log'), CHECKOUT, context.nsyncArgs);
    const readyAt = await nsync.waitReady();
    await nsync.waitSettled();
    const running = nsync;
    const floorSide: Floor = {
      info,
      client: new KubeClient(adminCredentials(info), { maxSockets: 64 }),
      watch: floorWatch,
      nsync: running,
      namespaces,
    };
    floorClient = floorSide.client;
    const floor = (name: string, create: number, update: number): Promise<FloorRun> =>
      floorRun(floorSide, name, create, update);

    // Both sides warm up once, untimed as a comparison: nsync's first fan-out after start runs
    // on a cold JIT and opens its connections; the floor's first run likewise.
    context.say(`S1: warm-up fan-out to ${String(n)} namespaces (nsync's first after start)`);
    const warmup = await nsyncFanout(admin, info, running, watch, namespaces, 's1-warmup');
    await floor('floor-warmup', 64, 64); // opens the pool's 64 connections

    context.say(`S1: floor concurrency sweep (${concurrencies.join('/')})`);
    const sweep: FloorRun[] = [];
    for (const c of concurrencies) sweep.push(await floor(`floor-sweep-c${String(c)}`, c, c));
    const bestOf = (pick: (run: FloorRun) => number): number =>
      [...sweep].sort((a, b) => pick(a) - pick(b))[0]?.createConcurrency ?? 16;
    const best = {
      createConcurrency: bestOf((run) => run.createMs),
      updateConcurrency: bestOf((run) => run.updateMs),
    };
    context.say(
      `S1: floor best concurrency: create ${String(best.createConcurrency)}, update ${String(best.updateConcurrency)}`,
    );

    const results: FanoutRound[] = [];
    for (let r = 0; r < rounds; r += 1) {
      const floorResult = await floor(`floor-r${String(r)}`, best.createConcurrency, best.updateConcurrency);
      const fanout = await nsyncFanout(admin, info, running, watch, namespaces, `s1-r${String(r)}`);
      results.push({
        floor: floorResult,
        nsync: fanout,
        ratio: {
          create: round(fanout.create.ms / floorResult.createMs, 3),
          update: round(fanout.update.ms / floorResult.updateMs, 3),
        },
      });
      const complete = fanout.create.done && fanout.update.done ? '' : ' — INCOMPLETE';
      context.say(
        `S1 round ${String(r + 1)}/${String(rounds)}: nsync create ${String(fanout.create.ms)} ms (floor ${String(floorResult.createMs)}), update ${String(fanout.update.ms)} ms (floor ${String(floorResult.updateMs)})${complete}`,
      );
    }
    const med = (pick: (round: FanoutRound) => number): number => round(median(results.map(pick)), 1);
    return {
      kubernetes,
      namespaces: n,
      load: { start: startLoad, end: load() },
      readyMs: ms(readyAt - running.spawnedAt),
      warmup,
      sweep,
      best,
      rounds: results,
      median: {
        nsync: { createMs: med((r) => r.nsync.create.ms), updateMs: med((r) => r.nsync.update.ms) },
        floor: { createMs: med((r) => r.floor.createMs), updateMs: med((r) => r.floor.updateMs) },
        ratio: {
          create: round(med((r) => r.nsync.create.ms) / med((r) => r.floor.createMs), 3),
          update: round(med((r) => r.nsync.update.ms) / med((r) => r.floor.updateMs), 3),
        },
        pairedRatio: {
          create: round(median(results.map((r) => r.ratio.create)), 3),
          update: round(median(results.map((r) => r.ratio.update)), 3),
        },
      },
      apiCost: {
        update: perMirror(
          results.map((r) => r.nsync.update),
          n,
        ),
        create: perMirror(
          results.map((r) => r.nsync.create),
          n,
        ),
      },
      watchEvents: watch.events,
    };
  } finally {
    await nsync?.stop();
    floorClient?.close();
    await floorWatch.stop();
    await watch.stop();
    admin.close();
    await cp.stop();
  }
}
