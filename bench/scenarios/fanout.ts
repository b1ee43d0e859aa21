/**
 * S1 fan-out and S5 API cost. One source pushed to N namespaces, by nsync (as its own process)
 * and by two floors, each doing exactly N creates and N updates on the same API server at its
 * best concurrency: a minimal Node HTTP/1.1 client, and client-go over HTTP/2 (bench/floor-go).
 * nsync is judged against the better of the two. One long-lived nsync process (as in production) serves every round;
 * it is idle while the floor runs, so the API server has the same watchers in both measurements
 * and only the writer differs. Both sides warm up once before anything is timed; rounds
 * interleave floor and nsync so that background load on the machine hits both, and the order
 * within a round rotates so that a phase of the API server's own does not always hit one side.
 *
 * nsync's time runs from the source write's acknowledgement to the watch event of the last mirror
 * carrying the expected content hash; the data of every mirror is then checked with one LIST. The
 * floor's time runs from its first request to the watch event of its last object, on a watch of
 * the same kind (label-selected, metadata-only), so the API server serves the same watchers in
 * both measurements.
 */
import { join } from 'node:path';
import { cpuDelta, cpuSnapshot, load, type CpuSnapshot, type Load } from '../lib/machine.ts';
import { adminCredentials, createNamespaces, KubeClient } from '../lib/kube.ts';
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
import { buildGoFloor, GoFloor } from '../lib/floor-go.ts';
import { GoFloorWriter, NodeFloorWriter, type FloorKind, type FloorWriter } from '../lib/floor-writers.ts';
import { CHECKOUT, NsyncProcess } from '../lib/nsync.ts';
import { apiserverRequests, byVerb, requestDelta, type RequestDelta } from '../lib/prom.ts';
import { median, round } from '../lib/stats.ts';
import { MirrorWatch, verifyData } from '../lib/watch.ts';
import type { ClusterInfo } from '../../tools/controlplane/harness.ts';

/** One floor measurement. */
export interface FloorRun {
  readonly kind: FloorKind;
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

/** `items` rotated left by `by`: round r starts with the r-th contestant. */
function rotated<T>(items: readonly T[], by: number): T[] {
  const shift = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** One round: the floors' runs and an nsync fan-out, back to back. */
export interface FanoutRound {
  /** The Node floor. */
  readonly floor: FloorRun;
  /** The client-go floor, where Go is available. */
  readonly goFloor?: FloorRun;
  readonly nsync: NsyncFanout;
  /** nsync / the best floor (by median) of each phase, in this round. */
  readonly ratio: { readonly create: number; readonly update: number };
}

/** Median create and update times. */
export interface PhaseTimes {
  readonly createMs: number;
  readonly updateMs: number;
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
  /** Every floor's concurrency sweep. */
  readonly sweep: readonly FloorRun[];
  /** The Node floor's best concurrencies. */
  readonly best: { readonly createConcurrency: number; readonly updateConcurrency: number };
  /** The client-go floor's best concurrencies, or why it did not run. */
  readonly goFloor:
    | { readonly createConcurrency: number; readonly updateConcurrency: number }
    | { readonly unavailable: string };
  readonly rounds: readonly FanoutRound[];
  readonly median: {
    readonly nsync: PhaseTimes;
    /** The Node floor. */
    readonly floor: PhaseTimes;
    readonly goFloor?: PhaseTimes;
    /** The floor with the lower median, per phase. */
    readonly bestFloor: { readonly create: FloorKind; readonly update: FloorKind };
    /** median(nsync) / median(best floor): what the report shows. */
    readonly ratio: { readonly create: number; readonly update: number };
    /** Median of the per-round ratios against the best floor (back to back in each round). */
    readonly pairedRatio: { readonly create: number; readonly update: number };
    /** median(nsync) / median(Node floor), as reported before the client-go floor existed. */
    readonly ratioNodeFloor: { readonly create: number; readonly update: number };
  };
  /** S5: requests per mirror in the update phase (and the create phase), by `VERB resource`. */
  readonly apiCost: {
    readonly update: Readonly<Record<string, number>>;
    readonly create: Readonly<Record<string, number>>;
  };
  readonly watchEvents: number;
}

/** The floors' fixed parts: warm writers (like long-lived nsync's) and their own watch. */
interface Floor {
  readonly info: ClusterInfo;
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
  writer: FloorWriter,
  name: string,
  createConcurrency: number,
  updateConcurrency: number,
): Promise<FloorRun> {
  const { info, watch, nsync, namespaces } = floor;
  const keys = namespaces.map((namespace) => `${namespace}/${name}`);
  const first = tlsData();
  const next = tlsData();
  const firstHash = fakeHash();
  const nextHash = fakeHash();
  const timeout = 30_000 + namespaces.length * 100;
  await writer.prepare(
    'create',
    namespaces.map((namespace) => JSON.stringify(floorBody(namespace, name, first, firstHash))),
  );
  const created = watch.waitAll(keys, (state) => state?.hash === firstHash, timeout);
  const cpu0 = cpuSnapshot(info.dir, nsync.pid);
  const t0 = performance.now();
  const versions = await writer.run(createConcurrency);
  const createAcked = performance.now();
  const createSeen = await created;
  const cpu1 = cpuSnapshot(info.dir, nsync.pid);
  await writer.prepare(
    'update',
    namespaces.map((namespace, i) => JSON.stringify(floorBody(namespace, name, next, nextHash, versions[i]))),
  );
  const updated = watch.waitAll(keys, (state) => state?.hash === nextHash, timeout);
  const cpu2 = cpuSnapshot(info.dir, nsync.pid);
  const t1 = performance.now();
  await writer.run(updateConcurrency);
  const updateAcked = performance.now();
  const updateSeen = await updated;
  const cpu3 = cpuSnapshot(info.dir, nsync.pid);
  if (!createSeen.done || !updateSeen.done) throw new Error(`floor ${name}: watch did not see every write`);
  return {
    kind: writer.kind,
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

/**
 * One nsync fan-out of a new source: create, then one data change; mirrors' data checked after.
 * `annotations` replace the source's default push to every namespace (S6 shares this with S1).
 */
export async function nsyncFanout(
  admin: KubeClient,
  info: ClusterInfo,
  nsync: NsyncProcess,
  watch: MirrorWatch,
  namespaces: readonly string[],
  name: string,
  annotations?: Readonly<Record<string, string>>,
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
        sourceBody('Secret', name, first, 'kubernetes.io/tls', annotations),
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
        sourceBody('Secret', name, next, 'kubernetes.io/tls', annotations),
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
  let goFloor: GoFloor | undefined;
  try {
    const namespaces = Array.from({ length: n }, (_, i) => `fan-${String(i).padStart(4, '0')}`);
    await createNamespaces(admin, [SOURCE_NAMESPACE, ...namespaces]);
    await watch.start();
    await floorWatch.start();
    nsync = NsyncProcess.start(info, join(context.logDir, 's1-nsync.log'), CHECKOUT, context.nsyncArgs);
    const readyAt = await nsync.waitReady();
    await nsync.waitSettled();
    const running = nsync;
    const floorSide: Floor = { info, watch: floorWatch, nsync: running, namespaces };
    floorClient = new KubeClient(adminCredentials(info), { maxSockets: 64 });
    const writers: FloorWriter[] = [new NodeFloorWriter(floorClient)];
    const goBuild = buildGoFloor();
    if ('path' in goBuild) {
      goFloor = GoFloor.start(goBuild.path, info.admin.kubeconfigPath);
      writers.push(new GoFloorWriter(goFloor));
    } else {
      context.say(`S1: ${goBuild.unavailable}; the Node floor alone`);
    }
    const floor = (writer: FloorWriter, name: string, create: number, update: number): Promise<FloorRun> =>
      floorRun(floorSide, writer, `${writer.kind}-${name}`, create, update);

    // Both sides warm up once, untimed as a comparison: nsync's first fan-out after start runs
    // on a cold JIT and opens its connections; each floor's first run likewise.
    context.say(`S1: warm-up fan-out to ${String(n)} namespaces (nsync's first after start)`);
    const warmup = await nsyncFanout(admin, info, running, watch, namespaces, 's1-warmup');
    for (const writer of writers) await floor(writer, 'floor-warmup', 64, 64); // opens the Node pool's 64 connections

    const sweep: FloorRun[] = [];
    const bestOf = new Map<FloorKind, { createConcurrency: number; updateConcurrency: number }>();
    for (const writer of writers) {
      context.say(`S1: ${writer.kind} floor concurrency sweep (${concurrencies.join('/')})`);
      const runs: FloorRun[] = [];
      for (const c of concurrencies) runs.push(await floor(writer, `floor-sweep-c${String(c)}`, c, c));
      sweep.push(...runs);
      const fastest = (pick: (run: FloorRun) => number): number =>
        [...runs].sort((a, b) => pick(a) - pick(b))[0]?.createConcurrency ?? 16;
      const best = {
        createConcurrency: fastest((run) => run.createMs),
        updateConcurrency: fastest((run) => run.updateMs),
      };
      bestOf.set(writer.kind, best);
      context.say(
        `S1: ${writer.kind} floor best concurrency: create ${String(best.createConcurrency)}, update ${String(best.updateConcurrency)}`,
      );
    }

    const played: { floors: Map<FloorKind, FloorRun>; nsync: NsyncFanout }[] = [];
    for (let r = 0; r < rounds; r += 1) {
      const floors = new Map<FloorKind, FloorRun>();
      let fanout: NsyncFanout | undefined;
      // The order rotates from round to round: the API server has phases of its own (in a fixed
      // order nsync, always last, met one in rounds 3-7 of every run: twice the API server's CPU
      // for the same 1,000 creates), and a fixed order hands such a phase to the same side every time.
      for (const turn of rotated([...writers, 'nsync' as const], r)) {
        if (turn === 'nsync') {
          fanout = await nsyncFanout(admin, info, running, watch, namespaces, `s1-r${String(r)}`);
          continue;
        }
        const best = bestOf.get(turn.kind) ?? { createConcurrency: 16, updateConcurrency: 16 };
        floors.set(
          turn.kind,
          await floor(turn, `floor-r${String(r)}`, best.createConcurrency, best.updateConcurrency),
        );
      }
      if (fanout === undefined) throw new Error('S1: a round without nsync');
      played.push({ floors, nsync: fanout });
      const complete = fanout.create.done && fanout.update.done ? '' : ' — INCOMPLETE';
      const floorsSay = [...floors.values()]
        .map((run) => `${run.kind} floor ${String(run.createMs)}/${String(run.updateMs)}`)
        .join(', ');
      context.say(
        `S1 round ${String(r + 1)}/${String(rounds)}: nsync create/update ${String(fanout.create.ms)}/${String(fanout.update.ms)} ms; ${floorsSay}${complete}`,
      );
    }
    const medianOf = (kind: FloorKind, pick: (run: FloorRun) => number): number =>
      round(
        median(played.flatMap((p) => (p.floors.has(kind) ? [pick(p.floors.get(kind) as FloorRun)] : []))),
        1,
      );
    const kinds = writers.map((writer) => writer.kind);
    const bestKind = (pick: (run: FloorRun) => number): FloorKind =>
      [...kinds].sort((a, b) => medianOf(a, pick) - medianOf(b, pick))[0] ?? 'node';
    const bestFloor = { create: bestKind((run) => run.createMs), update: bestKind((run) => run.updateMs) };
    const results: FanoutRound[] = played.map((p) => {
      const node = p.floors.get('node') as FloorRun;
      const go = p.floors.get('go');
      const createFloor = p.floors.get(bestFloor.create) ?? node;
      const updateFloor = p.floors.get(bestFloor.update) ?? node;
      return {
        floor: node,
        ...(go === undefined ? {} : { goFloor: go }),
        nsync: p.nsync,
        ratio: {
          create: round(p.nsync.create.ms / createFloor.createMs, 3),
          update: round(p.nsync.update.ms / updateFloor.updateMs, 3),
        },
      };
    });
    const med = (pick: (round: FanoutRound) => number): number => round(median(results.map(pick)), 1);
    const nsyncTimes = { createMs: med((r) => r.nsync.create.ms), updateMs: med((r) => r.nsync.update.ms) };
    const nodeTimes = {
      createMs: medianOf('node', (r) => r.createMs),
      updateMs: medianOf('node', (r) => r.updateMs),
    };
    const goTimes = kinds.includes('go')
      ? { createMs: medianOf('go', (r) => r.createMs), updateMs: medianOf('go', (r) => r.updateMs) }
      : undefined;
    const timesOf = (kind: FloorKind): PhaseTimes =>
      kind === 'go' && goTimes !== undefined ? goTimes : nodeTimes;
    const goBest = bestOf.get('go');
    return {
      kubernetes,
      namespaces: n,
      load: { start: startLoad, end: load() },
      readyMs: ms(readyAt - running.spawnedAt),
      warmup,
      sweep,
      best: bestOf.get('node') ?? { createConcurrency: 16, updateConcurrency: 16 },
      goFloor: goBest ?? { unavailable: 'unavailable' in goBuild ? goBuild.unavailable : 'not run' },
      rounds: results,
      median: {
        nsync: nsyncTimes,
        floor: nodeTimes,
        ...(goTimes === undefined ? {} : { goFloor: goTimes }),
        bestFloor,
        ratio: {
          create: round(nsyncTimes.createMs / timesOf(bestFloor.create).createMs, 3),
          update: round(nsyncTimes.updateMs / timesOf(bestFloor.update).updateMs, 3),
        },
        pairedRatio: {
          create: round(median(results.map((r) => r.ratio.create)), 3),
          update: round(median(results.map((r) => r.ratio.update)), 3),
        },
        ratioNodeFloor: {
          create: round(nsyncTimes.createMs / nodeTimes.createMs, 3),
          update: round(nsyncTimes.updateMs / nodeTimes.updateMs, 3),
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
    goFloor?.close();
    await floorWatch.stop();
    await watch.stop();
    admin.close();
    await cp.stop();
  }
}
