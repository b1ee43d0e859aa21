/**
 * The scale profile (`npm run bench -- --scale`, not in CI): N namespaces × S sources (half
 * Secrets, half ConfigMaps) pushed everywhere — 1,000 × 100 = 100,000 mirrors by default — with
 * nsync in the image runtime (compiled, the Dockerfile's NODE_OPTIONS).
 *
 * The sources are created in batches (20 at a time by default); after each batch, once every
 * mirror exists and nsync is idle, its memory is measured (RSS, live heap after a forced full GC):
 * how memory grows from 20,000 to 100,000 mirrors. The initial sync time is the sum of the
 * batches' times (sources created → last mirror's watch event), compared with each floor making
 * the same number of objects in the same batches. At full size: writes while idle, across a
 * restart (start → ready, → every source reconciled) and over forced resyncs.
 */
import { join } from 'node:path';
import { freshCluster, ms, type Context } from '../lib/context.ts';
import {
  fakeHash,
  FLOOR_HASH,
  FLOOR_SELECTOR,
  floorBody,
  smallConfigData,
  smallSecretData,
  SOURCE_NAMESPACE,
  createSources,
} from '../lib/data.ts';
import { buildGoFloor, GoFloor } from '../lib/floor-go.ts';
import { GoFloorWriter, NodeFloorWriter, type FloorKind, type FloorWriter } from '../lib/floor-writers.ts';
import { adminCredentials, createNamespaces, KubeClient } from '../lib/kube.ts';
import { load, type Load } from '../lib/machine.ts';
import { NsyncProcess, sleep } from '../lib/nsync.ts';
import { MirrorWatch, verifyData } from '../lib/watch.ts';
import { memory, restart, window, type Memory, type Restart, type Window } from './idle.ts';

/** Sizes of the scale profile. */
export interface ScaleProfile {
  readonly namespaces: number;
  /** Sources created per batch (half Secrets, half ConfigMaps); their sum is the total. */
  readonly batches: readonly number[];
  readonly idleSeconds: number;
  readonly resyncSeconds: number;
  readonly memorySamples: number;
  /** Concurrencies tried for each floor on one batch before the timed floor runs. */
  readonly floorConcurrencies: readonly number[];
}

/** 1,000 namespaces × 100 sources in five batches of 20. */
export const SCALE: ScaleProfile = {
  namespaces: 1000,
  batches: [20, 20, 20, 20, 20],
  // Long enough for V8's memory reducer (it shrinks the heap grown by the sync ~100 s after it).
  idleSeconds: 150,
  resyncSeconds: 60,
  memorySamples: 5,
  floorConcurrencies: [16, 32, 64],
};

/** One batch of sources, and nsync after it. */
export interface ScaleStep {
  readonly sources: number;
  readonly mirrors: number;
  /** Sources created → last mirror's watch event. */
  readonly syncMs: number;
  readonly done: boolean;
  readonly memory: Memory;
}

/** A floor making the same objects in the same batches. */
export interface ScaleFloor {
  readonly kind: FloorKind;
  readonly concurrency: number;
  readonly batchMs: readonly number[];
  readonly totalMs: number;
}

/** The scale profile's results. */
export interface ScaleResult {
  readonly kubernetes: string;
  readonly namespaces: number;
  readonly sources: number;
  readonly mirrors: number;
  readonly load: { readonly start: Load; readonly end: Load };
  readonly steps: readonly ScaleStep[];
  /** nsync's initial sync: the sum of the batches. */
  readonly syncMs: number;
  readonly dataCheck: { readonly checked: number; readonly wrong: number };
  readonly idle: Window;
  /** At the end of the idle window, after V8's memory reducer had its chance. */
  readonly memoryIdle: Memory;
  readonly restart: Restart;
  /** The restarted process at full size: it listed every mirror instead of writing them. */
  readonly memoryAfterRestart: Memory;
  readonly resync: { readonly periodSeconds: number; readonly window: Window };
  readonly floors: readonly ScaleFloor[];
  readonly goFloorUnavailable?: string;
}

interface Source {
  readonly kind: 'Secret' | 'ConfigMap';
  readonly plural: 'secrets' | 'configmaps';
  readonly name: string;
  readonly data: Record<string, string>;
}

function sourcesOf(count: number, offset: number): Source[] {
  return Array.from({ length: count }, (_, i) => {
    const index = offset + i;
    const secret = index % 2 === 0;
    return {
      kind: secret ? 'Secret' : 'ConfigMap',
      plural: secret ? 'secrets' : 'configmaps',
      name: `scale-${secret ? 'secret' : 'config'}-${String(index).padStart(3, '0')}`,
      data: secret ? smallSecretData() : smallConfigData(),
    };
  });
}

/** A floor writes `count` objects per namespace, batch by batch, timed to the last watch event. */
async function floorBatches(
  writer: FloorWriter,
  watch: MirrorWatch,
  namespaces: readonly string[],
  batches: readonly number[],
  concurrency: number,
  tag: string,
): Promise<number[]> {
  const times: number[] = [];
  let offset = 0;
  for (const count of batches) {
    const hash = fakeHash();
    const names = Array.from(
      { length: count },
      (_, i) => `floor-${tag}-${String(offset + i).padStart(3, '0')}`,
    );
    offset += count;
    const keys = names.flatMap((name) => namespaces.map((namespace) => `${namespace}/${name}`));
    await writer.prepare(
      'create',
      names.flatMap((name) =>
        namespaces.map((namespace) =>
          JSON.stringify(floorBody(namespace, name, smallSecretData(), hash, undefined, 'Opaque')),
        ),
      ),
    );
    const seen = watch.waitAll(keys, (state) => state?.hash === hash, 120_000 + keys.length * 5);
    const t0 = performance.now();
    await writer.run(concurrency);
    const result = await seen;
    if (!result.done) throw new Error(`${writer.kind} floor ${tag}: the watch did not see every object`);
    times.push(ms(result.at - t0));
  }
  return times;
}

/** Runs the scale profile. */
export async function runScale(context: Context, profile: ScaleProfile): Promise<ScaleResult> {
  const startLoad = load();
  const { cp, admin, kubernetes } = await freshCluster();
  const info = cp.info();
  const watches = {
    secrets: new MirrorWatch(admin, 'secrets'),
    configmaps: new MirrorWatch(admin, 'configmaps'),
  };
  const floorWatch = new MirrorWatch(admin, 'secrets', FLOOR_SELECTOR, FLOOR_HASH);
  const log = (name: string): string => join(context.logDir, `scale-${name}.log`);
  const holder = { current: NsyncProcess.start(info, log('nsync-1'), context.compiled, context.nsyncArgs) };
  let floorClient: KubeClient | undefined;
  let goFloor: GoFloor | undefined;
  try {
    const namespaces = Array.from(
      { length: profile.namespaces },
      (_, i) => `scale-${String(i).padStart(4, '0')}`,
    );
    await createNamespaces(admin, [SOURCE_NAMESPACE, ...namespaces], 32);
    await watches.secrets.start();
    await watches.configmaps.start();
    await holder.current.waitReady();
    await holder.current.waitSettled();

    const steps: ScaleStep[] = [];
    const all: Source[] = [];
    for (const count of profile.batches) {
      const batch = sourcesOf(count, all.length);
      all.push(...batch);
      const mirrors = all.length * namespaces.length;
      context.say(
        `scale: +${String(count)} sources → ${String(all.length)} × ${String(namespaces.length)} = ${String(mirrors)} mirrors`,
      );
      const waits = (['secrets', 'configmaps'] as const).map((plural) =>
        watches[plural].waitAll(
          batch
            .filter((source) => source.plural === plural)
            .flatMap((source) => namespaces.map((namespace) => `${namespace}/${source.name}`)),
          (state) => state?.hash !== undefined,
          120_000 + count * namespaces.length * 20,
        ),
      );
      const t0 = performance.now();
      await createSources(admin, batch);
      const done = await Promise.all(waits);
      const syncMs = ms(Math.max(...done.map((result) => result.at)) - t0);
      await holder.current.waitSettled({ quietMs: 2000, timeoutMs: 600_000 });
      await sleep(2000);
      const measured = await memory(holder.current, profile.memorySamples);
      steps.push({
        sources: all.length,
        mirrors,
        syncMs,
        done: done.every((result) => result.done),
        memory: measured,
      });
      context.say(
        `scale: ${String(mirrors)} mirrors in sync after ${String(syncMs)} ms; RSS ${String(measured.rssMiB)} MiB, live heap ${String(measured.liveHeapMiB)} MiB`,
      );
    }
    const expected = (plural: string) => (_namespace: string, name: string) =>
      all.find((source) => source.plural === plural && source.name === name)?.data;
    const checks = await Promise.all(
      (['secrets', 'configmaps'] as const).map((plural) => verifyData(admin, plural, expected(plural))),
    );

    context.say(`scale: idle for ${String(profile.idleSeconds)} s`);
    const idle = await window(
      admin,
      () => holder.current,
      () => sleep(profile.idleSeconds * 1000),
    );
    const memoryIdle = await memory(holder.current, profile.memorySamples);
    context.say(
      `scale: idle writes ${String(idle.writes)}; RSS ${String(memoryIdle.rssMiB)} MiB, live heap ${String(memoryIdle.liveHeapMiB)} MiB after ${String(profile.idleSeconds)} s idle; restarting nsync`,
    );
    const restarted = await restart(
      admin,
      info,
      holder,
      all.length,
      log('nsync-2'),
      context.nsyncArgs,
      context.compiled,
    );
    await sleep(2000);
    const memoryAfterRestart = await memory(holder.current, profile.memorySamples);
    context.say(
      `scale: restart: ready ${String(restarted.readyMs)} ms, reconciled ${String(restarted.reconciledMs)} ms, writes ${String(restarted.window.writes)}; RSS ${String(memoryAfterRestart.rssMiB)} MiB, live heap ${String(memoryAfterRestart.liveHeapMiB)} MiB`,
    );
    await holder.current.stop();
    holder.current = NsyncProcess.start(info, log('nsync-resync'), context.compiled, [
      ...context.nsyncArgs,
      `--resync-period=${String(profile.resyncSeconds)}s`,
    ]);
    await holder.current.waitReady(120_000);
    await holder.current.waitSettled({ minReconciles: all.length, quietMs: 1000, timeoutMs: 300_000 });
    context.say(`scale: forced resyncs (--resync-period=${String(profile.resyncSeconds)}s, three of them)`);
    const resyncWindow = await window(
      admin,
      () => holder.current,
      () => sleep(profile.resyncSeconds * 3000 + 1000),
    );
    context.say(`scale: resync writes ${String(resyncWindow.writes)}; the floors make the same objects`);
    await holder.current.stop();

    await floorWatch.start();
    floorClient = new KubeClient(adminCredentials(info), { maxSockets: 64 });
    const writers: FloorWriter[] = [new NodeFloorWriter(floorClient)];
    const goBuild = buildGoFloor();
    if ('path' in goBuild) {
      goFloor = GoFloor.start(goBuild.path, info.admin.kubeconfigPath);
      writers.push(new GoFloorWriter(goFloor));
    } else {
      context.say(`scale: ${goBuild.unavailable}`);
    }
    const firstBatch = profile.batches.slice(0, 1).map(() => 1);
    const floors: ScaleFloor[] = [];
    for (const writer of writers) {
      // A short sweep on one object per namespace picks the concurrency.
      let best = { concurrency: profile.floorConcurrencies[0] ?? 32, ms: Infinity };
      for (const c of profile.floorConcurrencies) {
        const [time = Infinity] = await floorBatches(
          writer,
          floorWatch,
          namespaces,
          firstBatch,
          c,
          `${writer.kind}-c${String(c)}`,
        );
        if (time < best.ms) best = { concurrency: c, ms: time };
      }
      const batchMs = await floorBatches(
        writer,
        floorWatch,
        namespaces,
        profile.batches,
        best.concurrency,
        writer.kind,
      );
      const totalMs = ms(batchMs.reduce((a, b) => a + b, 0));
      floors.push({ kind: writer.kind, concurrency: best.concurrency, batchMs, totalMs });
      context.say(`scale: ${writer.kind} floor (c=${String(best.concurrency)}): ${String(totalMs)} ms`);
    }
    const mirrors = all.length * namespaces.length;
    return {
      kubernetes,
      namespaces: namespaces.length,
      sources: all.length,
      mirrors,
      load: { start: startLoad, end: load() },
      steps,
      syncMs: ms(steps.reduce((total, step) => total + step.syncMs, 0)),
      dataCheck: {
        checked: checks.reduce((total, check) => total + check.checked, 0),
        wrong: checks.reduce((total, check) => total + check.wrong, 0),
      },
      idle,
      memoryIdle,
      restart: restarted,
      memoryAfterRestart,
      resync: { periodSeconds: profile.resyncSeconds, window: resyncWindow },
      floors,
      ...('unavailable' in goBuild ? { goFloorUnavailable: goBuild.unavailable } : {}),
    };
  } finally {
    await holder.current.stop();
    floorClient?.close();
    goFloor?.close();
    await floorWatch.stop();
    await watches.secrets.stop();
    await watches.configmaps.stop();
    admin.close();
    await cp.stop();
  }
}
