/**
 * One remote cluster's pipeline (docs/adr/0018): its own Transport, metadata cache, work queue with
 * backoff, limiter and health. Nothing here waits on the local pipeline or on another remote
 * cluster, so a remote that is down, slow, forbidden or timing out delays only its own queue.
 */
import { classify } from '../../kube/errors.ts';
import { ListWatch, type ListWatchSink, type ListWatchStatus } from '../../kube/listwatch.ts';
import { CONFIGMAPS, NAMESPACES, SECRETS, type Resource } from '../../kube/resources.ts';
import type { Transport } from '../../kube/transport.ts';
import { Writer } from '../../kube/writer.ts';
import type { Guardrails, ObjectMeta, Plan, Snapshot, SourceState } from '../../plan/model.ts';
import { plan } from '../../plan/plan.ts';
import { syncContextsOf } from '../../rules/dialects/kubed.ts';
import { kubed, mirrorClaim } from '../../rules/markers.ts';
import type { Kind, NamespaceInfo, PushRule, SourceSpec } from '../../rules/model.ts';
import { Limiter } from '../../runtime/limit.ts';
import { WorkQueue } from '../../runtime/queue.ts';
import { Store } from '../../runtime/store.ts';
import { applyOps, type WriteFailure } from '../apply.ts';
import { RESOURCES, SOURCE_INDEX_VALUE, storeSink, type ClusterCache, type ObjectIndex } from '../cache.ts';
import { describeError, type EventRecorder } from '../events.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { objectKey, parseSourceQueueKey, sourceQueueKey, toNamespaceInfo, toObjectMeta } from '../objects.ts';
import type { SourceReader } from '../sources.ts';

/** The kinds copied across clusters: kubed copies Secrets and ConfigMaps only. */
export const REMOTE_KINDS: readonly Kind[] = ['Secret', 'ConfigMap'];

/**
 * How to reach one remote cluster, and what the operator said about it: a context of
 * `--remote-kubeconfig` (`origin: 'kubeconfig'`) or a registered cluster, one Secret in nsync's
 * namespace (`origin: 'registered'`).
 */
export interface RemoteAccess {
  /** The context's or registered cluster's name: what a source names (`sync-contexts`, native cluster globs). */
  readonly name: string;
  /** Every copy goes to this namespace and the mirror watch is confined to it; undefined = per rule. */
  readonly namespace: string | undefined;
  readonly transport: Transport;
  /** Where the operator declared it. */
  readonly origin: 'kubeconfig' | 'registered';
  /** The cluster's labels, which cluster selectors match: a registration's labels; none for a context. */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * The registration's `nsync.dev/accept-from` (source namespace globs, `!` excludes): which
   * namespaces' annotations and Mirrors may push into this cluster. ClusterMirrors (the operator's)
   * need no such consent. Undefined on a registration = none; a kubeconfig context accepts every
   * source namespace (kubed's model: listing the context is the operator's consent).
   */
  readonly acceptFrom: string | undefined;
}

/** What a remote cluster shares with the local pipeline: read-only views, and where to report. */
export interface RemoteDeps {
  /** The local cache: where sources are found. */
  readonly local: ClusterCache;
  readonly sources: SourceReader;
  readonly guardrails: Guardrails;
  readonly events: EventRecorder;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly writeConcurrency: number;
  readonly workers: number;
}

/** The label every mirror nsync writes into another cluster carries, and the remote watch selects. */
export function remoteMirrorSelector(clusterName: string): string {
  return `${kubed.originCluster}=${clusterName}`;
}

const NO_INDEX = (): readonly string[] => [];

/** The remote Secrets or ConfigMaps nsync's label selects, indexed by the local source they claim. */
function newRemoteStore(kind: Kind, clusterName: string): Store<ObjectMeta, ObjectIndex> {
  return new Store<ObjectMeta, ObjectIndex>({
    key: (meta) => objectKey(meta.namespace, meta.name),
    unchanged: (old, next) => old.resourceVersion === next.resourceVersion && old.uid === next.uid,
    indexes: {
      claims: (meta) => {
        const claim = mirrorClaim(kind, meta.labels, meta.annotations, { clusterName, remote: true });
        return claim ? [objectKey(claim.sourceNamespace, claim.sourceName)] : [];
      },
      pulls: NO_INDEX,
      sources: NO_INDEX,
      targetNames: NO_INDEX,
      targetProblems: NO_INDEX,
    },
  });
}

/** The one push rule kubed's `sync-contexts` means in a remote cluster: same name, labels and annotations copied. */
function remoteRule(name: string): PushRule {
  return {
    dialect: 'kubed',
    targets: { op: 'all' },
    targetName: name,
    copy: { labels: true, annotations: true, ownerReferences: false, keys: undefined },
  };
}

const NO_RULES: SourceSpec = { push: [], consent: [], unsupported: [], problems: [] };

/** One remote cluster: cache, queue and reconcile. */
export class RemoteCluster {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly namespaces = new Store<NamespaceInfo>({ key: (ns) => ns.name });
  readonly mirrors: Readonly<Record<Kind, Store<ObjectMeta, ObjectIndex>>>;
  private readonly access: RemoteAccess;
  private readonly deps: RemoteDeps;
  private readonly writer: Writer;
  private readonly limiter: Limiter;
  private readonly watches: ListWatch<unknown>[];
  /**
   * This pipeline's own stop: aborted by stop() (one cluster goes, a deleted registration, while
   * the rest run) or with run()'s signal. It ends every request to this cluster, so none holds
   * nsync's stop (docs/adr/0011).
   */
  private readonly stopped = new AbortController();

  constructor(access: RemoteAccess, deps: RemoteDeps) {
    this.name = access.name;
    this.access = access;
    this.deps = deps;
    const transport = access.transport.withSignal(this.stopped.signal);
    this.writer = new Writer(transport);
    this.limiter = new Limiter(deps.writeConcurrency);
    const clusterName = deps.guardrails.clusterName;
    this.mirrors = {
      Secret: newRemoteStore('Secret', clusterName),
      ConfigMap: newRemoteStore('ConfigMap', clusterName),
      Role: newRemoteStore('Role', clusterName),
      RoleBinding: newRemoteStore('RoleBinding', clusterName),
      ServiceAccount: newRemoteStore('ServiceAccount', clusterName),
    };
    const cluster = access.name;
    this.queue = new WorkQueue({
      observer: {
        onDone: (_key, _ms, outcome) => {
          if (outcome === 'ok') deps.metrics.remoteLastSync.set({ cluster }, Date.now() / 1000);
        },
        onError: (key, error) => {
          // A reconcile cut short by nsync's stop did not fail: its requests were ended on purpose.
          if (this.stopped.signal.aborted) return;
          deps.metrics.remoteErrors.inc({ cluster });
          deps.log.warn({ cluster, key, err: describeError(error) }, 'remote reconcile failed');
        },
      },
    });
    const watch = <T>(resource: Resource, sink: ListWatchSink<T>, scoped: boolean): ListWatch<unknown> =>
      new ListWatch<T>({
        transport,
        resource,
        sink,
        metadataOnly: true,
        relistAfterError: true,
        ...(scoped && access.namespace !== undefined ? { namespace: access.namespace } : {}),
        ...(scoped ? { labelSelector: remoteMirrorSelector(clusterName) } : {}),
        onRestart: (reason, error) => {
          deps.metrics.watchRestarts.inc({ resource: `${cluster}/${resource.plural}`, reason });
          if (reason !== 'closed')
            deps.log.debug(
              { cluster, resource: resource.plural, reason, err: describeError(error) },
              'remote watch restarted',
            );
        },
      });
    const kinds = REMOTE_KINDS.filter((kind) => deps.local.kinds.includes(kind));
    this.watches = [
      watch(
        NAMESPACES,
        storeSink(this.namespaces, toNamespaceInfo, (ns) => ns.name),
        false,
      ),
      ...kinds.map((kind) =>
        watch(
          kind === 'Secret' ? SECRETS : CONFIGMAPS,
          storeSink(
            this.mirrors[kind],
            (raw) => toObjectMeta(kind, raw),
            (meta) => objectKey(meta.namespace, meta.name),
          ),
          true,
        ),
      ),
    ];
    // A remote mirror changed or deleted by someone, or a namespace created later: only this
    // cluster's queue hears of it.
    for (const kind of kinds) {
      this.mirrors[kind].onChange((change) => {
        const metas =
          change.type === 'update'
            ? [change.old, change.new]
            : [change.type === 'add' ? change.new : change.old];
        for (const meta of metas) {
          const claim = mirrorClaim(kind, meta.labels, meta.annotations, { clusterName, remote: true });
          if (claim) this.queue.add(sourceQueueKey(kind, claim.sourceNamespace, claim.sourceName));
        }
      });
    }
    this.namespaces.onChange(() => {
      for (const key of this.sourceKeys()) this.queue.add(key);
    });
  }

  /** Stops this pipeline alone: its watches end and its queue finishes what is in flight; run() then resolves. */
  stop(): void {
    this.stopped.abort();
  }

  /** Health, for nsync_remote_cluster_up: up while every watch has synced and its last attempt did not fail. */
  get up(): boolean {
    return this.watches.every((watch) => {
      const status = watch.status();
      return status.synced && !status.failing;
    });
  }

  status(): ListWatchStatus[] {
    return this.watches.map((watch) => watch.status());
  }

  /** Every key worth a look in this cluster: local sources naming it, and sources its mirrors claim. */
  sourceKeys(): Set<string> {
    const keys = new Set<string>();
    for (const kind of REMOTE_KINDS) {
      for (const source of this.deps.local.objects[kind].byIndex('sources', SOURCE_INDEX_VALUE)) {
        if (syncContextsOf(source.annotations).includes(this.name))
          keys.add(sourceQueueKey(kind, source.namespace, source.name));
      }
      for (const ref of this.mirrors[kind].indexValues('claims')) keys.add(`${kind}/${ref}`);
    }
    return keys;
  }

  /**
   * Runs the watches at once and the queue once the cache is complete and `leading` resolved
   * (never act on a half-loaded cache: a partial list looks like "mirror gone"). Until then the
   * keys wait in this cluster's queue; nothing else waits for it.
   */
  async run(parent: AbortSignal, leading: Promise<boolean>, resyncPeriodMs: number): Promise<void> {
    const stop = (): void => {
      this.stopped.abort();
    };
    if (parent.aborted) stop();
    else parent.addEventListener('abort', stop, { once: true });
    const signal = this.stopped.signal;
    try {
      const watches = Promise.all(this.watches.map((watch) => watch.run(signal)));
      const ready = Promise.all(this.watches.map((watch) => watch.synced()));
      const aborted = new Promise<void>((resolve) => {
        signal.addEventListener(
          'abort',
          () => {
            resolve();
          },
          { once: true },
        );
      });
      await Promise.race([ready, aborted]);
      if (signal.aborted || !(await Promise.race([leading, aborted.then(() => false)]))) {
        await watches;
        return;
      }
      this.deps.log.info({ cluster: this.name }, 'remote cluster cache synced');
      for (const key of this.sourceKeys()) this.queue.add(key);
      const resync = setInterval(() => {
        for (const key of this.sourceKeys()) this.queue.add(key);
      }, resyncPeriodMs);
      try {
        await this.queue.run({
          concurrency: this.deps.workers,
          handler: (key) => this.reconcile(key),
          signal,
        });
      } finally {
        clearInterval(resync);
      }
      await watches;
    } finally {
      // A pipeline stopped alone (a rebuilt registration) must not leave its listener on nsync's signal.
      parent.removeEventListener('abort', stop);
    }
  }

  /** Builds the planner's snapshot of one local source for this cluster (reads the source only when it names this cluster). */
  async snapshotOf(kind: Kind, namespace: string, name: string): Promise<Snapshot | undefined> {
    const { local, sources, guardrails } = this.deps;
    const sourceKey = objectKey(namespace, name);
    const store = this.mirrors[kind];
    const mirrors = store.byIndex('claims', sourceKey);
    const meta = local.objects[kind].get(sourceKey);
    const wanted = meta !== undefined && syncContextsOf(meta.annotations).includes(this.name);
    if (!wanted && mirrors.length === 0) return undefined;
    let source: SourceState | undefined;
    if (meta !== undefined) {
      const read = wanted
        ? await sources.read(kind, RESOURCES[kind], meta, !guardrails.isExcluded(namespace))
        : undefined;
      source =
        read === undefined
          ? { meta, content: { type: undefined, data: {}, binaryData: {} }, spec: NO_RULES }
          : { ...read, spec: wanted ? { ...NO_RULES, push: [remoteRule(name)] } : NO_RULES };
    }
    // kubed's rule: the context's namespace, else the source's; never created by nsync.
    const targetNamespace = this.access.namespace ?? namespace;
    const there = this.namespaces.get(targetNamespace);
    const seen = new Map<string, ObjectMeta | undefined>();
    if (wanted && there !== undefined && store.get(objectKey(targetNamespace, name)) === undefined) {
      // Not one of ours (the watch would have it): whatever sits there decides, so read its metadata.
      seen.set(objectKey(targetNamespace, name), await this.lookupUnowned(kind, targetNamespace, name));
    }
    return {
      key: { kind, namespace, name },
      source,
      namespaces: there === undefined ? [] : [there],
      lookup: (ns, objectName) => {
        const key = objectKey(ns, objectName);
        return store.get(key) ?? seen.get(key);
      },
      mirrors,
      pullTargets: [],
      guardrails,
      now: new Date().toISOString(),
      remote: true,
    };
  }

  private async lookupUnowned(kind: Kind, namespace: string, name: string): Promise<ObjectMeta | undefined> {
    try {
      const raw = await this.limiter.run(() => this.writer.getMeta(RESOURCES[kind], namespace, name));
      return toObjectMeta(kind, raw);
    } catch (error) {
      if (classify(error) === 'not-found') return undefined;
      throw error;
    }
  }

  /** Level-based reconcile of one local source key in this cluster. Throws so the queue backs off. */
  async reconcile(queueKey: string): Promise<void> {
    const key = parseSourceQueueKey(queueKey);
    if (key === undefined || !REMOTE_KINDS.includes(key.kind)) return;
    const snapshot = await this.snapshotOf(key.kind, key.namespace, key.name);
    if (snapshot === undefined) {
      this.deps.log.debug({ cluster: this.name, source: queueKey }, 'remote: nothing to do');
      return;
    }
    const result = plan(snapshot);
    const cluster = this.name;
    this.deps.log.debug(
      {
        cluster,
        source: queueKey,
        decisions: result.decisions.map(
          (decision) => `${decision.namespace}/${decision.name}: ${decision.code}`,
        ),
      },
      'remote plan',
    );
    const metrics = {
      countWrite: (verb: string, outcome: string) => {
        this.deps.metrics.remoteWrites.inc({ cluster, verb, outcome });
      },
    };
    const failures = await applyOps(
      { writer: this.writer, limiter: this.limiter, metrics, stores: this.mirrors },
      result.ops,
    );
    this.report(snapshot, result, failures);
    if (failures.length > 0) {
      throw new AggregateError(
        failures.map((failure) => failure.error),
        `${String(failures.length)} of ${String(result.ops.length)} writes for ${queueKey} in cluster ${cluster} failed`,
      );
    }
  }

  /** Events on the source that name this cluster; logs of the writes. */
  private report(snapshot: Snapshot, result: Plan, failures: readonly WriteFailure[]): void {
    const { source, key } = snapshot;
    const cluster = this.name;
    const written = result.ops.length - failures.length;
    if (written > 0)
      this.deps.log.info(
        {
          cluster,
          source: `${key.kind}/${key.namespace}/${key.name}`,
          writes: written,
          failed: failures.length,
        },
        'remote mirrors written',
      );
    if (source === undefined) return;
    const subject = { kind: key.kind, namespace: key.namespace, name: key.name, uid: source.meta.uid };
    for (const decision of result.decisions) {
      if (decision.mode !== 'push') continue;
      if (decision.code === 'conflict-unowned' || decision.code === 'conflict-other-source') {
        this.deps.events.emit(subject, {
          type: 'Warning',
          reason: 'RemoteConflictWithUnownedObject',
          action: 'Mirror',
          note: `Cluster ${cluster}: ${decision.namespace}/${decision.name} already holds an object nsync does not own there; left untouched.`,
        });
      } else if (
        decision.code !== 'in-sync' &&
        decision.code !== 'create' &&
        decision.code !== 'update' &&
        decision.code !== 'delete-orphan' &&
        decision.code !== 'not-selected'
      ) {
        this.deps.events.emit(subject, {
          type: 'Warning',
          reason: 'RemoteMirrorSkipped',
          action: 'Mirror',
          note: `Cluster ${cluster}: ${decision.message}`,
        });
      }
    }
    if (snapshot.namespaces.length === 0 && syncContextsOf(source.meta.annotations).includes(cluster)) {
      this.deps.events.emit(subject, {
        type: 'Warning',
        reason: 'RemoteNamespaceMissing',
        action: 'Mirror',
        note: `Cluster ${cluster}: namespace ${this.access.namespace ?? key.namespace} does not exist there; nsync never creates it, and copies once it does.`,
      });
    }
    for (const failure of failures) {
      const errorClass = classify(failure.error);
      if (errorClass !== 'invalid' && errorClass !== 'forbidden' && errorClass !== 'fatal') continue;
      const target = failure.op.target;
      this.deps.events.emit(subject, {
        type: 'Warning',
        reason: 'RemoteMirrorWriteFailed',
        action: 'Mirror',
        note: `Cluster ${cluster}: ${failure.op.verb} ${target.namespace}/${target.name} failed (${errorClass}), retrying with backoff: ${describeError(failure.error).message}`,
      });
    }
  }
}
