/**
 * Wires one nsync instance: caches (always warm), triggers, the work queue, leader election, and
 * the periodic resync. Only the leader runs the queue, so only the leader writes.
 */
import { LeaderElector } from '../kube/lease.ts';
import type { Transport } from '../kube/transport.ts';
import { Writer } from '../kube/writer.ts';
import { Limiter } from '../runtime/limit.ts';
import { WorkQueue } from '../runtime/queue.ts';
import { ClusterCache } from './cache.ts';
import { guardrailsOf, type Config } from './config.ts';
import { MirrorResources } from './mirror-resources.ts';
import { describeError, EventRecorder } from './events.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { reconcile, type ReconcileDeps } from './reconcile.ts';
import { RemoteCluster, type RemoteAccess } from './remote/cluster.ts';
import { RemoteKubeconfigReloader } from './remote/kubeconfig-reloader.ts';
import { ClusterRegistry } from './remote/registry.ts';
import type { FingerprintedContext } from '../kube/kubeconfig.ts';
import { ClusterStatuses } from './remote/cluster-statuses.ts';
import { sourceQueueKey } from './objects.ts';
import { SourceReader } from './sources.ts';
import { allKeys, wireTriggers } from './triggers.ts';

/** A work loop with keys but no progress for this long is stuck (liveness fails). @default 5 min */
const STUCK_AFTER_MS = 5 * 60_000;
/** A watch with no progress for this long is stale, though its watchdog should have restarted it. */
const WATCH_STALE_AFTER_MS = 15 * 60_000;

/** Health as /healthz and /readyz report it. */
export interface Health {
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * Whether the process is alive in the sense that matters: a loop that has keys but makes no
 * progress, or a watch that has heard nothing (not even a bookmark) for far longer than its
 * watchdog allows, is stuck — and a restart is the cure. An idle queue is healthy.
 */
export function assessLiveness(
  now: number,
  queue: { readonly busy: boolean; readonly lastProgressAt: number },
  watches: readonly {
    readonly resource: string;
    readonly synced: boolean;
    readonly lastProgressAt: number;
  }[],
): Health {
  if (queue.busy && now - queue.lastProgressAt > STUCK_AFTER_MS) {
    return {
      ok: false,
      detail: `work loop made no progress for ${String(Math.round((now - queue.lastProgressAt) / 1000))} s`,
    };
  }
  const stale = watches.filter(
    (status) => status.synced && now - status.lastProgressAt > WATCH_STALE_AFTER_MS,
  );
  if (stale.length > 0)
    return { ok: false, detail: `no watch progress on ${stale.map((status) => status.resource).join(', ')}` };
  return { ok: true, detail: 'ok' };
}

/** A remote cluster's pipeline and what it runs on. */
interface RemotePipeline {
  readonly cluster: RemoteCluster;
  readonly transport: Transport;
  readonly ownsTransport: boolean;
  run: Promise<void> | undefined;
}

/** One running nsync instance. */
export class Controller {
  readonly cache: ClusterCache;
  /** ClusterMirror and Mirror resources, served when their CRDs are installed. */
  readonly resources: MirrorResources;
  readonly queue: WorkQueue;
  private readonly config: Config;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly elector: LeaderElector | undefined;
  private readonly deps: ReconcileDeps;
  /**
   * One pipeline per remote cluster (docs/adr/0018), by name: the contexts of --remote-kubeconfig
   * (kept in step with the file, docs/adr/0028) and registered clusters (docs/adr/0021); both come
   * and go while nsync runs.
   */
  private readonly pipelines = new Map<string, RemotePipeline>();
  /** Pipelines stopped while nsync runs, until their in-flight work has finished. */
  private readonly draining = new Set<Promise<void>>();
  /** The names `sync-contexts` may use now (the local reconcile reports the others), kept in step. */
  private readonly remoteNames = new Set<string>();
  /** Watches the registration Secrets; undefined without --registered-clusters. */
  readonly registry: ClusterRegistry | undefined;
  /** Reads --remote-kubeconfig again while nsync runs; undefined without its contexts. */
  readonly reloader: RemoteKubeconfigReloader | undefined;
  /** What each remote pipeline found per ClusterMirror and Mirror, for their status.clusters. */
  private readonly clusterStatuses = new ClusterStatuses();
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private lostLeadership = false;
  /** Resolves true once this instance leads (remote pipelines write only then), false if it never does. */
  private readonly leading: Promise<boolean>;
  private lead: (leading: boolean) => void = () => undefined;

  /**
   * `remotes`: the contexts of --remote-kubeconfig, connected (remote/connect.ts); their transports
   * stay the caller's. `userAgent`: for the transports of registered clusters, which are this
   * Controller's. `contexts`: the resolved contexts `remotes` were built from; given, the file is
   * read again every `config.remoteKubeconfigCheckMs` and this Controller owns those transports.
   */
  constructor(
    config: Config,
    transport: Transport,
    log: Logger,
    metrics: Metrics,
    remotes: readonly RemoteAccess[] = [],
    userAgent = 'nsync',
    contexts?: readonly FingerprintedContext[],
  ) {
    this.config = config;
    this.log = log;
    this.metrics = metrics;
    const writer = new Writer(transport);
    this.cache = new ClusterCache(
      transport,
      config.kinds,
      {
        onWatchRestart: (resource, reason) => {
          metrics.watchRestarts.inc({ resource, reason });
          if (reason !== 'closed') log.info({ resource, reason }, 'watch restarted');
        },
      },
      config.clusterName,
    );
    this.queue = new WorkQueue({
      observer: {
        onStart: (_key, waitedMs) => {
          metrics.queueWait.observe(waitedMs / 1000);
        },
        onDone: (_key, durationMs, outcome) => {
          metrics.reconcileTime.observe(durationMs / 1000);
          metrics.reconcileTotal.inc({ result: outcome === 'ok' ? 'success' : outcome });
        },
        onError: (key, error) => {
          metrics.reconcileErrors.inc();
          log.warn({ key, err: describeError(error) }, 'reconcile failed');
        },
        onRetry: () => {
          metrics.retries.inc();
        },
      },
    });
    this.resources = new MirrorResources(transport, log, (resource, reason) => {
      metrics.watchRestarts.inc({ resource, reason });
    });
    this.resources.store.onChange((change) => {
      if (change.type === 'delete') this.clusterStatuses.forgetResource(change.old.key);
    });
    metrics.observe({
      queueDepth: () => this.queue.depth(),
      watches: () => [
        ...this.cache.status(),
        ...this.resources.status(),
        ...(this.registry === undefined ? [] : [this.registry.status()]),
      ],
    });
    this.deps = {
      cache: this.cache,
      sources: new SourceReader(writer),
      writer,
      limiter: new Limiter(config.writeConcurrency),
      events: new EventRecorder(writer, log, metrics, { instance: config.identity }),
      metrics,
      log,
      guardrails: guardrailsOf(config),
      resources: this.resources,
      clusterStatuses: this.clusterStatuses,
      ...(config.remoteKubeconfig === '' && !config.registeredClusters
        ? {}
        : { remoteContexts: this.remoteNames }),
    };
    this.leading = new Promise<boolean>((resolve) => {
      this.lead = resolve;
    });
    const reloading = contexts !== undefined && config.remoteKubeconfig !== '';
    for (const access of remotes) this.addRemote(access, reloading);
    metrics.observeRemote(() => this.remotes.map((remote) => ({ name: remote.name, up: remote.up })));
    // The registry reads this object at every apply: a reload replaces its contexts.
    const known: { local: URL; contexts: readonly { name: string; server: URL }[] } = {
      local: transport.server,
      contexts: remotes.map((remote) => ({ name: remote.name, server: remote.transport.server })),
    };
    const host = {
      addRemote: (access: RemoteAccess) => {
        this.addRemote(access, true);
      },
      removeRemote: (name: string) => {
        this.removeRemote(name);
      },
    };
    this.registry = config.registeredClusters
      ? new ClusterRegistry({
          transport,
          namespace: config.ownNamespace,
          known,
          userAgent,
          events: this.deps.events,
          log,
          host,
          onWatchRestart: (reason) => {
            metrics.watchRestarts.inc({ resource: 'secrets (cluster registrations)', reason });
          },
        })
      : undefined;
    this.reloader = reloading
      ? new RemoteKubeconfigReloader({
          path: config.remoteKubeconfig,
          localServer: transport.server,
          periodMs: config.remoteKubeconfigCheckMs,
          userAgent,
          initial: contexts,
          eventSubject:
            config.ownNamespace === ''
              ? undefined
              : {
                  kind: 'Pod',
                  namespace: config.ownNamespace,
                  name: config.identity,
                  uid: config.podUid,
                },
          events: this.deps.events,
          metrics,
          log,
          host,
          contextsChanged: async (current) => {
            known.contexts = current;
            await this.registry?.recheck();
          },
        })
      : undefined;
    const election = config.leaderElection;
    this.elector = election.enabled
      ? new LeaderElector(transport, {
          namespace: election.namespace,
          name: election.name,
          identity: config.identity,
          leaseDurationMs: election.leaseDurationMs,
          renewDeadlineMs: election.renewDeadlineMs,
          retryPeriodMs: election.retryPeriodMs,
        })
      : undefined;
  }

  /** The remote pipelines running now: the trigger fan-out, metrics and explain read this. */
  get remotes(): RemoteCluster[] {
    return [...this.pipelines.values()].map((pipeline) => pipeline.cluster);
  }

  /**
   * Starts a remote cluster's pipeline beside the others (at once when nsync runs, else with
   * start()). `ownsTransport`: close it when the pipeline stops (registered clusters).
   */
  private addRemote(access: RemoteAccess, ownsTransport: boolean): void {
    const cluster = new RemoteCluster(access, {
      local: this.cache,
      sources: this.deps.sources,
      guardrails: this.deps.guardrails,
      events: this.deps.events,
      metrics: this.metrics,
      log: this.log,
      writeConcurrency: this.config.writeConcurrency,
      workers: this.config.workers,
      resources: this.resources,
      clusterStatuses: this.clusterStatuses,
      onStatusChanged: (key) => {
        this.queue.add(key);
      },
    });
    const pipeline: RemotePipeline = { cluster, transport: access.transport, ownsTransport, run: undefined };
    this.pipelines.set(access.name, pipeline);
    this.remoteNames.add(access.name);
    this.metrics.addRemote(access.name);
    if (this.running !== undefined) {
      this.startPipeline(pipeline);
      // Sources that name it were reported as naming an unknown cluster: they hear otherwise now.
      for (const key of cluster.sourceKeys()) this.queue.add(key);
    }
  }

  private startPipeline(pipeline: RemotePipeline): void {
    pipeline.run = pipeline.cluster.run(this.abort.signal, this.leading, this.config.resyncPeriodMs);
  }

  /**
   * Stops one remote cluster's pipeline: no key reaches it from now on, its in-flight writes
   * finish, then its transport is closed and its metric series removed — unless a pipeline of the
   * same name took its place meanwhile (a rebuild). Nothing waits for that here.
   */
  private removeRemote(name: string): void {
    const pipeline = this.pipelines.get(name);
    if (pipeline === undefined) return;
    this.pipelines.delete(name);
    this.remoteNames.delete(name);
    pipeline.cluster.stop();
    // Its entries in status.clusters go: the resources that had one are written again.
    for (const resource of this.clusterStatuses.forgetCluster(name)) {
      const sourceKey = this.resources.store.get(resource)?.sourceKey;
      if (sourceKey !== undefined) this.queue.add(sourceKey);
    }
    const done = (async () => {
      await pipeline.run;
      if (pipeline.ownsTransport) pipeline.transport.close();
      if (!this.pipelines.has(name)) await this.metrics.removeRemote(name);
    })().catch((error: unknown) => {
      this.log.warn({ cluster: name, err: describeError(error) }, 'stopping a remote pipeline failed');
    });
    this.draining.add(done);
    void done.finally(() => this.draining.delete(done));
  }

  /** Starts everything; resolves when stopped (or when leadership is lost). */
  start(): Promise<void> {
    this.running ??= this.main();
    return this.running;
  }

  /** Whether leadership was lost (the process should exit non-zero and come back as a standby). */
  get leadershipLost(): boolean {
    return this.lostLeadership;
  }

  private async main(): Promise<void> {
    const signal = this.abort.signal;
    const caches = Promise.all([this.cache.run(signal), this.resources.run(signal)]);
    // Remote clusters run beside the local pipeline, never in it: each waits only for its own
    // cache and for leadership, and the local loop never waits for any of them.
    for (const pipeline of this.pipelines.values()) this.startPipeline(pipeline);
    const registry = this.registry?.run(signal);
    const reloader = this.reloader?.run(signal);
    try {
      await this.runLocal(signal, caches, this.lead);
    } finally {
      this.lead(false);
    }
    await registry;
    await reloader;
    await Promise.all([...this.pipelines.values()].map((pipeline) => pipeline.run ?? Promise.resolve()));
    await Promise.all(this.draining);
    for (const pipeline of this.pipelines.values()) if (pipeline.ownsTransport) pipeline.transport.close();
  }

  /** The local pipeline: caches, triggers (fanned out to every remote queue), leadership, queue. */
  private async runLocal(
    signal: AbortSignal,
    caches: Promise<unknown>,
    lead: (leading: boolean) => void,
  ): Promise<void> {
    wireTriggers(
      this.cache,
      {
        add: (key) => {
          this.queue.add(key);
          for (const pipeline of this.pipelines.values()) pipeline.cluster.queue.add(key);
        },
      },
      this.config.clusterName,
    );
    // A ClusterMirror or Mirror may name remote clusters (spec.clusters): its keys go everywhere.
    this.resources.onSourcesChanged((keys) => {
      for (const key of keys) {
        this.queue.add(key);
        for (const remote of this.remotes) remote.queue.add(key);
      }
    });
    // A source named only by a ClusterMirror or Mirror carries no annotation the triggers know:
    // its own changes (new data, deletion) are found by its name in the resources' index.
    for (const kind of this.cache.kinds) {
      this.cache.objects[kind].onChange((change) => {
        const meta = change.type === 'delete' ? change.old : change.new;
        if (this.resources.forSource(kind, meta.namespace, meta.name).length === 0) return;
        const key = sourceQueueKey(kind, meta.namespace, meta.name);
        this.queue.add(key);
        for (const remote of this.remotes) remote.queue.add(key);
      });
    }
    await Promise.race([Promise.all([this.cache.synced(), this.resources.synced()]), caches]);
    if (signal.aborted) return;
    this.log.info({ namespaces: this.cache.namespaces.size, kinds: this.config.kinds }, 'caches synced');
    if (this.elector) {
      this.log.info({ identity: this.config.identity }, 'waiting for leadership');
      const leading = await this.elector.acquire(signal, () => {
        this.lostLeadership = true;
        this.metrics.leader.set(0);
        this.log.error('leadership lost: stopping all writes');
        this.abort.abort();
      });
      if (!leading) return;
      this.log.info({ identity: this.config.identity }, 'leading: writes enabled');
    }
    this.metrics.leader.set(1);
    lead(true);
    const everyKey = (): string[] => [...allKeys(this.cache), ...this.resources.sourceKeys()];
    for (const key of everyKey()) this.queue.add(key);
    const resync = setInterval(() => {
      for (const key of everyKey()) this.queue.add(key);
    }, this.config.resyncPeriodMs);
    try {
      await this.queue.run({
        concurrency: this.config.workers,
        handler: (key) => reconcile(this.deps, key),
        signal,
      });
    } finally {
      clearInterval(resync);
      this.metrics.leader.set(0);
    }
    await caches;
  }

  /**
   * Graceful stop: in-flight reconciles finish, the lease is released. Whatever fails on the way
   * (the API server may be gone), everything is still stopped, so the process can exit.
   */
  async stop(): Promise<void> {
    try {
      await this.queue.shutdown();
      const release = await this.elector?.release();
      if (release?.released === false && release.why === 'failed') {
        this.log.warn(
          { err: describeError(release.error) },
          'could not release the Lease: a standby takes over when it expires',
        );
      }
    } finally {
      this.abort.abort();
      await this.running;
    }
  }

  /** Readiness: every cache holds a complete list. */
  readiness(): Health {
    const pending = [...this.cache.status(), ...this.resources.status()].filter((status) => !status.synced);
    return pending.length === 0
      ? { ok: true, detail: 'caches synced' }
      : { ok: false, detail: `waiting for ${pending.map((status) => status.resource).join(', ')}` };
  }

  /** Liveness: the work loop makes progress, and every watch has said something recently. */
  liveness(): Health {
    return assessLiveness(
      performance.now(),
      {
        busy: this.queue.depth() > 0 || this.queue.inFlight() > 0,
        lastProgressAt: this.queue.lastProgressAt(),
      },
      [...this.cache.status(), ...this.resources.status()],
    );
  }
}
