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
import type { Decision, Guardrails, ObjectMeta, Plan, Snapshot, SourceState } from '../../plan/model.ts';
import { plan } from '../../plan/plan.ts';
import { evaluateFilter } from '../../rules/filter.ts';
import { clusterAnnotationsOf, remotePushRules, selectsCluster } from '../../rules/clusters.ts';
import { syncContextsOf } from '../../rules/dialects/kubed.ts';
import { kubed, mirrorClaim } from '../../rules/markers.ts';
import {
  formatOrigin,
  type Kind,
  type NamespaceInfo,
  type ObjectKey,
  type PushRule,
  type SourceSpec,
} from '../../rules/model.ts';
import { parseSource } from '../../rules/parse.ts';
import { compileGlob } from '../../rules/patterns.ts';
import { Limiter } from '../../runtime/limit.ts';
import { WorkQueue } from '../../runtime/queue.ts';
import { Store } from '../../runtime/store.ts';
import { applyOps, type WriteFailure } from '../apply.ts';
import { RESOURCES, SOURCE_INDEX_VALUE, storeSink, type ClusterCache, type ObjectIndex } from '../cache.ts';
import { describeError, type EventRecorder } from '../events.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { CachedMirror, MirrorResources } from '../mirror-resources.ts';
import { remoteClusterStatus, withResourceRules } from '../resource-status.ts';
import type { ClusterStatuses } from './cluster-statuses.ts';
import { skipEvents } from './skip-events.ts';
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
  /** ClusterMirrors and Mirrors, whose `spec.clusters` may name this cluster; absent in tests of annotations only. */
  readonly resources?: MirrorResources;
  /** Where this cluster's outcome for each resource goes (their status.clusters). */
  readonly clusterStatuses?: ClusterStatuses;
  /** Told the source queue key when a resource's outcome here changed, so its status is written. */
  readonly onStatusChanged?: (queueKey: string) => void;
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

/**
 * The one push rule kubed's `sync-contexts` means in a remote cluster: into `namespace` (the
 * context's, else the source's), same name, labels and annotations copied.
 */
function remoteRule(name: string, namespace: string): PushRule {
  const target = compileGlob(namespace);
  return {
    dialect: 'kubed',
    targets: target.ok ? { op: 'names', patterns: [target.value] } : { op: 'none' },
    targetName: name,
    copy: { labels: true, annotations: true, ownerReferences: false, keys: undefined },
  };
}

/** The rules one source has for one remote cluster, and those refused for lack of the cluster's consent. */
export interface RemoteRules {
  readonly push: readonly PushRule[];
  readonly refused: readonly { readonly rule: PushRule; readonly why: string }[];
}

/**
 * Which of a source's push rules (annotations of every dialect plus ClusterMirrors and Mirrors, as
 * parsed) one remote cluster serves: kubed's when `sync-contexts` names it, and every rule whose
 * cluster selection reaches it and whose consent holds (rules/clusters.ts), without the selection
 * (the planner knows namespaces only). Pure.
 */
export function remoteRulesOf(
  access: Pick<RemoteAccess, 'name' | 'namespace' | 'labels' | 'acceptFrom'>,
  source: {
    readonly namespace: string;
    readonly name: string;
    readonly annotations: Readonly<Record<string, string>>;
  },
  push: readonly PushRule[],
): RemoteRules {
  const served: PushRule[] = [];
  const refused: { rule: PushRule; why: string }[] = [];
  if (syncContextsOf(source.annotations).includes(access.name))
    served.push(remoteRule(source.name, access.namespace ?? source.namespace));
  for (const verdict of remotePushRules(push, access, source.namespace)) {
    const { clusters: _selected, ...rule } = verdict.rule;
    if (verdict.served) served.push(rule);
    else refused.push({ rule, why: verdict.why });
  }
  return { push: served, refused };
}

/** Push decisions that are not news on the source: done, or not selected at all. */
const QUIET_CODES: ReadonlySet<Decision['code']> = new Set([
  'in-sync',
  'create',
  'update',
  'delete-orphan',
  'not-selected',
]);

/** Push decisions the planner makes before it asks whether the rule selects the namespace. */
const BEFORE_SELECTION: ReadonlySet<Decision['code']> = new Set([
  'excluded',
  'source-not-allowed',
  'opted-out',
]);

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

  /**
   * Every key worth a look in this cluster: local sources whose annotations name it, sources a
   * ClusterMirror or Mirror names it for, and sources its mirrors claim.
   */
  sourceKeys(): Set<string> {
    const keys = new Set<string>();
    for (const kind of REMOTE_KINDS) {
      for (const source of this.deps.local.objects[kind].byIndex('sources', SOURCE_INDEX_VALUE)) {
        if (this.annotationsName(source.annotations))
          keys.add(sourceQueueKey(kind, source.namespace, source.name));
      }
      for (const ref of this.mirrors[kind].indexValues('claims')) keys.add(`${kind}/${ref}`);
    }
    for (const entry of this.deps.resources?.store.values() ?? []) {
      if (entry.sourceKey !== undefined && this.resourceNames(entry)) keys.add(entry.sourceKey);
    }
    return keys;
  }

  /** Whether a source's annotations name this cluster (`sync-contexts`, or a native cluster selection). */
  private annotationsName(annotations: Readonly<Record<string, string>>): boolean {
    if (syncContextsOf(annotations).includes(this.name)) return true;
    const { clusters } = clusterAnnotationsOf(annotations);
    return clusters !== undefined && selectsCluster(clusters, this.access).match;
  }

  /** Whether a ClusterMirror or Mirror names this cluster in spec.clusters. */
  private resourceNames(entry: CachedMirror): boolean {
    const clusters = entry.conversion.ok ? entry.conversion.rule.push.clusters : undefined;
    return clusters !== undefined && selectsCluster(clusters, this.access).match;
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

  /**
   * Builds the planner's snapshot of one local source for this cluster, and the rules refused
   * for lack of this cluster's consent. Reads the source only when some rule names this cluster;
   * undefined when nothing does and no mirror here claims it (no I/O then).
   */
  async snapshotOf(
    kind: Kind,
    namespace: string,
    name: string,
  ): Promise<{ snapshot: Snapshot; refused: RemoteRules['refused'] } | undefined> {
    const { local, sources, guardrails } = this.deps;
    const sourceKey = objectKey(namespace, name);
    const store = this.mirrors[kind];
    const mirrors = store.byIndex('claims', sourceKey);
    const meta = local.objects[kind].get(sourceKey);
    const named = this.deps.resources?.forSource(kind, namespace, name) ?? [];
    const wanted =
      meta !== undefined &&
      (this.annotationsName(meta.annotations) || named.some((entry) => this.resourceNames(entry)));
    if (!wanted && mirrors.length === 0) return undefined;
    let source: SourceState | undefined;
    let refused: RemoteRules['refused'] = [];
    if (meta !== undefined) {
      const read = wanted
        ? await sources.read(kind, RESOURCES[kind], meta, !guardrails.isExcluded(namespace), named.length > 0)
        : undefined;
      if (read === undefined) {
        // Nothing names this cluster any more, or the source cannot be read: its mirrors here are
        // orphans, unless its annotations are invalid now (bad input keeps what it made).
        const problems = parseSource(kind, namespace, name, meta.annotations, undefined).problems;
        source = {
          meta,
          content: { type: undefined, data: {}, binaryData: {} },
          spec: { ...NO_RULES, problems },
        };
      } else {
        const ruled = withResourceRules(kind, read, named);
        const rules = remoteRulesOf(this.access, meta, ruled.spec.push);
        refused = rules.refused;
        source = { ...ruled, spec: { ...NO_RULES, push: rules.push, problems: ruled.spec.problems } };
      }
    }
    const confined = this.access.namespace;
    const reachable =
      confined === undefined
        ? this.namespaces.values()
        : [this.namespaces.get(confined)].filter((entry) => entry !== undefined);
    // Only the namespaces a rule selects or a mirror of this source sits in: the others have
    // nothing to say (a kubed rule names one namespace, and a fleet cluster may have thousands),
    // and "no namespace" then truly means the wanted one does not exist there.
    const rules = source?.spec.push ?? [];
    const holding = new Set(mirrors.map((mirror) => mirror.namespace));
    const namespaces = reachable.filter(
      (ns) => holding.has(ns.name) || rules.some((rule) => evaluateFilter(rule.targets, ns).match),
    );
    const seen = new Map<string, ObjectMeta | undefined>();
    const snapshot: Snapshot = {
      key: { kind, namespace, name },
      source,
      namespaces,
      lookup: (ns, objectName) => {
        const key = objectKey(ns, objectName);
        return store.get(key) ?? seen.get(key);
      },
      mirrors,
      pullTargets: [],
      guardrails,
      now: new Date().toISOString(),
      remote: true,
      invalidResources: named.filter((entry) => !entry.conversion.ok).map((entry) => entry.key),
    };
    // A target the mirror watch does not see is not one of ours: whatever sits there decides, so
    // its metadata is read (one GET per would-be create) before the plan is trusted.
    for (const op of plan(snapshot).ops) {
      if (op.verb !== 'create') continue;
      const key = objectKey(op.target.namespace, op.target.name);
      seen.set(key, await this.lookupUnowned(kind, op.target.namespace, op.target.name));
    }
    return { snapshot, refused };
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
    const built = await this.snapshotOf(key.kind, key.namespace, key.name);
    if (built === undefined) {
      this.recordStatuses(queueKey, key, undefined);
      this.deps.log.debug({ cluster: this.name, source: queueKey }, 'remote: nothing to do');
      return;
    }
    const { snapshot, refused } = built;
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
    this.report(snapshot, result, failures, refused);
    this.recordStatuses(queueKey, key, { ...built, result, failures });
    if (failures.length > 0) {
      throw new AggregateError(
        failures.map((failure) => failure.error),
        `${String(failures.length)} of ${String(result.ops.length)} writes for ${queueKey} in cluster ${cluster} failed`,
      );
    }
  }

  /**
   * Whether a rule served here selects the decision's namespace: the operator's exclusions and
   * opt-outs are decided before selection, and are news only where a rule wanted a mirror.
   */
  /**
   * Whether a decision concerns a namespace some rule selects here: the operator's exclusions and
   * opt-outs are decided before the selection, for every namespace of the cluster, and are news
   * (an Event, a row of `nsync explain`) only where a rule would otherwise have copied.
   */
  selectedHere(snapshot: Snapshot, decision: Decision): boolean {
    if (!BEFORE_SELECTION.has(decision.code)) return true;
    const namespace = this.namespaces.get(decision.namespace);
    return (
      namespace !== undefined &&
      (snapshot.source?.spec.push ?? []).some((rule) => evaluateFilter(rule.targets, namespace).match)
    );
  }

  /**
   * status.clusters: this cluster's outcome for each ClusterMirror and Mirror of the source that
   * selects it (forgotten for those that no longer do, or when the source is gone). A change asks
   * the local pipeline to write the status; an unchanged outcome asks nothing.
   */
  private recordStatuses(
    queueKey: string,
    key: ObjectKey,
    done:
      | {
          readonly snapshot: Snapshot;
          readonly refused: RemoteRules['refused'];
          readonly result: Plan;
          readonly failures: readonly WriteFailure[];
        }
      | undefined,
  ): void {
    const book = this.deps.clusterStatuses;
    // A stopped pipeline (its registration deleted or rebuilt) was forgotten in the book when it
    // stopped: a reconcile still finishing must not write its entry back.
    if (book === undefined || this.stopped.signal.aborted) return;
    let changed = false;
    for (const entry of this.deps.resources?.forSource(key.kind, key.namespace, key.name) ?? []) {
      if (done?.snapshot.source === undefined || !this.resourceNames(entry)) {
        changed = book.delete(entry.key, this.name) || changed;
        continue;
      }
      const refusal = done.refused.find(
        (refused) => refused.rule.origin !== undefined && formatOrigin(refused.rule.origin) === entry.key,
      );
      const status =
        refusal === undefined
          ? remoteClusterStatus(this.name, entry, done.snapshot, done.result, done.failures)
          : {
              name: this.name,
              accepted: false,
              selected: 0,
              inSync: 0,
              pending: 0,
              failed: 0,
              problemCount: 0,
              message: refusal.why,
            };
      changed = book.set(entry.key, status) || changed;
    }
    if (changed) this.deps.onStatusChanged?.(queueKey);
  }

  /** Events on the source that name this cluster; logs of the writes. */
  private report(
    snapshot: Snapshot,
    result: Plan,
    failures: readonly WriteFailure[],
    refused: RemoteRules['refused'],
  ): void {
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
    for (const { rule, why } of refused) {
      this.deps.events.emit(subject, {
        type: 'Warning',
        reason: 'RemoteClusterConsentMissing',
        action: 'Mirror',
        note: `${rule.origin === undefined ? 'The nsync.dev/push-to-clusters annotations' : formatOrigin(rule.origin)} select this cluster, but ${why}; nothing is written there.`,
      });
    }
    const skipped: Decision[] = [];
    for (const decision of result.decisions) {
      if (decision.mode !== 'push') continue;
      if (decision.code === 'conflict-unowned' || decision.code === 'conflict-other-source') {
        this.deps.events.emit(subject, {
          type: 'Warning',
          reason: 'RemoteConflictWithUnownedObject',
          action: 'Mirror',
          note: `Cluster ${cluster}: ${decision.namespace}/${decision.name} already holds an object nsync does not own there; left untouched.`,
        });
      } else if (!QUIET_CODES.has(decision.code) && this.selectedHere(snapshot, decision)) {
        skipped.push(decision);
      }
    }
    for (const { reason, note } of skipEvents(cluster, skipped)) {
      this.deps.events.emit(subject, { type: 'Warning', reason, action: 'Mirror', note });
    }
    const kubedTarget = this.access.namespace ?? key.namespace;
    if (
      this.namespaces.get(kubedTarget) === undefined &&
      syncContextsOf(source.meta.annotations).includes(cluster)
    ) {
      this.deps.events.emit(subject, {
        type: 'Warning',
        reason: 'RemoteNamespaceMissing',
        action: 'Mirror',
        note: `Cluster ${cluster}: namespace ${kubedTarget} does not exist there; nsync never creates it, and copies once it does.`,
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
