/**
 * ClusterMirror and Mirror in the reconcile of their source (docs/adr/0016): their rules join the
 * source's annotation rules before planning, and after the writes each resource's status is
 * computed from the decisions its own rule made — written only when it changed, so an idle
 * cluster costs no status write.
 */
import {
  computeStatus,
  countOutcomes,
  problemList,
  sourceProblems,
  statusEquals,
  type NamespaceOutcome,
  type Outcome,
  type SpecProblem,
} from '../api/index.ts';
import type { ClusterStatusV1 } from '../api/types.ts';
import { classify } from '../kube/errors.ts';
import { CLUSTER_MIRRORS, MIRRORS } from '../kube/resources.ts';
import type { Writer } from '../kube/writer.ts';
import type { Decision, Guardrails, Plan, Snapshot, SourceState } from '../plan/model.ts';
import { filterMatches } from '../rules/filter.ts';
import { mirrorClaim } from '../rules/markers.ts';
import type { Kind } from '../rules/model.ts';
import type { WriteFailure } from './apply.ts';
import { describeError, type EventRecorder } from './events.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { CachedMirror } from './mirror-resources.ts';
import type { ClusterStatuses } from './remote/cluster-statuses.ts';
import { objectKey, targetOf } from './objects.ts';

/**
 * Why a source cannot be pushed by a resource: it is itself a mirror or a pull target, whose data
 * another source gave it under that source's consent (no chains, as for annotations).
 */
function relayProblem(kind: Kind, source: SourceState): SpecProblem | undefined {
  const { meta } = source;
  const relayed =
    mirrorClaim(kind, meta.labels, meta.annotations) !== undefined ||
    targetOf(kind, meta.annotations).pull !== undefined;
  return relayed
    ? {
        field: 'spec.source',
        message:
          'the source is itself a mirror or a pull target: its data came from another source, whose consent a chain would bypass',
      }
    : undefined;
}

/** Problems that keep a converted resource from being served with this source. */
function servingProblems(
  kind: Kind,
  source: SourceState | undefined,
  entry: CachedMirror,
): readonly SpecProblem[] {
  if (!entry.conversion.ok) return entry.conversion.problems;
  if (source === undefined) return [];
  const relay = relayProblem(kind, source);
  return relay === undefined ? sourceProblems(entry.conversion.rule, source.content.type) : [relay];
}

/** The source with the push rules of the resources that name it (and may be served) added. */
export function withResourceRules(
  kind: Kind,
  source: SourceState,
  named: readonly CachedMirror[],
): SourceState {
  const rules = named.flatMap((entry) =>
    entry.conversion.ok && servingProblems(kind, source, entry).length === 0
      ? [{ ...entry.conversion.rule.push, origin: entry.conversion.rule.origin }]
      : [],
  );
  return rules.length === 0
    ? source
    : { ...source, spec: { ...source.spec, push: [...source.spec.push, ...rules] } };
}

/** What a push decision means for a resource's status; undefined: not a selected namespace. */
function outcomeOf(code: Decision['code']): Outcome | undefined {
  switch (code) {
    case 'in-sync':
      return 'in-sync';
    case 'create':
    case 'update':
    case 'waiting-for-role':
      return 'pending';
    case 'conflict-unowned':
    case 'conflict-other-source':
    case 'contested':
      return 'conflict';
    case 'opted-out':
    case 'refused':
    case 'reserved':
    case 'target-consent-missing':
      return 'refused';
    case 'excluded':
    case 'source-not-allowed':
      return 'excluded';
    case 'over-budget':
    case 'invalid-rule':
      return 'failed';
    case 'not-selected':
    case 'source-namespace':
    case 'terminating':
    case 'delete-orphan':
    case 'source-missing':
    case 'consent-missing':
    case 'dialect-disabled':
      return undefined;
  }
}

/** Decisions the planner makes before it asks whether the rule selects the namespace at all. */
const BEFORE_SELECTION: ReadonlySet<Decision['code']> = new Set([
  'excluded',
  'source-not-allowed',
  'opted-out',
]);

/** The selected namespaces of one resource and what became of each, writes included. */
function outcomesOf(
  entry: CachedMirror,
  snapshot: Snapshot,
  result: Plan,
  failed: ReadonlySet<string>,
): NamespaceOutcome[] {
  if (!entry.conversion.ok) return [];
  const { targets } = entry.conversion.rule.push;
  const namespaces = new Map(snapshot.namespaces.map((namespace) => [namespace.name, namespace]));
  const selects = (name: string): boolean => {
    const namespace = namespaces.get(name);
    return namespace !== undefined && filterMatches(targets, namespace);
  };
  const outcomes: NamespaceOutcome[] = [];
  for (const decision of result.decisions) {
    if (decision.mode !== 'push' || decision.origin !== entry.key) continue;
    const planned = outcomeOf(decision.code);
    if (planned === undefined) continue;
    // The operator's exclusions are told only for namespaces the resource selects.
    if (BEFORE_SELECTION.has(decision.code) && !selects(decision.namespace)) continue;
    // A write that went through is in sync now; one that failed is the resource's problem.
    const written = failed.has(objectKey(decision.namespace, decision.name)) ? 'failed' : 'in-sync';
    const wrote = decision.code === 'create' || decision.code === 'update';
    const outcome = wrote ? written : planned;
    outcomes.push({ namespace: decision.namespace, outcome, message: decision.message });
  }
  for (const claim of result.outranked) {
    if (claim.origin !== entry.key) continue;
    outcomes.push({
      namespace: claim.namespace,
      outcome: 'conflict',
      message: `${claim.by} also pushes ${claim.name} of this source here and ranks first; it keeps the mirror.`,
    });
  }
  return outcomes;
}

/**
 * How one resource stands in one remote cluster after that cluster's reconcile of its source
 * (status.clusters): the counts of its decisions there, writes included, and its first problem.
 */
export function remoteClusterStatus(
  cluster: string,
  entry: CachedMirror,
  snapshot: Snapshot,
  result: Plan,
  failures: readonly WriteFailure[],
): ClusterStatusV1 {
  const failed = new Set(
    failures.map((failure) => objectKey(failure.op.target.namespace, failure.op.target.name)),
  );
  const outcomes = outcomesOf(entry, snapshot, result, failed);
  const counts = countOutcomes(outcomes);
  const { problems, total } = problemList(outcomes);
  const first = problems[0];
  return {
    name: cluster,
    accepted: true,
    selected: counts.selected,
    inSync: counts.inSync,
    pending: counts.pending,
    failed: counts.failed,
    problemCount: total,
    ...(first === undefined ? {} : { message: `${first.namespace}: ${first.message}` }),
  };
}

/**
 * A resource naming clusters on an nsync without `--cluster-name` is not served (rules/clusters.ts
 * localPushRules; the source keeps its mirrors): its status says why, as for an invalid spec.
 */
export function unnamedClusterProblems(entry: CachedMirror, clusterName: string): readonly SpecProblem[] {
  if (clusterName !== '' || !entry.conversion.ok || entry.conversion.rule.push.clusters === undefined)
    return [];
  return [
    {
      field: 'spec.clusters',
      message:
        'names clusters, but nsync runs without --cluster-name, so it knows no cluster by name (and none remote); set --cluster-name (the chart: nsync.clusterName) or remove clusters',
    },
  ];
}

/** What writing statuses needs. */
export interface StatusDeps {
  readonly guardrails: Guardrails;
  readonly metrics: Metrics;
  readonly writer: Writer;
  readonly events: EventRecorder;
  readonly log: Logger;
  /** What the remote pipelines last found per resource and cluster (status.clusters). */
  readonly clusterStatuses?: ClusterStatuses;
}

/**
 * Computes and writes the status of every resource that names the source, and tells a resource
 * whose rule another rule of the same source outranks (on the resource and on the source).
 */
export async function writeResourceStatuses(
  deps: StatusDeps,
  snapshot: Snapshot,
  result: Plan,
  failures: readonly WriteFailure[],
  named: readonly CachedMirror[],
): Promise<void> {
  const failed = new Set(
    failures.map((failure) => objectKey(failure.op.target.namespace, failure.op.target.name)),
  );
  const { key, source } = snapshot;
  await Promise.all(
    named.map(async (entry) => {
      const { resource } = entry;
      const desired = computeStatus({
        generation: resource.metadata.generation ?? 0,
        specProblems: [
          ...servingProblems(key.kind, source, entry),
          ...unnamedClusterProblems(entry, deps.guardrails.clusterName),
        ],
        source:
          source === undefined
            ? { found: false }
            : { found: true, resourceVersion: source.meta.resourceVersion },
        outcomes: outcomesOf(entry, snapshot, result, failed),
        previous: resource.status,
        now: new Date(),
        clusters: deps.clusterStatuses?.of(entry.key) ?? [],
      });
      reportOutranked(deps, snapshot, result, entry);
      if (statusEquals(resource.status, desired)) return;
      const kind = resource.kind === 'ClusterMirror' ? CLUSTER_MIRRORS : MIRRORS;
      try {
        await deps.writer.patchStatus(
          kind,
          resource.metadata.namespace,
          resource.metadata.name,
          replacing(resource.status, desired),
        );
        deps.metrics.countWrite('status', 'success');
      } catch (error) {
        deps.metrics.countWrite('status', classify(error));
        // The next reconcile of the source (a change, or the periodic resync) writes it again.
        deps.log.warn({ resource: entry.key, err: describeError(error) }, 'could not write the status');
      }
    }),
  );
}

/** A `MirrorClaimedTwice` Warning on the outranked resource and on its source. */
function reportOutranked(deps: StatusDeps, snapshot: Snapshot, result: Plan, entry: CachedMirror): void {
  const claims = result.outranked.filter((claim) => claim.origin === entry.key);
  const first = claims[0];
  if (first === undefined || snapshot.source === undefined) return;
  const where = claims
    .slice(0, 10)
    .map((claim) => `${claim.namespace}/${claim.name}`)
    .join(', ');
  const note = `${entry.key} and ${first.by} both push ${snapshot.key.kind} ${snapshot.key.namespace}/${snapshot.key.name} under one name into ${String(claims.length)} namespace(s) (${where}${claims.length > 10 ? ', …' : ''}); the mirror is made once, by ${first.by}.`;
  const { resource } = entry;
  deps.events.emit(
    {
      kind: resource.kind,
      apiVersion: resource.apiVersion,
      // Events of a cluster-scoped object live in the default namespace.
      namespace: resource.metadata.namespace ?? 'default',
      name: resource.metadata.name,
      uid: resource.metadata.uid ?? '',
    },
    { type: 'Warning', reason: 'MirrorClaimedTwice', action: 'Mirror', note },
  );
  const { meta } = snapshot.source;
  deps.events.emit(
    { kind: snapshot.key.kind, namespace: meta.namespace, name: meta.name, uid: meta.uid },
    { type: 'Warning', reason: 'MirrorClaimedTwice', action: 'Mirror', note },
  );
}

/**
 * The merge patch that makes `current` equal `desired`: a JSON merge patch keeps every field it
 * does not name, so a field `desired` no longer has (`clusters` once no remote cluster is
 * selected, `sourceResourceVersion`, …) is sent as null, or it would stay in status for good.
 */
export function replacing(current: object | undefined, desired: object): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...desired };
  for (const key of Object.keys(current ?? {})) if (!Object.hasOwn(desired, key)) patch[key] = null;
  return patch;
}
