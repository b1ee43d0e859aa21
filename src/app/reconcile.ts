/**
 * Level-based reconcile of one source key: read the current state from the caches, plan what
 * must be true, write the difference, report what people must know. It never receives an event;
 * a key is all it needs, so it can run any number of times with the same result.
 */
import { ApiError, classify } from '../kube/errors.ts';
import type { Writer } from '../kube/writer.ts';
import type { RawObject } from '../kube/resources.ts';
import type {
  Decision,
  Guardrails,
  ObjectMeta,
  Plan,
  PullTarget,
  Snapshot,
  SourceState,
} from '../plan/model.ts';
import { plan } from '../plan/plan.ts';
import { localPushRules } from '../rules/clusters.ts';
import { syncContextsOf } from '../rules/dialects/kubed.ts';
import { ACCEPT_FROM_ANNOTATION, kubed, owned } from '../rules/markers.ts';
import type { Kind, ObjectKey } from '../rules/model.ts';
import type { Limiter } from '../runtime/limit.ts';
import { applyOps, type WriteFailure } from './apply.ts';
import { RESOURCES, type ClusterCache } from './cache.ts';
import { describeError, type EventRecorder } from './events.ts';
import type { MirrorResources } from './mirror-resources.ts';
import type { ClusterStatuses } from './remote/cluster-statuses.ts';
import { withResourceRules, writeResourceStatuses } from './resource-status.ts';
import type { Logger } from './log.ts';
import { noMirrors, type Metrics, type MirrorState } from './metrics.ts';
import { objectKey, parseSourceQueueKey, parseTargetQueueKey, targetOf } from './objects.ts';
import type { SourceReader } from './sources.ts';
import { REMOTE_KINDS } from './remote/cluster.ts';

/** Everything a reconcile reads and writes through. */
export interface ReconcileDeps {
  readonly cache: ClusterCache;
  readonly sources: SourceReader;
  readonly writer: Writer;
  readonly limiter: Limiter;
  readonly events: EventRecorder;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly guardrails: Guardrails;
  /** ClusterMirrors and Mirrors; absent where they are not served (explain of annotations). */
  readonly resources?: MirrorResources;
  /** What the remote pipelines found per resource and cluster, written into status.clusters. */
  readonly clusterStatuses?: ClusterStatuses;
  /**
   * The remote clusters' names when `--remote-kubeconfig` or `--registered-clusters` is set
   * (docs/adr/0018, 0021), kept current as registrations come and go: `sync-contexts` is then
   * served by the remote pipelines, and only names of no cluster are reported here.
   */
  readonly remoteContexts?: ReadonlySet<string>;
}

/** Builds the planner's snapshot of one source from the caches (reads the source's data if changed). */
export async function snapshotOf(
  deps: Pick<ReconcileDeps, 'cache' | 'sources' | 'guardrails'> & {
    readonly resources?: MirrorResources;
    readonly remoteContexts?: ReadonlySet<string>;
  },
  key: ObjectKey,
): Promise<Snapshot> {
  const store = deps.cache.objects[key.kind];
  const sourceKey = objectKey(key.namespace, key.name);
  const meta = store.get(sourceKey);
  const named = deps.resources?.forSource(key.kind, key.namespace, key.name) ?? [];
  const read: SourceState | undefined =
    meta === undefined
      ? undefined
      : await deps.sources.read(
          key.kind,
          RESOURCES[key.kind],
          meta,
          !deps.guardrails.isExcluded(key.namespace),
          named.length > 0,
        );
  const ruled =
    read === undefined
      ? undefined
      : forThisCluster(withResourceRules(key.kind, read, named), deps.guardrails.clusterName);
  const source =
    ruled === undefined || deps.remoteContexts === undefined
      ? ruled
      : withRemoteContexts(ruled, deps.remoteContexts);
  if (source === undefined) deps.sources.forget(key.kind, key.namespace, key.name);
  const pullTargets: PullTarget[] = store.byIndex('pulls', sourceKey).flatMap((target) => {
    const request = targetOf(key.kind, target.annotations).pull;
    return request === undefined ? [] : [{ meta: target, request }];
  });
  return {
    key,
    source,
    namespaces: deps.cache.namespaces.values(),
    lookup: (namespace, name) => store.get(objectKey(namespace, name)),
    mirrors: store.byIndex('claims', sourceKey),
    roleExists: (namespace, name) => deps.cache.objects.Role.get(objectKey(namespace, name)) !== undefined,
    pullTargets,
    guardrails: deps.guardrails,
    now: new Date().toISOString(),
    invalidResources: named.filter((entry) => !entry.conversion.ok).map((entry) => entry.key),
  };
}

/**
 * The source's rules as this cluster serves them (rules/clusters.ts): rules naming clusters only
 * when they name this one, and a problem for each that cannot be served without `--cluster-name`.
 * The remote pipelines read the rules naming other clusters themselves (remote/cluster.ts).
 */
function forThisCluster(source: SourceState, clusterName: string): SourceState {
  if (!source.spec.push.some((rule) => rule.clusters !== undefined)) return source;
  const local = localPushRules(source.spec.push, clusterName);
  return {
    ...source,
    spec: { ...source.spec, push: local.push, problems: [...source.spec.problems, ...local.problems] },
  };
}

/**
 * With `--remote-kubeconfig` or `--registered-clusters`, `sync-contexts` is served
 * (remote/cluster.ts): it is no longer reported unsupported, except for the names that are
 * neither a context of the file nor a registered cluster now, which get nothing.
 */
function withRemoteContexts(source: SourceState, contexts: ReadonlySet<string>): SourceState {
  const asked = syncContextsOf(source.meta.annotations);
  const unknown = asked.filter((context) => !contexts.has(context));
  const unsupported = source.spec.unsupported.filter((problem) => problem.annotation !== kubed.syncContexts);
  if (unknown.length > 0 && REMOTE_KINDS.includes(source.meta.kind)) {
    unsupported.push({
      dialect: 'kubed',
      annotation: kubed.syncContexts,
      message: `no context ${unknown.map((context) => `"${context}"`).join(', ')} in the remote kubeconfig (--remote-kubeconfig) and no such registered cluster, so nothing is copied there`,
    });
  }
  return { ...source, spec: { ...source.spec, unsupported } };
}

/**
 * Plans one source. A pull target the plan would write keys into that it never got from nsync is
 * read first (Plan.readsFirst): only its data tells whether it holds them of its own, and those
 * are never overwritten. Then the source is planned again with what was read. Reads only.
 */
export async function planSource(
  deps: Pick<ReconcileDeps, 'writer' | 'limiter'>,
  snapshot: Snapshot,
): Promise<{ snapshot: Snapshot; plan: Plan }> {
  const first = plan(snapshot);
  if (first.readsFirst.length === 0) return { snapshot, plan: first };
  const toRead = new Set(first.readsFirst.map((target) => objectKey(target.namespace, target.name)));
  const pullTargets = await Promise.all(
    snapshot.pullTargets.map(async (target) => {
      if (!toRead.has(objectKey(target.meta.namespace, target.meta.name))) return target;
      const held = await deps.limiter.run(() => heldKeys(deps.writer, target.meta));
      return held === undefined ? target : { ...target, held };
    }),
  );
  const read = { ...snapshot, pullTargets };
  return { snapshot: read, plan: plan(read) };
}

/**
 * The keys an object holds with a non-empty value (values themselves are dropped at once), or
 * undefined when that object is gone or was replaced by another of the same name.
 */
async function heldKeys(writer: Writer, meta: ObjectMeta): Promise<ReadonlySet<string> | undefined> {
  let raw: RawObject;
  try {
    raw = await writer.get(RESOURCES[meta.kind], meta.namespace, meta.name);
  } catch (error) {
    if (classify(error) === 'not-found') return undefined;
    throw error;
  }
  if (raw.metadata.uid !== meta.uid) return undefined;
  const filled = (map: Readonly<Record<string, string>> | undefined): string[] =>
    Object.entries(map ?? {})
      .filter(([, value]) => value !== '')
      .map(([key]) => key);
  return new Set([...filled(raw.data), ...filled(raw.binaryData)]);
}

/** How decisions count towards nsync_mirrors. */
function stateOf(decision: Decision): MirrorState | undefined {
  switch (decision.code) {
    case 'in-sync':
    case 'create':
    case 'update':
      return 'in_sync';
    case 'conflict-unowned':
    case 'conflict-other-source':
      return 'conflict';
    case 'consent-missing':
    case 'opted-out':
    case 'source-not-allowed':
    case 'dialect-disabled':
    case 'refused':
    case 'reserved':
    case 'target-consent-missing':
      return 'refused';
    case 'contested':
      return 'contested';
    case 'over-budget':
      return 'over_budget';
    case 'waiting-for-role':
      return 'waiting';
    case 'invalid-rule':
      return 'error';
    case 'delete-orphan':
    case 'not-selected':
    case 'source-namespace':
    case 'terminating':
    case 'excluded':
    case 'source-missing':
      return undefined;
  }
}

/**
 * Reconciles one queue key. Throws (so the queue retries with backoff) when a write failed —
 * except when the server asked us to come back later (429 with Retry-After): then the key is
 * requeued after that delay. Level-based, so the retry redoes exactly what is still missing.
 */
export async function reconcile(deps: ReconcileDeps, queueKey: string): Promise<{ requeueAfter?: number }> {
  const target = parseTargetQueueKey(queueKey);
  if (target !== undefined) {
    reportTargetProblems(deps, target);
    return {};
  }
  const key = parseSourceQueueKey(queueKey);
  if (key === undefined) return {};
  const started = performance.now();
  const read = await snapshotOf(deps, key);
  const snapshotAt = performance.now();
  const { snapshot, plan: result } = await planSource(deps, read);
  const plannedAt = performance.now();
  const failures = await applyOps({ ...deps, stores: deps.cache.objects }, result.ops);
  if (deps.log.isLevelEnabled('debug')) {
    const ms = (from: number, to: number): number => Math.round((to - from) * 10) / 10;
    deps.log.debug(
      {
        source: queueKey,
        decisions: result.decisions.length,
        writes: result.ops.length,
        failed: failures.length,
        targetsRead: snapshot.pullTargets.filter((target) => target.held !== undefined).length,
        snapshotMs: ms(started, snapshotAt),
        planMs: ms(snapshotAt, plannedAt),
        writeMs: ms(plannedAt, performance.now()),
      },
      'reconciled',
    );
  }
  report(deps, snapshot, result, failures);
  if (deps.resources !== undefined) {
    const named = deps.resources.forSource(key.kind, key.namespace, key.name);
    await writeResourceStatuses(deps, snapshot, result, failures, named);
  }
  if (failures.length === 0) return {};
  const retryAfterMs = failures.map((failure) =>
    failure.error instanceof ApiError && failure.error.retryAfterSeconds !== undefined
      ? failure.error.retryAfterSeconds * 1000
      : undefined,
  );
  if (retryAfterMs.every((ms) => ms !== undefined)) {
    deps.metrics.retries.inc();
    return { requeueAfter: Math.min(Math.max(...retryAfterMs), MAX_RETRY_AFTER_MS) };
  }
  throw new AggregateError(
    failures.map((failure) => failure.error),
    `${String(failures.length)} of ${String(result.ops.length)} writes for ${queueKey} failed`,
  );
}

/** The longest Retry-After honoured; a server asking for more gets our own backoff. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * A would-be pull target whose pull annotations cannot be read names no valid source, so no
 * source reconcile looks at it: its problems are reported here, on the target itself.
 */
function reportTargetProblems(deps: ReconcileDeps, key: ObjectKey): void {
  const meta = deps.cache.objects[key.kind].get(objectKey(key.namespace, key.name));
  if (meta === undefined) return;
  const subject = { kind: key.kind, namespace: meta.namespace, name: meta.name, uid: meta.uid };
  for (const problem of targetOf(key.kind, meta.annotations).problems) {
    deps.events.emit(subject, {
      type: 'Warning',
      reason: 'InvalidAnnotation',
      action: 'ParseAnnotations',
      note: `${problem.annotation}: ${problem.message}`,
    });
    deps.metrics.countRuleProblem(`${meta.uid}/${meta.resourceVersion}`, problem.dialect, problem.annotation);
  }
}

/** Metrics, Events and logs for one reconcile. */
function report(
  deps: ReconcileDeps,
  snapshot: Snapshot,
  result: Plan,
  failures: readonly WriteFailure[],
): void {
  const { key, source } = snapshot;
  const sourceKey = `${key.kind}/${key.namespace}/${key.name}`;
  const failed = new Set(
    failures.map((failure) => objectKey(failure.op.target.namespace, failure.op.target.name)),
  );
  const counts = noMirrors();
  for (const decision of result.decisions) {
    const state = failed.has(objectKey(decision.namespace, decision.name)) ? 'error' : stateOf(decision);
    if (state !== undefined) counts[state] += 1;
  }
  deps.metrics.setMirrorStates(sourceKey, source === undefined ? undefined : counts);

  for (const failure of failures) {
    const errorClass = classify(failure.error);
    // Failures a retry will not cure are worth a person's attention; conflicts and throttling are not.
    if (
      source !== undefined &&
      (errorClass === 'invalid' || errorClass === 'forbidden' || errorClass === 'fatal')
    ) {
      const target = failure.op.target;
      deps.events.emit(
        { kind: key.kind, namespace: source.meta.namespace, name: source.meta.name, uid: source.meta.uid },
        {
          type: 'Warning',
          reason: 'MirrorWriteFailed',
          action: 'Mirror',
          note: `${failure.op.verb} ${target.namespace}/${target.name} failed (${errorClass}), retrying with backoff: ${describeError(failure.error).message}`,
        },
      );
    }
    deps.log.warn(
      {
        source: sourceKey,
        verb: failure.op.verb,
        target: objectKey(failure.op.target.namespace, failure.op.target.name),
        err: describeError(failure.error),
      },
      'write failed; will retry with backoff',
    );
  }
  const written = result.ops.length - failures.length;
  if (written > 0)
    deps.log.info({ source: sourceKey, writes: written, failed: failures.length }, 'mirrors written');

  if (source !== undefined) {
    reportOnSource(deps, key.kind, source, result);
    reportBoundary(deps, snapshot, source, result);
  }
  reportOnTargets(deps, snapshot, result);
}

/** `ns/name, ns/name, …` of at most ten decisions, for an Event that sums many up. */
function locations(decisions: readonly Decision[]): string {
  const shown = decisions
    .slice(0, 10)
    .map((decision) => `${decision.namespace}/${decision.name}`)
    .join(', ');
  return decisions.length > 10 ? `${shown}, … (${String(decisions.length)} in all)` : shown;
}

/**
 * What the target side decided, told to both sides: a contested or refused mirror on the source
 * and on the mirror itself (where the target namespace's team looks), reserved names, missing
 * target consent, the fan-out budget, and labels or annotations not copied.
 */
function reportBoundary(deps: ReconcileDeps, snapshot: Snapshot, source: SourceState, result: Plan): void {
  const { key } = snapshot;
  const subject = {
    kind: key.kind,
    namespace: source.meta.namespace,
    name: source.meta.name,
    uid: source.meta.uid,
  };
  const push = result.decisions.filter((decision) => decision.mode === 'push');
  const pushed = (code: Decision['code']): Decision[] => push.filter((decision) => decision.code === code);
  for (const decision of pushed('contested')) {
    deps.events.emit(subject, {
      type: 'Warning',
      reason: 'MirrorContested',
      action: 'Mirror',
      note: decision.message,
    });
    const mirror = snapshot.lookup(decision.namespace, decision.name);
    if (mirror !== undefined && !deps.guardrails.isExcluded(mirror.namespace)) {
      deps.events.emit(
        { kind: key.kind, namespace: mirror.namespace, name: mirror.name, uid: mirror.uid },
        {
          type: 'Warning',
          reason: 'MirrorContested',
          action: 'Mirror',
          note: `${decision.message} Its source is ${key.kind} ${key.namespace}/${key.name}.`,
        },
      );
    }
  }
  const refused = [
    ...pushed('refused'),
    ...result.decisions.filter((d) => d.mode === 'pull' && d.code === 'refused'),
  ];
  if (refused.length > 0) {
    deps.events.emit(subject, {
      type: 'Warning',
      reason: 'MirrorRefused',
      action: 'Mirror',
      note: `${String(refused.length)} target(s) refuse this source's mirror (${owned.refuse}) and are left alone: ${locations(refused)}`,
    });
  }
  const summed: readonly [Decision['code'], string, (found: readonly Decision[]) => string][] = [
    ['reserved', 'ReservedName', (found) => `${found[0]?.message ?? ''} Not written at: ${locations(found)}`],
    [
      'target-consent-missing',
      'TargetConsentMissing',
      (found) =>
        `${String(found.length)} selected namespace(s) do not accept mirrors from ${key.namespace} (their ${ACCEPT_FROM_ANNOTATION} annotation): ${locations(found)}`,
    ],
  ];
  for (const [code, reason, note] of summed) {
    const found = pushed(code);
    if (found.length > 0) {
      deps.events.emit(subject, { type: 'Warning', reason, action: 'Mirror', note: note(found) });
    }
  }
  if (result.overBudget !== undefined) {
    deps.events.emit(subject, {
      type: 'Warning',
      reason: 'FanOutBudgetExceeded',
      action: 'Mirror',
      note: `The source is over its fan-out budget: ${result.overBudget}. Existing mirrors are kept; no new ones are created (${String(pushed('over-budget').length)} held).`,
    });
  }
  if (result.droppedKeys.length > 0) {
    deps.events.emit(subject, {
      type: 'Normal',
      reason: 'MetadataNotCopied',
      action: 'Mirror',
      note: `Not copied into other namespaces (they would make another controller act there, or are tracking metadata): ${result.droppedKeys.join(', ')}`,
      once: true,
    });
  }
}

function reportOnSource(deps: ReconcileDeps, kind: Kind, source: SourceState, result: Plan): void {
  const subject = { kind, namespace: source.meta.namespace, name: source.meta.name, uid: source.meta.uid };
  const unsupported = new Set(source.spec.unsupported);
  for (const problem of result.sourceProblems) {
    deps.events.emit(subject, {
      type: 'Warning',
      reason: unsupported.has(problem) ? 'UnsupportedFeature' : 'InvalidAnnotation',
      action: 'ParseAnnotations',
      note: `${problem.annotation}: ${problem.message}`,
    });
    deps.metrics.countRuleProblem(
      `${source.meta.uid}/${source.meta.resourceVersion}`,
      problem.dialect,
      problem.annotation,
    );
  }
  const pushDecisions = result.decisions.filter((decision) => decision.mode === 'push');
  const unowned = pushDecisions.filter((decision) => decision.code === 'conflict-unowned');
  if (unowned.length > 0) {
    const where = unowned
      .slice(0, 10)
      .map((decision) => `${decision.namespace}/${decision.name}`)
      .join(', ');
    deps.events.emit(subject, {
      type: 'Warning',
      reason: 'ConflictWithUnownedObject',
      action: 'Mirror',
      note: `${String(unowned.length)} target(s) already hold an object nsync does not own and were left untouched: ${where}${unowned.length > 10 ? ', …' : ''}`,
    });
  }
  // A target another source already owns: the message names both sources; the first writer keeps it.
  for (const decision of pushDecisions.filter((candidate) => candidate.code === 'conflict-other-source')) {
    deps.events.emit(subject, {
      type: 'Warning',
      reason: 'ConflictWithOtherSource',
      action: 'Mirror',
      note: decision.message,
    });
  }
}

function reportOnTargets(deps: ReconcileDeps, snapshot: Snapshot, result: Plan): void {
  const byLocation = new Map(
    snapshot.pullTargets.map((target) => [objectKey(target.meta.namespace, target.meta.name), target]),
  );
  for (const decision of result.decisions) {
    if (decision.mode !== 'pull') continue;
    const target = byLocation.get(objectKey(decision.namespace, decision.name));
    if (target === undefined) continue;
    const subject = {
      kind: snapshot.key.kind,
      namespace: target.meta.namespace,
      name: target.meta.name,
      uid: target.meta.uid,
    };
    if (decision.code === 'consent-missing') {
      deps.events.emit(subject, {
        type: 'Warning',
        reason: 'PullNotAllowed',
        action: 'Pull',
        note: decision.message,
      });
    } else if (decision.code === 'source-missing') {
      deps.events.emit(subject, {
        type: 'Warning',
        reason: 'SourceMissing',
        action: 'Pull',
        note: decision.message,
      });
    } else if (decision.code === 'update' && decision.keptKeys !== undefined) {
      // Told when written, not on every resync: the collision is news when the source changes.
      deps.events.emit(subject, {
        type: 'Warning',
        reason: 'OwnKeysKept',
        action: 'Pull',
        note: decision.message,
      });
    } else if (
      decision.code === 'conflict-other-source' ||
      decision.code === 'invalid-rule' ||
      // Told on the target when only the source's namespace is excluded; nothing is ever written
      // into an excluded namespace, Events included.
      (decision.code === 'excluded' && !deps.guardrails.isExcluded(target.meta.namespace))
    ) {
      deps.events.emit(subject, {
        type: 'Warning',
        reason: 'PullRefused',
        action: 'Pull',
        note: decision.message,
      });
    }
  }
}
