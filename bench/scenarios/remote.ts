/**
 * S6: does one remote cluster that is down slow the local cluster? The same local work — a fan-out
 * of a new source to N namespaces and one change of it (as S1), then successive updates of a
 * source pushed to 20 namespaces (as S2) — under four set-ups of one nsync:
 *
 * - `none`: no `--remote-kubeconfig`; the sources name no cluster (what a cluster without remotes runs);
 * - `up`: one remote cluster, a second control plane, running;
 * - `down`: the same control plane with its kube-apiserver stopped (connection refused);
 * - `blackhole`: a loopback TCP listener that accepts and never answers (every request times out).
 *
 * With a remote, every source carries `kubed.appscode.com/sync-contexts: remote`, so the remote
 * pipeline has work on every change. nsync is a fresh process per set-up and round (so the API
 * server only ever serves one nsync's watches, and a set-up's state cannot leak into the next),
 * warmed up by one untimed fan-out first; the rounds run the set-ups in ABBA order (none, up,
 * down, blackhole, then reversed), so load drifting over the run hits all of them alike. The
 * report is the ratio of each remote set-up's medians to `none`'s (the goal: ≈ 1, at most 1.15),
 * and nsync's own remote metrics (up, errors, writes) as a sanity check of the set-up.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlane, type ClusterInfo, type ControlPlane } from '../../tools/controlplane/harness.ts';
import { freshCluster, ms, type Context } from '../lib/context.ts';
import { SOURCE_NAMESPACE, sourceBody, tlsData } from '../lib/data.ts';
import { adminCredentials, createNamespaces, KubeClient } from '../lib/kube.ts';
import { load, type Load } from '../lib/machine.ts';
import { CHECKOUT, NsyncProcess } from '../lib/nsync.ts';
import { sumOf } from '../lib/prom.ts';
import { median, round } from '../lib/stats.ts';
import { MirrorWatch, verifyData } from '../lib/watch.ts';
import { nsyncFanout, type NsyncFanout } from './fanout.ts';
import { latencies, updateSeries, type Latencies } from './latency.ts';

/** The four set-ups, in the order of even rounds (odd rounds run them reversed). */
export const REMOTE_SETUPS = ['none', 'up', 'down', 'blackhole'] as const;
export type RemoteSetup = (typeof REMOTE_SETUPS)[number];
/** The set-ups compared with `none`. */
export type WithRemote = Exclude<RemoteSetup, 'none'>;

/** The kubeconfig context (and so the `sync-contexts` value) of the one remote cluster. */
const CONTEXT = 'remote';
const FAN_PREFIX = 's6fan-';
const LATENCY_PREFIX = 's6lat-';

/** SIGTERM → SIGKILL: half of Kubernetes' default terminationGracePeriodSeconds (30 s). */
export const STOP_GRACE_MS = 15_000;

/** nsync's own view of the remote cluster at the end of a set-up's round (from its /metrics). */
export interface RemoteHealth {
  /** nsync_remote_cluster_up{cluster="remote"}. */
  readonly up: number;
  /** nsync_remote_errors_total: reconciles for the remote that failed. */
  readonly errors: number;
  /** nsync_remote_writes_total: writes into the remote. */
  readonly writes: number;
  /** nsync_watch_restarts_total of the remote caches. */
  readonly watchRestarts: number;
}

/** One set-up in one round: a fresh nsync, warmed up, then timed. */
export interface RemoteSetupRun {
  readonly setup: RemoteSetup;
  readonly round: number;
  readonly load: Load;
  /** Process start → /readyz 200 (local caches only: a remote never holds readiness back). */
  readonly readyMs: number;
  /** The untimed warm-up fan-out (cold JIT, new connections), for information. */
  readonly warmup: { readonly createMs: number; readonly updateMs: number };
  readonly fanout: NsyncFanout;
  /**
   * Further changes of the fan-out source, each from an idle nsync: acknowledged → last of the N
   * mirrors, ms; then every mirror's data checked with one LIST.
   */
  readonly fanoutUpdates: {
    readonly samples: readonly number[];
    readonly failed: number;
    readonly mixed: number;
    readonly dataCheck: { readonly checked: number; readonly wrong: number };
  };
  /** Update → last of the latency source's mirrors, ms. */
  readonly latency: {
    readonly samples: readonly number[];
    readonly failed: number;
    readonly mixed: number;
  };
  /** Undefined for `none`. */
  readonly remote: RemoteHealth | undefined;
  /** `up` only: copies of the timed sources found in the remote cluster with the source's data. */
  readonly remoteCopies?: { readonly expected: number; readonly found: number };
  /** The round's sources deleted and their local mirrors gone before the process stopped. */
  readonly cleanedUp: boolean;
  /**
   * SIGTERM → exit, ms, and how it exited: shutdown must never wait on an API server (ADR 11);
   * after STOP_GRACE_MS the benchmark sends SIGKILL, and `signal` says so.
   */
  readonly stop: { readonly ms: number; readonly code: number | null; readonly signal: string | null };
}

/** One set-up over all rounds. */
export interface SetupSummary {
  readonly createMs: number;
  readonly updateMs: number;
  readonly readyMs: number;
  /**
   * nsync's CPU seconds (from /proc) over the timed create and update, medians: what the local
   * work cost the process, much less moved by the machine's load than the wall-clock times.
   */
  readonly cpuSeconds: { readonly create: number; readonly update: number };
  /** The fan-out source's further changes, pooled over the rounds. */
  readonly fanoutUpdates: Latencies;
  /** Pooled over the rounds. */
  readonly latency: Latencies;
  /** Every phase done, every mirror's data correct, every update landed and consistent. */
  readonly complete: boolean;
}

/** A remote set-up's medians over `none`'s. */
export interface RemoteRatio {
  readonly create: number;
  readonly update: number;
  readonly p50: number;
  readonly p95: number;
  /** Median of the per-round ratios (each round ran both back to back or near). */
  readonly pairedCreate: number;
  readonly pairedUpdate: number;
  /** p50 and p95 of the fan-out source's further changes. */
  readonly fanoutUpdatesP50: number;
  readonly fanoutUpdatesP95: number;
}

/** S6 results. */
export interface RemoteDownResult {
  readonly kubernetes: string;
  readonly namespaces: number;
  readonly latencyNamespaces: number;
  readonly updatesPerRound: number;
  readonly rounds: number;
  readonly load: { readonly start: Load; readonly end: Load };
  /** The blackhole listener's address, and the connections it accepted (and never answered). */
  readonly blackhole: { readonly address: string; readonly connectionsAccepted: number };
  readonly runs: readonly RemoteSetupRun[];
  readonly setups: Readonly<Record<RemoteSetup, SetupSummary>>;
  readonly ratio: Readonly<Record<WithRemote, RemoteRatio>>;
}

/** A TCP listener on loopback that accepts connections and never sends a byte. */
class Blackhole {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  accepted = 0;

  private constructor(server: Server) {
    this.server = server;
    server.on('connection', (socket) => {
      this.accepted += 1;
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async open(): Promise<Blackhole> {
    // pauseOnConnect: nothing is read either, so a TLS ClientHello sits unanswered.
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    return new Blackhole(server);
  }

  get url(): string {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('blackhole has no port');
    return `https://127.0.0.1:${String(address.port)}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }
}

/** A kubeconfig with the one context `remote`, as an operator mounts it (token, CA file). */
function remoteKubeconfig(path: string, server: string, caFile: string, token: string): string {
  const lines = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${CONTEXT}`,
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caFile}`,
    'users:',
    `- name: ${CONTEXT}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    `- name: ${CONTEXT}`,
    '  context:',
    `    cluster: ${CONTEXT}`,
    `    user: ${CONTEXT}`,
    `current-context: ${CONTEXT}`,
  ];
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  return path;
}

/** The set-ups of round `r`: ABBA, so a drift in load over the run hits every set-up alike. */
export function roundOrder(r: number): readonly RemoteSetup[] {
  return r % 2 === 0 ? REMOTE_SETUPS : [...REMOTE_SETUPS].reverse();
}

/** What every set-up's run needs. */
interface Bench {
  readonly context: Context;
  readonly info: ClusterInfo;
  readonly admin: KubeClient;
  readonly watch: MirrorWatch;
  readonly remoteCp: ControlPlane;
  readonly remoteAdmin: KubeClient;
  readonly kubeconfigs: { readonly live: string; readonly blackhole: string };
  readonly fanNamespaces: readonly string[];
  readonly latencyNamespaces: readonly string[];
}

/** The annotations of a source in a set-up: its push, and the remote it names (none in `none`). */
function annotationsFor(setup: RemoteSetup, pushTo: string): Record<string, string> {
  return {
    'nsync.dev/push-to': pushTo,
    ...(setup === 'none' ? {} : { 'kubed.appscode.com/sync-contexts': CONTEXT }),
  };
}

async function remoteHealth(nsync: NsyncProcess): Promise<RemoteHealth> {
  const samples = await nsync.metrics();
  const ofRemote = (labels: Readonly<Record<string, string>>): boolean => labels['cluster'] === CONTEXT;
  return {
    up: sumOf(samples, 'nsync_remote_cluster_up', ofRemote),
    errors: sumOf(samples, 'nsync_remote_errors_total', ofRemote),
    writes: sumOf(samples, 'nsync_remote_writes_total', ofRemote),
    watchRestarts: sumOf(samples, 'nsync_watch_restarts_total', (labels) =>
      (labels['resource'] ?? '').startsWith(`${CONTEXT}/`),
    ),
  };
}

/** Polls `check` every 100 ms until it holds or `timeoutMs` passed (untimed checks only). */
async function poll(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** How many of `names` sit in the remote cluster's SOURCE_NAMESPACE with the expected data. */
async function remoteCopiesFound(
  remoteAdmin: KubeClient,
  expected: ReadonlyMap<string, Readonly<Record<string, string>>>,
): Promise<number> {
  let found = 0;
  for (const [name, data] of expected) {
    const answer = await remoteAdmin.call<{ data?: Record<string, string> }>(
      'GET',
      `/api/v1/namespaces/${SOURCE_NAMESPACE}/secrets/${name}`,
    );
    const copy = answer.body.data ?? {};
    if (
      answer.status === 200 &&
      Object.keys(copy).length === Object.keys(data).length &&
      Object.entries(data).every(([key, value]) => copy[key] === value)
    )
      found += 1;
  }
  return found;
}

/** One set-up in one round: a fresh nsync, a warm-up fan-out, the timed fan-out and latency, clean-up. */
async function runSetup(bench: Bench, setup: RemoteSetup, r: number): Promise<RemoteSetupRun> {
  const { context, info, admin, watch, remoteAdmin, kubeconfigs, fanNamespaces, latencyNamespaces } = bench;
  const startLoad = load();
  const remoteArgs =
    setup === 'none'
      ? []
      : [
          '--cluster-name=home',
          `--remote-kubeconfig=${setup === 'blackhole' ? kubeconfigs.blackhole : kubeconfigs.live}`,
        ];
  const tag = `${setup}-r${String(r)}`;
  const nsync = NsyncProcess.start(info, join(context.logDir, `s6-${tag}-nsync.log`), CHECKOUT, [
    ...context.nsyncArgs,
    ...remoteArgs,
  ]);
  const fanAnnotations = annotationsFor(setup, `${FAN_PREFIX}*`);
  const latencyAnnotations = annotationsFor(setup, `${LATENCY_PREFIX}*`);
  const names = { warmup: `s6-${tag}-warm`, fanout: `s6-${tag}`, latency: `s6-${tag}-lat` };
  try {
    const readyAt = await nsync.waitReady();
    await nsync.waitSettled();
    const warm = await nsyncFanout(admin, info, nsync, watch, fanNamespaces, names.warmup, fanAnnotations);
    const fanout = await nsyncFanout(admin, info, nsync, watch, fanNamespaces, names.fanout, fanAnnotations);
    const fanKeys = fanNamespaces.map((namespace) => `${namespace}/${names.fanout}`);
    const fanSeries = await updateSeries(
      admin,
      watch,
      fanKeys,
      names.fanout,
      context.profile.remote.fanoutUpdates,
      fanAnnotations,
      () => nsync.waitSettled({ quietMs: 300 }),
    );
    const fanCheck = await verifyData(admin, 'secrets', (_namespace, object) =>
      object === names.fanout ? fanSeries.data : undefined,
    );

    const latencyKeys = latencyNamespaces.map((namespace) => `${namespace}/${names.latency}`);
    const created = watch.waitAll(latencyKeys, (state) => state?.hash !== undefined, 30_000);
    let latencyData = tlsData();
    await admin.ok(
      'POST',
      `/api/v1/namespaces/${SOURCE_NAMESPACE}/secrets`,
      sourceBody('Secret', names.latency, latencyData, 'kubernetes.io/tls', latencyAnnotations),
    );
    if (!(await created).done)
      throw new Error(`S6 ${tag}: latency mirrors not created:\n${nsync.lastLines()}`);
    await nsync.waitSettled();
    const series = await updateSeries(
      admin,
      watch,
      latencyKeys,
      names.latency,
      context.profile.remote.updates,
      latencyAnnotations,
    );
    latencyData = series.data ?? latencyData;
    await nsync.waitSettled();

    let remoteCopies: RemoteSetupRun['remoteCopies'];
    if (setup === 'up') {
      // The remote pipeline works here: both timed sources arrive there with their data.
      const fanData = await admin.ok<{ data: Record<string, string> }>(
        'GET',
        `/api/v1/namespaces/${SOURCE_NAMESPACE}/secrets/${names.fanout}`,
      );
      const expected = new Map([
        [names.fanout, fanData.data],
        [names.latency, latencyData],
      ]);
      let found = 0;
      await poll(async () => {
        found = await remoteCopiesFound(remoteAdmin, expected);
        return found === expected.size;
      }, 30_000);
      remoteCopies = { expected: expected.size, found };
    }
    const remote = setup === 'none' ? undefined : await remoteHealth(nsync);

    // Clean up while this nsync runs, so the next process starts on the same (empty) state.
    const allKeys = [
      ...fanNamespaces.flatMap((namespace) => [
        `${namespace}/${names.warmup}`,
        `${namespace}/${names.fanout}`,
      ]),
      ...latencyKeys,
    ];
    const gone = watch.waitAll(allKeys, (state) => state === undefined, 60_000 + allKeys.length * 50);
    for (const name of Object.values(names))
      await admin.call('DELETE', `/api/v1/namespaces/${SOURCE_NAMESPACE}/secrets/${name}`);
    let cleanedUp = (await gone).done;
    if (setup === 'up') {
      // nsync deletes its remote copies too; the next `up` round must not start by cleaning up.
      cleanedUp &&= await poll(async () => {
        for (const name of [names.fanout, names.latency]) {
          const answer = await remoteAdmin.call(
            'GET',
            `/api/v1/namespaces/${SOURCE_NAMESPACE}/secrets/${name}`,
          );
          if (answer.status !== 404) return false;
        }
        return true;
      }, 30_000);
    }
    await nsync.waitSettled();
    const stopped = await nsync.stop(STOP_GRACE_MS);
    return {
      setup,
      round: r,
      load: startLoad,
      readyMs: ms(readyAt - nsync.spawnedAt),
      warmup: { createMs: warm.create.ms, updateMs: warm.update.ms },
      fanout,
      fanoutUpdates: {
        samples: fanSeries.last.map((value) => round(value, 1)),
        failed: fanSeries.failed,
        mixed: fanSeries.mixed,
        dataCheck: { checked: fanCheck.checked, wrong: fanCheck.wrong },
      },
      latency: {
        samples: series.last.map((value) => round(value, 1)),
        failed: series.failed,
        mixed: series.mixed,
      },
      remote,
      ...(remoteCopies === undefined ? {} : { remoteCopies }),
      cleanedUp,
      stop: { ms: ms(stopped.ms), code: stopped.code, signal: stopped.signal },
    };
  } finally {
    await nsync.stop();
  }
}

/** Runs S6. */
export async function runRemoteDown(context: Context): Promise<RemoteDownResult> {
  const { namespaces: n, rounds, updates, latencyNamespaces: l } = context.profile.remote;
  const startLoad = load();
  context.say('S6: two control planes (local, remote) and a blackhole listener');
  const [local, remoteCp] = await Promise.all([
    freshCluster(),
    startControlPlane({ controllerManager: false }),
  ]);
  const { cp, admin, kubernetes } = local;
  const info = cp.info();
  const remoteAdmin = new KubeClient(adminCredentials(remoteCp.info()), { maxSockets: 4 });
  const watch = new MirrorWatch(admin, 'secrets');
  const blackhole = await Blackhole.open();
  let remoteRunning = true;
  try {
    const fanNamespaces = Array.from({ length: n }, (_, i) => `${FAN_PREFIX}${String(i).padStart(4, '0')}`);
    const latencyNamespaces = Array.from(
      { length: l },
      (_, i) => `${LATENCY_PREFIX}${String(i).padStart(2, '0')}`,
    );
    await createNamespaces(admin, [SOURCE_NAMESPACE, ...fanNamespaces, ...latencyNamespaces]);
    // kubed's rule: a copy goes to the source's namespace when the context names none.
    await createNamespaces(remoteAdmin, [SOURCE_NAMESPACE]);
    await watch.start();
    const bench: Bench = {
      context,
      info,
      admin,
      watch,
      remoteCp,
      remoteAdmin,
      kubeconfigs: {
        live: remoteKubeconfig(
          join(info.dir, 'remote-live.kubeconfig'),
          remoteCp.server,
          remoteCp.caFile,
          remoteCp.admin.token,
        ),
        // Any CA will do: the TLS handshake never gets an answer.
        blackhole: remoteKubeconfig(
          join(info.dir, 'remote-blackhole.kubeconfig'),
          blackhole.url,
          remoteCp.caFile,
          'never-checked',
        ),
      },
      fanNamespaces,
      latencyNamespaces,
    };
    const runs: RemoteSetupRun[] = [];
    for (let r = 0; r < rounds; r += 1) {
      for (const setup of roundOrder(r)) {
        // The remote's API server runs for `up` and is stopped for `down`; `none` and
        // `blackhole` never reach it, so it stays as the previous set-up left it.
        if (setup === 'up' && !remoteRunning) {
          await remoteCp.startApiServer();
          remoteRunning = true;
        } else if (setup === 'down' && remoteRunning) {
          await remoteCp.stopApiServer();
          remoteRunning = false;
        }
        const run = await runSetup(bench, setup, r);
        runs.push(run);
        const remoteSay =
          run.remote === undefined
            ? ''
            : `; remote up ${String(run.remote.up)}, errors ${String(run.remote.errors)}, writes ${String(run.remote.writes)}`;
        context.say(
          `S6 round ${String(r + 1)}/${String(rounds)} ${setup}: fan-out create/update ${String(run.fanout.create.ms)}/${String(run.fanout.update.ms)} ms, latency p50 ${String(round(median(run.latency.samples), 1))} ms${remoteSay}${run.cleanedUp ? '' : ' — NOT CLEANED UP'}`,
        );
      }
    }
    const setups = Object.fromEntries(
      REMOTE_SETUPS.map((setup) => [setup, summarizeSetup(runs.filter((run) => run.setup === setup))]),
    ) as Record<RemoteSetup, SetupSummary>;
    const ratioOf = (setup: WithRemote): RemoteRatio => {
      const base = setups.none;
      const mine = setups[setup];
      const paired = (pick: (run: RemoteSetupRun) => number): number =>
        round(
          median(
            Array.from({ length: rounds }, (_, r) => {
              const a = runs.find((run) => run.setup === 'none' && run.round === r);
              const b = runs.find((run) => run.setup === setup && run.round === r);
              return a === undefined || b === undefined ? NaN : pick(b) / pick(a);
            }).filter(Number.isFinite),
          ),
          3,
        );
      return {
        create: round(mine.createMs / base.createMs, 3),
        update: round(mine.updateMs / base.updateMs, 3),
        p50: round(mine.latency.p50 / base.latency.p50, 3),
        p95: round(mine.latency.p95 / base.latency.p95, 3),
        pairedCreate: paired((run) => run.fanout.create.ms),
        pairedUpdate: paired((run) => run.fanout.update.ms),
        fanoutUpdatesP50: round(mine.fanoutUpdates.p50 / base.fanoutUpdates.p50, 3),
        fanoutUpdatesP95: round(mine.fanoutUpdates.p95 / base.fanoutUpdates.p95, 3),
      };
    };
    return {
      kubernetes,
      namespaces: n,
      latencyNamespaces: l,
      updatesPerRound: updates,
      rounds,
      load: { start: startLoad, end: load() },
      blackhole: { address: blackhole.url, connectionsAccepted: blackhole.accepted },
      runs,
      setups,
      ratio: { up: ratioOf('up'), down: ratioOf('down'), blackhole: ratioOf('blackhole') },
    };
  } finally {
    await watch.stop();
    admin.close();
    remoteAdmin.close();
    await blackhole.close();
    await Promise.all([cp.stop(), remoteCp.stop()]);
  }
}

/** Medians over a set-up's rounds; latency pooled. */
function summarizeSetup(runs: readonly RemoteSetupRun[]): SetupSummary {
  const samples = runs.flatMap((run) => run.latency.samples);
  return {
    createMs: round(median(runs.map((run) => run.fanout.create.ms)), 1),
    updateMs: round(median(runs.map((run) => run.fanout.update.ms)), 1),
    readyMs: round(median(runs.map((run) => run.readyMs)), 1),
    cpuSeconds: {
      create: round(median(runs.map((run) => run.fanout.create.cpu.nsync)), 3),
      update: round(median(runs.map((run) => run.fanout.update.cpu.nsync)), 3),
    },
    fanoutUpdates: latencies(
      runs.flatMap((run) => run.fanoutUpdates.samples),
      runs.reduce((total, run) => total + run.fanoutUpdates.failed, 0),
    ),
    latency: latencies(
      samples,
      runs.reduce((total, run) => total + run.latency.failed, 0),
    ),
    complete: runs.every(
      (run) =>
        run.fanout.create.done &&
        run.fanout.update.done &&
        run.fanout.dataCheck.wrong === 0 &&
        run.fanout.dataCheck.checked === run.fanout.create.mirrors &&
        run.latency.failed === 0 &&
        run.fanoutUpdates.failed === 0 &&
        run.fanoutUpdates.mixed === 0 &&
        (run.fanoutUpdates.samples.length === 0 || run.fanoutUpdates.dataCheck.wrong === 0) &&
        run.latency.mixed === 0,
    ),
  };
}
