/**
 * S3 idle and restart, S4 memory. M namespaces × 20 sources (10 Secrets, 10 ConfigMaps) in sync.
 *
 * S3: an idle window, then a restart (SIGTERM, start again). Writes are counted by the API
 * server (apiserver_request_total before/after; nothing but nsync writes in those windows);
 * readiness is the first /readyz 200 after the process started, "reconciled" the first moment
 * nsync's reconcile counter has covered every source and gone flat.
 *
 * S4: nsync's RSS and heap after it is ready and idle, once with the S3 set-up alone and once
 * more with unrelated 256 KiB Secrets spread over the namespaces (a fresh process each time).
 */
import { join } from 'node:path';
import { freshCluster, ms, type Context } from '../lib/context.ts';
import {
  createSources,
  randomBase64,
  smallConfigData,
  smallSecretData,
  SOURCE_NAMESPACE,
} from '../lib/data.ts';
import { createNamespaces, pool, type KubeClient } from '../lib/kube.ts';
import {
  CHECKOUT,
  cpuSeconds,
  NsyncProcess,
  referenceRss,
  residentMemory,
  sleep,
  type Runtime,
} from '../lib/nsync.ts';
import { load, type Load } from '../lib/machine.ts';
import {
  apiserverRequests,
  byVerb,
  countOf,
  requestDelta,
  sumOf,
  writesOn,
  type RequestDelta,
} from '../lib/prom.ts';
import { median } from '../lib/stats.ts';
import { MirrorWatch, verifyData } from '../lib/watch.ts';
import { installCrds } from '../../tools/controlplane/crds.ts';
import type { ClusterInfo, ControlPlane } from '../../tools/controlplane/harness.ts';

const MIRRORED = ['secrets', 'configmaps'];

/** Writes and reads the API server served in a window. */
export interface Window {
  readonly seconds: number;
  /** POST/PUT/PATCH/DELETE/APPLY on secrets and configmaps. */
  readonly writes: number;
  /** Writes on the status of ClusterMirrors (docs/api.md: written only when it changes). */
  readonly statusWrites: number;
  /** GET on secrets and configmaps (nsync reads only sources). */
  readonly gets: number;
  readonly lists: number;
  /** Every request by `VERB resource`. */
  readonly requests: Readonly<Record<string, number>>;
  /** nsync's own counters over the window. */
  readonly nsyncReconciles: number;
  readonly nsyncWrites: number;
  readonly nsyncCpuSeconds: number;
}

/** One restart. */
export interface Restart {
  readonly exit: { readonly code: number | null; readonly signal: string | null; readonly ms: number };
  /** Process start → first /readyz 200. */
  readonly readyMs: number;
  /** Process start → "caches synced" log line. */
  readonly cachesSyncedMs: number | undefined;
  /** Process start → every source reconciled (counters flat). */
  readonly reconciledMs: number;
  readonly settled: boolean;
  readonly window: Window;
}

/**
 * nsync's memory while idle. First, as it runs: RSS (median of one sample a second; it creeps up
 * while the young generation fills with garbage, then plateaus) and the heap-used metric (garbage
 * included). Then a full GC forced through the inspector gives the live heap and the RSS after it.
 */
export interface Memory {
  readonly samples: number;
  readonly rssMiB: number;
  readonly maxRssMiB: number;
  /** VmHWM: the process' peak RSS so far (start-up list included). */
  readonly peakRssMiB: number;
  /** V8 heap in use after a forced full GC: what the process really keeps. */
  readonly liveHeapMiB: number;
  readonly rssAfterGcMiB: number;
  /** nsync_nodejs_heap_size_used_bytes before the GC (garbage included): median and minimum. */
  readonly heapUsedMedianMiB: number;
  readonly heapUsedMinMiB: number;
  readonly heapTotalMiB: number;
  readonly processResidentMiB: number;
  readonly externalMiB: number;
}

/** S3 + S4 results. */
export interface IdleResult {
  readonly kubernetes: string;
  readonly namespaces: number;
  readonly sources: number;
  readonly mirrors: number;
  /** ClusterMirrors present during S3. */
  readonly resources: number;
  readonly load: { readonly start: Load; readonly end: Load };
  /** Creating every mirror from scratch (information: aggregate fan-out throughput). */
  readonly setup: { readonly ms: number; readonly mirrorsPerSecond: number; readonly done: boolean };
  readonly dataCheck: { readonly checked: number; readonly wrong: number };
  readonly idle: Window;
  readonly restart: Restart;
  /**
   * A process started with a short --resync-period, watched over three resyncs: what the periodic
   * resync (default 10 min, beyond any idle window here) costs. Expected: reconciles, no writes,
   * no reads (sources are cached by resourceVersion).
   */
  readonly resync: { readonly periodSeconds: number; readonly window: Window };
  /** S4: each figure from a fresh process, ready and idle; `withLive` is the process that watched them being created. */
  readonly memory: {
    readonly unrelatedSecrets: number;
    readonly unrelatedKiB: number;
    readonly unrelatedRoles: number;
    readonly unrelatedRoleBindings: number;
    readonly createUnrelatedMs: number;
    readonly checkout: { readonly without: Memory; readonly with: Memory };
    readonly compiled: { readonly without: Memory; readonly with: Memory; readonly withLive: Memory };
    /** RSS of Node doing nothing, and of Node that only imported nsync's runtime libraries. */
    readonly reference: { readonly bareNodeMiB: number; readonly librariesMiB: number };
    readonly restarts: {
      readonly compiledWithout: Restart;
      readonly checkoutWith: Restart;
      readonly compiledWith: Restart;
    };
  };
}

const MiB = 2 ** 20;

export async function window(
  admin: KubeClient,
  nsync: () => NsyncProcess,
  during: () => Promise<void>,
): Promise<Window> {
  const started = performance.now();
  const before = await apiserverRequests(admin);
  const countersBefore = await nsync().counters();
  const cpuBefore = cpuSeconds(nsync().pid);
  const firstProcess = nsync();
  await during();
  const after = await apiserverRequests(admin);
  const countersAfter = await nsync().counters();
  const sameProcess = nsync() === firstProcess;
  const rows: RequestDelta[] = requestDelta(before, after);
  return {
    seconds: Math.round((performance.now() - started) / 100) / 10,
    writes: writesOn(rows, MIRRORED),
    statusWrites: writesOn(rows, ['clustermirrors/status']),
    gets: countOf(rows, ['GET'], MIRRORED),
    lists: countOf(rows, ['LIST'], MIRRORED),
    requests: byVerb(rows),
    // Across a restart the new process counts from zero.
    nsyncReconciles: countersAfter.reconciles - (sameProcess ? countersBefore.reconciles : 0),
    nsyncWrites: countersAfter.writes - (sameProcess ? countersBefore.writes : 0),
    nsyncCpuSeconds: sameProcess ? Math.round((cpuSeconds(nsync().pid) - cpuBefore) * 100) / 100 : NaN,
  };
}

/**
 * `count` ClusterMirrors, each pushing one of the sources into one namespace under a name of its
 * own, created once the sources are in sync; resolves when every one reports Ready. Their status
 * must then cost no write while idle, across a restart or over resyncs (docs/api.md).
 */
async function clusterMirrors(
  admin: KubeClient,
  cp: ControlPlane,
  sources: readonly { readonly kind: 'Secret' | 'ConfigMap'; readonly name: string }[],
  namespaces: readonly string[],
  count: number,
): Promise<void> {
  if (count === 0) return;
  await installCrds(cp);
  const base = '/apis/nsync.dev/v1alpha1/clustermirrors';
  const name = (i: number): string => `idle-resource-${String(i).padStart(3, '0')}`;
  await pool(count, 8, async (i) => {
    const source = sources[i % sources.length];
    const namespace = namespaces[i % namespaces.length];
    if (source === undefined || namespace === undefined) return;
    await admin.ok('POST', base, {
      apiVersion: 'nsync.dev/v1alpha1',
      kind: 'ClusterMirror',
      metadata: { name: name(i) },
      spec: {
        source: { kind: source.kind, namespace: SOURCE_NAMESPACE, name: source.name },
        targets: { namespaces: [namespace], name: name(i) },
      },
    });
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    const list = await admin.ok<{
      items: { status?: { conditions?: { type: string; status: string }[] } }[];
    }>('GET', base);
    const ready = list.items.filter((item) =>
      item.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True'),
    ).length;
    if (ready === count) return;
    if (Date.now() > deadline)
      throw new Error(`only ${String(ready)} of ${String(count)} ClusterMirrors Ready`);
    await sleep(200);
  }
}

export async function memory(nsync: NsyncProcess, samples: number): Promise<Memory> {
  const rss: number[] = [];
  const heap: number[] = [];
  const heapTotal: number[] = [];
  const resident: number[] = [];
  const external: number[] = [];
  let peak = 0;
  for (let i = 0; i < samples; i += 1) {
    await sleep(1000);
    const metrics = await nsync.metrics();
    const proc = residentMemory(nsync.pid);
    rss.push(proc.rss);
    peak = proc.peak;
    heap.push(sumOf(metrics, 'nsync_nodejs_heap_size_used_bytes'));
    heapTotal.push(sumOf(metrics, 'nsync_nodejs_heap_size_total_bytes'));
    resident.push(sumOf(metrics, 'nsync_process_resident_memory_bytes'));
    external.push(sumOf(metrics, 'nsync_nodejs_external_memory_bytes'));
  }
  const mib = (value: number): number => Math.round((value / MiB) * 10) / 10;
  const live = await nsync.liveHeap();
  return {
    samples,
    rssMiB: mib(median(rss)),
    maxRssMiB: mib(Math.max(...rss)),
    peakRssMiB: mib(peak),
    liveHeapMiB: mib(live.used),
    rssAfterGcMiB: mib(residentMemory(nsync.pid).rss),
    heapUsedMedianMiB: mib(median(heap)),
    heapUsedMinMiB: mib(Math.min(...heap)),
    heapTotalMiB: mib(median(heapTotal)),
    processResidentMiB: mib(median(resident)),
    externalMiB: mib(median(external)),
  };
}

/** Stops nsync and starts it again, timing readiness and the first full reconcile. */
export async function restart(
  admin: KubeClient,
  info: ClusterInfo,
  holder: { current: NsyncProcess },
  sources: number,
  logFile: string,
  nsyncArgs: readonly string[],
  runtime: Runtime = CHECKOUT,
): Promise<Restart> {
  let exit = { code: null as number | null, signal: null as string | null, ms: 0 };
  let readyMs = NaN;
  let reconciledMs = NaN;
  let settled = false;
  let cachesSyncedMs: number | undefined;
  const measured = await window(
    admin,
    () => holder.current,
    async () => {
      exit = await holder.current.stop();
      const next = NsyncProcess.start(info, logFile, runtime, nsyncArgs);
      holder.current = next;
      const readyAt = await next.waitReady(60_000, 20);
      readyMs = readyAt - next.spawnedAt;
      const result = await next.waitSettled({
        minReconciles: sources,
        quietMs: 2000,
        intervalMs: 50,
        timeoutMs: 120_000,
      });
      settled = result.settled;
      reconciledMs = result.lastChangeAt - next.spawnedAt;
      cachesSyncedMs =
        next.cachesSyncedWall === undefined ? undefined : next.cachesSyncedWall - next.spawnedWall;
    },
  );
  return {
    exit: { ...exit, ms: ms(exit.ms) },
    readyMs: ms(readyMs),
    cachesSyncedMs,
    reconciledMs: ms(reconciledMs),
    settled,
    window: measured,
  };
}

/** Runs S3 and S4. */
export async function runIdle(context: Context): Promise<IdleResult> {
  const {
    namespaces: m,
    secretSources,
    configMapSources,
    idleSeconds,
    unrelatedSecrets,
    unrelatedKiB,
    unrelatedRbac,
    memorySamples,
    resyncSeconds,
    resources,
  } = context.profile.idle;
  // Roles and RoleBindings are watched too (with no source namespace trusted for them), so that
  // S4 shows what thousands of unrelated ones cost: their caches are metadata-only.
  const nsyncArgs = [...context.nsyncArgs, '--kinds=secrets,configmaps,roles,rolebindings'];
  const startLoad = load();
  const { cp, admin, kubernetes } = await freshCluster();
  const info = cp.info();
  const watches = {
    secrets: new MirrorWatch(admin, 'secrets'),
    configmaps: new MirrorWatch(admin, 'configmaps'),
  };
  const log = (name: string): string => join(context.logDir, `s3-${name}.log`);
  const holder = { current: NsyncProcess.start(info, log('nsync-1'), CHECKOUT, nsyncArgs) };
  try {
    const namespaces = Array.from({ length: m }, (_, i) => `idle-${String(i).padStart(4, '0')}`);
    await createNamespaces(admin, [SOURCE_NAMESPACE, ...namespaces]);
    await watches.secrets.start();
    await watches.configmaps.start();
    await holder.current.waitReady();
    await holder.current.waitSettled();

    const sources = [
      ...Array.from({ length: secretSources }, (_, i) => ({
        kind: 'Secret' as const,
        plural: 'secrets' as const,
        name: `idle-secret-${String(i).padStart(2, '0')}`,
        data: smallSecretData(),
      })),
      ...Array.from({ length: configMapSources }, (_, i) => ({
        kind: 'ConfigMap' as const,
        plural: 'configmaps' as const,
        name: `idle-config-${String(i).padStart(2, '0')}`,
        data: smallConfigData(),
      })),
    ];
    const mirrors = sources.length * m;
    context.say(
      `S3: ${String(sources.length)} sources × ${String(m)} namespaces = ${String(mirrors)} mirrors`,
    );
    const keysOf = (name: string): string[] => namespaces.map((namespace) => `${namespace}/${name}`);
    const timeout = 60_000 + mirrors * 20;
    const waits = (['secrets', 'configmaps'] as const).map((plural) =>
      watches[plural].waitAll(
        sources.filter((source) => source.plural === plural).flatMap((source) => keysOf(source.name)),
        (state) => state?.hash !== undefined,
        timeout,
      ),
    );
    const t0 = performance.now();
    await createSources(admin, sources);
    const done = await Promise.all(waits);
    const setupMs = Math.max(...done.map((result) => result.at)) - t0;
    const setupDone = done.every((result) => result.done);
    await holder.current.waitSettled({ quietMs: 2000, timeoutMs: 300_000 });
    const expected = (plural: string) => (_namespace: string, name: string) =>
      sources.find((source) => source.plural === plural && source.name === name)?.data;
    const checks = await Promise.all(MIRRORED.map((plural) => verifyData(admin, plural, expected(plural))));
    await clusterMirrors(admin, cp, sources, namespaces, resources);
    await holder.current.waitSettled({ quietMs: 2000, timeoutMs: 300_000 });
    context.say(
      `S3: in sync after ${String(Math.round(setupMs))} ms, ${String(resources)} ClusterMirrors Ready; idle for ${String(idleSeconds)} s`,
    );

    const idle = await window(
      admin,
      () => holder.current,
      () => sleep(idleSeconds * 1000),
    );
    context.say(`S3: idle writes ${String(idle.writes)}; restarting nsync`);
    const restarted = await restart(admin, info, holder, sources.length, log('nsync-2'), nsyncArgs);
    context.say(
      `S3: restart: ready ${String(restarted.readyMs)} ms, reconciled ${String(restarted.reconciledMs)} ms, writes ${String(restarted.window.writes)}`,
    );

    const settle = async (): Promise<void> => {
      await sleep(2000);
    };
    await settle();
    const checkoutWithout = await memory(holder.current, memorySamples);
    const compiledWithoutRestart = await restart(
      admin,
      info,
      holder,
      sources.length,
      log('nsync-compiled-1'),
      nsyncArgs,
      context.compiled,
    );
    await settle();
    const compiledWithout = await memory(holder.current, memorySamples);
    context.say(
      `S4: RSS ${String(checkoutWithout.rssMiB)} MiB (compiled ${String(compiledWithout.rssMiB)}), live heap ${String(checkoutWithout.liveHeapMiB)} MiB (compiled ${String(compiledWithout.liveHeapMiB)}); creating ${String(unrelatedSecrets)} unrelated ${String(unrelatedKiB)} KiB Secrets, ${String(unrelatedRbac)} Roles and ${String(unrelatedRbac)} RoleBindings`,
    );
    const blob = randomBase64(unrelatedKiB * 1024);
    const t1 = performance.now();
    await pool(unrelatedSecrets, 4, async (i) => {
      const namespace = namespaces[i % namespaces.length] ?? SOURCE_NAMESPACE;
      await admin.ok('POST', `/api/v1/namespaces/${namespace}/secrets`, {
        metadata: { name: `unrelated-${String(i).padStart(5, '0')}` },
        type: 'Opaque',
        data: { payload: blob },
      });
    });
    await pool(unrelatedRbac, 4, async (i) => {
      const namespace = namespaces[i % namespaces.length] ?? SOURCE_NAMESPACE;
      const name = `unrelated-${String(i).padStart(5, '0')}`;
      await admin.ok('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`, {
        metadata: { name, labels: { app: 'unrelated' } },
        rules: [
          { apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'patch'] },
        ],
      });
      await admin.ok('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`, {
        metadata: { name, labels: { app: 'unrelated' } },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects: [
          { kind: 'ServiceAccount', name: 'default', namespace },
          { kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: `team-${String(i % 50)}` },
        ],
      });
    });
    const createUnrelatedMs = performance.now() - t1;
    await holder.current.waitSettled({ quietMs: 2000 });
    const compiledWithLive = await memory(holder.current, memorySamples);
    const checkoutWithRestart = await restart(admin, info, holder, sources.length, log('nsync-4'), nsyncArgs);
    await settle();
    const checkoutWith = await memory(holder.current, memorySamples);
    const compiledWithRestart = await restart(
      admin,
      info,
      holder,
      sources.length,
      log('nsync-compiled-2'),
      nsyncArgs,
      context.compiled,
    );
    await settle();
    const compiledWith = await memory(holder.current, memorySamples);
    context.say(`S3: forced resyncs (--resync-period=${String(resyncSeconds)}s, three of them)`);
    await holder.current.stop();
    holder.current = NsyncProcess.start(info, log('nsync-resync'), CHECKOUT, [
      ...nsyncArgs,
      `--resync-period=${String(resyncSeconds)}s`,
    ]);
    await holder.current.waitReady();
    await holder.current.waitSettled({ minReconciles: sources.length, quietMs: 500 });
    const resyncWindow = await window(
      admin,
      () => holder.current,
      () => sleep(resyncSeconds * 3000 + 500),
    );
    const reference = {
      bareNodeMiB: Math.round((await referenceRss('bare')) / MiB),
      librariesMiB: Math.round((await referenceRss('libraries')) / MiB),
    };
    context.say(
      `S4: with unrelated Secrets: RSS ${String(checkoutWith.rssMiB)} MiB (compiled ${String(compiledWith.rssMiB)}), live heap ${String(checkoutWith.liveHeapMiB)} MiB (compiled ${String(compiledWith.liveHeapMiB)})`,
    );
    return {
      kubernetes,
      namespaces: m,
      sources: sources.length,
      mirrors,
      resources,
      load: { start: startLoad, end: load() },
      setup: { ms: ms(setupMs), mirrorsPerSecond: Math.round(mirrors / (setupMs / 1000)), done: setupDone },
      dataCheck: {
        checked: checks.reduce((total, check) => total + check.checked, 0),
        wrong: checks.reduce((total, check) => total + check.wrong, 0),
      },
      idle,
      restart: restarted,
      resync: { periodSeconds: resyncSeconds, window: resyncWindow },
      memory: {
        unrelatedSecrets,
        unrelatedKiB,
        unrelatedRoles: unrelatedRbac,
        unrelatedRoleBindings: unrelatedRbac,
        createUnrelatedMs: ms(createUnrelatedMs),
        checkout: { without: checkoutWithout, with: checkoutWith },
        compiled: { without: compiledWithout, with: compiledWith, withLive: compiledWithLive },
        reference,
        restarts: {
          compiledWithout: compiledWithoutRestart,
          checkoutWith: checkoutWithRestart,
          compiledWith: compiledWithRestart,
        },
      },
    };
  } finally {
    await holder.current.stop();
    await watches.secrets.stop();
    await watches.configmaps.stop();
    admin.close();
    await cp.stop();
  }
}
