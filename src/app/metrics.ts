/**
 * Prometheus metrics. Names follow controller-runtime's conventions with the `nsync_` prefix;
 * labels are bounded (results, verbs, states, resources) — never a namespace or object name, so
 * cardinality does not grow with the cluster.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Why a watch is re-opened (src/kube/listwatch.ts): the label values of nsync_watch_restarts_total. */
const WATCH_RESTART_REASONS = ['closed', 'gone', 'error', 'silent'] as const;

/** Mirror states counted by nsync_mirrors. */
export type MirrorState =
  'in_sync' | 'conflict' | 'refused' | 'contested' | 'over_budget' | 'waiting' | 'error';

/** Every MirrorState, zero: the shape of one source's counts. */
export function noMirrors(): Record<MirrorState, number> {
  return { in_sync: 0, conflict: 0, refused: 0, contested: 0, over_budget: 0, waiting: 0, error: 0 };
}

/** State read at scrape time, so gauges are exact when Prometheus asks and cost nothing between. */
export interface LiveState {
  queueDepth(): number;
  /** Per watch: its resource and performance.now() of its last progress. */
  watches(): readonly { readonly resource: string; readonly lastProgressAt: number }[];
}

/** Every metric nsync exports, on its own registry (tests can run several controllers at once). */
export class Metrics {
  readonly registry = new Registry();
  readonly reconcileTotal: Counter<'result'>;
  readonly reconcileErrors: Counter;
  readonly reconcileTime: Histogram;
  readonly queueDepth: Gauge;
  readonly queueWait: Histogram;
  readonly retries: Counter;
  readonly writes: Counter<'verb' | 'outcome'>;
  readonly mirrors: Gauge<'state'>;
  readonly watchRestarts: Counter<'resource' | 'reason'>;
  readonly watchLastEvent: Gauge<'resource'>;
  readonly leader: Gauge;
  readonly ruleProblems: Counter<'dialect'>;
  readonly events: Counter<'type' | 'reason'>;
  /** Per remote cluster (docs/adr/0018): 1 while every remote watch has synced and is open. */
  readonly remoteUp: Gauge<'cluster'>;
  readonly remoteWrites: Counter<'cluster' | 'verb' | 'outcome'>;
  readonly remoteErrors: Counter<'cluster'>;
  readonly remoteLastSync: Gauge<'cluster'>;
  /** `--remote-kubeconfig` reloads (docs/adr/0028): failures, and when the file last applied. */
  readonly remoteKubeconfigReloadErrors: Counter;
  readonly remoteKubeconfigLastReload: Gauge;
  private remoteClusters: (() => readonly { readonly name: string; readonly up: boolean }[]) | undefined;
  private readonly mirrorsBySource = new Map<string, Readonly<Record<MirrorState, number>>>();
  private readonly problemsSeen = new Set<string>();
  private readonly writeCounters = new Map<string, { inc(): void }>();
  private live: LiveState | undefined;

  constructor(version: string, options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'nsync_' });
    new Gauge({
      name: 'nsync_build_info',
      help: 'Build information; the value is always 1.',
      labelNames: ['version', 'node'],
      registers,
    }).set({ version, node: process.versions.node }, 1);
    this.remoteUp = new Gauge({
      name: 'nsync_remote_cluster_up',
      help: 'Per remote cluster: 1 while its caches are synced and its watches open, else 0.',
      labelNames: ['cluster'],
      registers,
      collect: () => {
        for (const cluster of this.remoteClusters?.() ?? [])
          this.remoteUp.set({ cluster: cluster.name }, cluster.up ? 1 : 0);
      },
    });
    this.remoteWrites = new Counter({
      name: 'nsync_remote_writes_total',
      help: 'Writes to a remote cluster, by cluster, verb and outcome.',
      labelNames: ['cluster', 'verb', 'outcome'],
      registers,
    });
    this.remoteErrors = new Counter({
      name: 'nsync_remote_errors_total',
      help: 'Reconciles of a source key for a remote cluster that failed and were retried with backoff.',
      labelNames: ['cluster'],
      registers,
    });
    this.remoteLastSync = new Gauge({
      name: 'nsync_remote_last_sync_timestamp_seconds',
      help: 'Per remote cluster: Unix time of the last reconcile that completed without error.',
      labelNames: ['cluster'],
      registers,
    });
    this.remoteKubeconfigReloadErrors = new Counter({
      name: 'nsync_remote_kubeconfig_reload_errors_total',
      help: 'Reads of a changed --remote-kubeconfig that were refused (unreadable, invalid, or a context that cannot connect); the running clusters were kept.',
      registers,
    });
    this.remoteKubeconfigLastReload = new Gauge({
      name: 'nsync_remote_kubeconfig_last_reload_success_timestamp_seconds',
      help: 'Unix time at which --remote-kubeconfig was last read and applied without error (at start, then at every change).',
      registers,
    });
    this.reconcileTotal = new Counter({
      name: 'nsync_reconcile_total',
      help: 'Reconciles of a source key, by result (success, error, requeue).',
      labelNames: ['result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'nsync_reconcile_errors_total',
      help: 'Reconciles that failed and were retried with backoff.',
      registers,
    });
    this.reconcileTime = new Histogram({
      name: 'nsync_reconcile_time_seconds',
      help: 'Duration of one reconcile, writes included.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'nsync_workqueue_depth',
      help: 'Keys waiting in the work queue.',
      registers,
      collect: () => {
        if (this.live) this.queueDepth.set(this.live.queueDepth());
      },
    });
    this.queueWait = new Histogram({
      name: 'nsync_workqueue_wait_seconds',
      help: 'Time a key waited in the queue before its reconcile started.',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60],
      registers,
    });
    this.retries = new Counter({
      name: 'nsync_workqueue_retries_total',
      help: 'Keys re-queued with backoff.',
      registers,
    });
    this.writes = new Counter({
      name: 'nsync_writes_total',
      help: 'Writes to the API server, by verb (create, replace, patch, delete, recreate, status) and outcome.',
      labelNames: ['verb', 'outcome'],
      registers,
    });
    this.mirrors = new Gauge({
      name: 'nsync_mirrors',
      help: 'Mirror targets by state as of each source’s last reconcile.',
      labelNames: ['state'],
      registers,
      collect: () => {
        const totals = noMirrors();
        for (const counts of this.mirrorsBySource.values()) {
          for (const state of Object.keys(totals) as MirrorState[]) totals[state] += counts[state];
        }
        for (const state of Object.keys(totals) as MirrorState[]) this.mirrors.set({ state }, totals[state]);
      },
    });
    this.watchRestarts = new Counter({
      name: 'nsync_watch_restarts_total',
      help: 'Watch restarts by resource and reason (closed, gone, error, silent).',
      labelNames: ['resource', 'reason'],
      registers,
      // Every watched resource and reason is exported from the start, at 0: a series that only
      // appears with its first restart hides that restart from rate() and increase(), and leaves
      // the dashboard's restart panel empty until something goes wrong.
      collect: () => {
        for (const watch of this.live?.watches() ?? []) {
          for (const reason of WATCH_RESTART_REASONS) {
            this.watchRestarts.inc({ resource: watch.resource, reason }, 0);
          }
        }
      },
    });
    this.watchLastEvent = new Gauge({
      name: 'nsync_watch_last_event_timestamp_seconds',
      help: 'Unix time of the last list, event or bookmark received per resource.',
      labelNames: ['resource'],
      registers,
      collect: () => {
        if (!this.live) return;
        const origin = Date.now() - performance.now();
        for (const watch of this.live.watches()) {
          this.watchLastEvent.set({ resource: watch.resource }, (origin + watch.lastProgressAt) / 1000);
        }
      },
    });
    this.leader = new Gauge({
      name: 'nsync_leader',
      help: '1 while this instance leads and writes.',
      registers,
    });
    this.ruleProblems = new Counter({
      name: 'nsync_rule_problems_total',
      help: 'Invalid or unsupported annotations found (each reported once per object version).',
      labelNames: ['dialect'],
      registers,
    });
    this.events = new Counter({
      name: 'nsync_events_total',
      help: 'Kubernetes Events emitted, by type and reason.',
      labelNames: ['type', 'reason'],
      registers,
    });
  }

  /** Connects the gauges read at scrape time to the running controller. */
  observe(live: LiveState): void {
    this.live = live;
  }

  /**
   * Counts an invalid or unsupported annotation once per object version, whether or not its
   * Event could be sent (the Event budget must never hide a problem from metrics).
   */
  countRuleProblem(objectVersion: string, dialect: string, annotation: string): void {
    const key = `${objectVersion}|${dialect}|${annotation}`;
    if (this.problemsSeen.has(key)) return;
    if (this.problemsSeen.size >= 50_000) this.problemsSeen.clear();
    this.problemsSeen.add(key);
    this.ruleProblems.inc({ dialect });
  }

  /**
   * Counts one write. prom-client hashes the label set on every inc; a fan-out counts thousands
   * of writes with a handful of label sets, so their children are kept.
   */
  /** Where nsync_remote_cluster_up reads each remote cluster's health (called once, at wiring). */
  observeRemote(clusters: () => readonly { readonly name: string; readonly up: boolean }[]): void {
    this.remoteClusters = clusters;
    for (const cluster of clusters()) this.addRemote(cluster.name);
  }

  /** A remote cluster's series start at 0, so rate() and absent() see it from its first scrape. */
  addRemote(cluster: string): void {
    this.remoteErrors.inc({ cluster }, 0);
    this.remoteUp.set({ cluster }, 0);
  }

  /**
   * Drops every series of a remote cluster that is gone (a deleted registration), so dashboards
   * and alerts do not keep reporting a cluster nsync no longer serves.
   */
  async removeRemote(cluster: string): Promise<void> {
    for (const metric of [
      this.remoteUp,
      this.remoteWrites,
      this.remoteErrors,
      this.remoteLastSync,
    ] as const) {
      const { values } = await metric.get();
      for (const { labels } of values)
        if (labels['cluster'] === cluster) (metric as Gauge).remove(labels as Record<string, string>);
    }
  }

  countWrite(verb: string, outcome: string): void {
    const key = `${verb}|${outcome}`;
    let child = this.writeCounters.get(key);
    if (child === undefined) {
      child = this.writes.labels({ verb, outcome });
      this.writeCounters.set(key, child);
    }
    child.inc();
  }

  /** Records the mirror states of one source after its reconcile (undefined: the source is gone). */
  setMirrorStates(sourceKey: string, counts: Readonly<Record<MirrorState, number>> | undefined): void {
    if (counts === undefined) this.mirrorsBySource.delete(sourceKey);
    else this.mirrorsBySource.set(sourceKey, counts);
  }
}
