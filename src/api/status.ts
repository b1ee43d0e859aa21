/**
 * The status of a ClusterMirror or Mirror as a ledger, computed from what the planner decided for
 * each namespace. It follows the Kubernetes API conventions and kstatus, so that
 * `kubectl wait --for=condition=Ready`, Flux and Argo CD health checks read it right:
 *
 * - `Ready` is True only when every selected namespace that may have a mirror has an up-to-date
 *   one; False with a reason otherwise.
 * - `Stalled` is True where a retry cannot help (an invalid spec, an unowned object holding a
 *   mirror's name) and a person has to act: kstatus reads that as Failed, not InProgress.
 * - Both carry the generation they describe, and `lastTransitionTime` only moves when the
 *   condition's status does.
 *
 * The status is a pure function of its inputs and bounded in size (problem list, message lengths),
 * and statusEquals tells whether a write is needed at all: nsync writes status only on change.
 *
 * Pure: no I/O, no Kubernetes client imports.
 */
import type { SpecProblem } from './convert.ts';
import type {
  ClusterStatusV1,
  ConditionV1,
  MirrorStatusV1,
  NamespaceProblemV1,
  ProblemOutcome,
} from './types.ts';

/** How many problem namespaces status lists; problemCount has the total. */
export const MAX_LISTED_PROBLEMS = 20;
/** Longest message of one listed problem (the CRD's maxLength). */
export const MAX_PROBLEM_MESSAGE_LENGTH = 1024;
/** How many remote clusters status lists (the CRD's maxItems). */
export const MAX_LISTED_CLUSTERS = 64;
/** Longest condition message: far below the CRD's 32 KiB, so a status stays small. */
export const MAX_CONDITION_MESSAGE_LENGTH = 2048;

/** What became of one selected namespace in the last reconcile. */
export type Outcome = 'in-sync' | 'pending' | 'conflict' | 'refused' | 'excluded' | 'failed';

/** One selected namespace and its outcome; `message` says why (names only, never data). */
export interface NamespaceOutcome {
  readonly namespace: string;
  readonly outcome: Outcome;
  readonly message: string;
}

/** The source as last read: missing, or its resourceVersion. */
export type SourceObservation =
  { readonly found: false } | { readonly found: true; readonly resourceVersion: string };

/** Everything the status is computed from. */
export interface StatusInput {
  /** metadata.generation of the resource. */
  readonly generation: number;
  /** Problems that stop the resource from being served (convert.ts); outcomes are then ignored. */
  readonly specProblems: readonly SpecProblem[];
  readonly source: SourceObservation;
  /** One entry per selected namespace (the source's own namespace is never one). */
  readonly outcomes: readonly NamespaceOutcome[];
  /** The status now stored, so transition times and the last synced version carry over. */
  readonly previous: MirrorStatusV1 | undefined;
  /** The time a condition that changes status is stamped with. */
  readonly now: Date;
  /** How the resource stands in each remote cluster it selects (remote pipelines report them). */
  readonly clusters?: readonly ClusterStatusV1[];
}

/** Condition reasons, CamelCase as the API conventions ask. */
export const Reason = {
  InSync: 'InSync',
  NoTargets: 'NoTargets',
  Progressing: 'Progressing',
  WriteFailed: 'WriteFailed',
  Conflict: 'Conflict',
  SourceNotFound: 'SourceNotFound',
  InvalidSpec: 'InvalidSpec',
  NotStalled: 'NotStalled',
} as const;

const PROBLEM_OUTCOMES: ReadonlySet<Outcome> = new Set<ProblemOutcome>(['conflict', 'refused', 'failed']);

/** metav1.Time: RFC 3339 in UTC with seconds precision. */
function formatTime(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/u, 'Z');
}

/** Cuts a message to `limit` characters (code points), marking the cut. */
export function truncate(message: string, limit: number): string {
  const chars = Array.from(message);
  return chars.length <= limit ? message : `${chars.slice(0, limit - 1).join('')}…`;
}

/** One entry per namespace (the first given wins), sorted by name so status does not churn. */
function uniqueByNamespace(outcomes: readonly NamespaceOutcome[]): NamespaceOutcome[] {
  const seen = new Map<string, NamespaceOutcome>();
  for (const outcome of outcomes) if (!seen.has(outcome.namespace)) seen.set(outcome.namespace, outcome);
  return [...seen.values()].sort((a, b) =>
    a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0,
  );
}

/** Counts per outcome. */
export interface OutcomeCounts {
  readonly selected: number;
  readonly inSync: number;
  readonly pending: number;
  readonly conflicts: number;
  readonly refused: number;
  readonly excluded: number;
  readonly failed: number;
}

/** Counts the outcomes of distinct namespaces. */
export function countOutcomes(outcomes: readonly NamespaceOutcome[]): OutcomeCounts {
  const unique = uniqueByNamespace(outcomes);
  const count = (outcome: Outcome): number => unique.filter((entry) => entry.outcome === outcome).length;
  return {
    selected: unique.length,
    inSync: count('in-sync'),
    pending: count('pending'),
    conflicts: count('conflict'),
    refused: count('refused'),
    excluded: count('excluded'),
    failed: count('failed'),
  };
}

/**
 * The namespaces with a problem (conflict, refusal, failure), first MAX_LISTED_PROBLEMS by name,
 * messages bounded; and their total. Sorting by name keeps the list stable from one reconcile to
 * the next, so an unchanged cluster never causes a status write.
 */
export function problemList(outcomes: readonly NamespaceOutcome[]): {
  readonly problems: NamespaceProblemV1[];
  readonly total: number;
} {
  const withProblems = uniqueByNamespace(outcomes).filter((entry) => PROBLEM_OUTCOMES.has(entry.outcome));
  return {
    problems: withProblems.slice(0, MAX_LISTED_PROBLEMS).map((entry) => ({
      namespace: entry.namespace,
      outcome: entry.outcome as ProblemOutcome,
      message: truncate(entry.message, MAX_PROBLEM_MESSAGE_LENGTH),
    })),
    total: withProblems.length,
  };
}

interface Verdict {
  readonly ready: boolean;
  readonly reason: string;
  readonly message: string;
  /** Set when a retry cannot help: the Stalled reason. */
  readonly stalled: string | undefined;
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** "3 of 5 namespaces in sync; 1 pending, 1 conflict". */
function summary(counts: OutcomeCounts): string {
  const served = counts.selected - counts.excluded - counts.refused;
  const parts = [
    counts.pending > 0 ? `${counts.pending} pending` : '',
    counts.failed > 0 ? `${counts.failed} failed` : '',
    counts.conflicts > 0 ? plural(counts.conflicts, 'conflict', 'conflicts') : '',
    counts.refused > 0 ? `${counts.refused} refused` : '',
    counts.excluded > 0 ? `${counts.excluded} excluded by the operator` : '',
  ].filter((part) => part !== '');
  const head = `${counts.inSync} of ${plural(served, 'namespace', 'namespaces')} in sync`;
  return parts.length === 0 ? head : `${head}; ${parts.join(', ')}`;
}

/** "prod-eu: 2 of 2 in sync", "prod-us: 1 of 2 in sync, 1 failed", "edge: not accepted (…)". */
function clusterSummary(cluster: ClusterStatusV1): string {
  if (!cluster.accepted) return `${cluster.name}: not accepted (${cluster.message ?? 'no consent'})`;
  const parts = [
    cluster.pending > 0 ? `${cluster.pending} pending` : '',
    cluster.failed > 0 ? `${cluster.failed} failed` : '',
    cluster.problemCount > 0 ? plural(cluster.problemCount, 'problem', 'problems') : '',
  ].filter((part) => part !== '');
  const head = `${cluster.name}: ${cluster.inSync} of ${cluster.selected} in sync`;
  return parts.length === 0 ? head : `${head}, ${parts.join(', ')}`;
}

/**
 * The local verdict with the remote clusters folded in: Ready only when no cluster has a pending
 * or failed mirror either; the message names every cluster. A cluster that does not accept the
 * source is told, like a refusing namespace, without making the resource unready.
 */
function withClusters(verdict: Verdict, clusters: readonly ClusterStatusV1[]): Verdict {
  if (clusters.length === 0) return verdict;
  const local =
    verdict.reason === Reason.NoTargets ? 'No namespace is selected in this cluster.' : verdict.message;
  const message = `${local} Clusters: ${clusters.map(clusterSummary).join('; ')}.`;
  if (!verdict.ready) return { ...verdict, message };
  if (clusters.some((cluster) => cluster.failed > 0))
    return { ready: false, reason: Reason.WriteFailed, message, stalled: undefined };
  if (clusters.some((cluster) => cluster.pending > 0))
    return { ready: false, reason: Reason.Progressing, message, stalled: undefined };
  const reason = verdict.reason === Reason.NoTargets ? Reason.InSync : verdict.reason;
  return { ...verdict, reason, message };
}

function verdictOf(input: StatusInput, counts: OutcomeCounts): Verdict {
  if (input.specProblems.length > 0) {
    const message = input.specProblems.map((problem) => `${problem.field}: ${problem.message}`).join('; ');
    return { ready: false, reason: Reason.InvalidSpec, message, stalled: Reason.InvalidSpec };
  }
  if (!input.source.found) {
    return {
      ready: false,
      reason: Reason.SourceNotFound,
      message: 'The source does not exist (yet); mirrors are written once it does.',
      stalled: undefined,
    };
  }
  const text = summary(counts);
  if (counts.failed > 0) {
    return {
      ready: false,
      reason: Reason.WriteFailed,
      message: `${text}; nsync retries`,
      stalled: undefined,
    };
  }
  if (counts.pending > 0)
    return { ready: false, reason: Reason.Progressing, message: text, stalled: undefined };
  if (counts.conflicts > 0) {
    return {
      ready: false,
      reason: Reason.Conflict,
      message: `${text}; an object nsync does not own holds the mirror's name (see problems)`,
      stalled: Reason.Conflict,
    };
  }
  if (counts.selected === 0) {
    return {
      ready: true,
      reason: Reason.NoTargets,
      message: 'No namespace is selected.',
      stalled: undefined,
    };
  }
  return { ready: true, reason: Reason.InSync, message: text, stalled: undefined };
}

/** A condition that keeps its previous lastTransitionTime while its status stays the same. */
function condition(
  type: string,
  status: ConditionV1['status'],
  reason: string,
  message: string,
  input: StatusInput,
): ConditionV1 {
  const before = input.previous?.conditions?.find((existing) => existing.type === type);
  return {
    type,
    status,
    reason,
    message: truncate(message, MAX_CONDITION_MESSAGE_LENGTH),
    lastTransitionTime:
      before !== undefined && before.status === status ? before.lastTransitionTime : formatTime(input.now),
    observedGeneration: input.generation,
  };
}

/**
 * The status for a resource: conditions, counts, the bounded problem list and the source version
 * last synced (the previous one is kept until every served namespace is in sync again).
 */
export function computeStatus(input: StatusInput): MirrorStatusV1 {
  const outcomes = input.specProblems.length > 0 || !input.source.found ? [] : input.outcomes;
  const counts = countOutcomes(outcomes);
  const { problems, total } = problemList(outcomes);
  const clusters = [...(input.clusters ?? [])]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .slice(0, MAX_LISTED_CLUSTERS)
    .map((cluster) =>
      cluster.message === undefined
        ? cluster
        : { ...cluster, message: truncate(cluster.message, MAX_PROBLEM_MESSAGE_LENGTH) },
    );
  const local = verdictOf(input, counts);
  const verdict =
    input.specProblems.length > 0 || !input.source.found ? local : withClusters(local, clusters);
  const conditions = [
    condition('Ready', verdict.ready ? 'True' : 'False', verdict.reason, verdict.message, input),
    verdict.stalled === undefined
      ? condition('Stalled', 'False', Reason.NotStalled, '', input)
      : condition('Stalled', 'True', verdict.stalled, verdict.message, input),
  ];
  const synced = input.source.found && verdict.ready ? input.source.resourceVersion : undefined;
  const sourceResourceVersion = synced ?? input.previous?.sourceResourceVersion;
  return {
    observedGeneration: input.generation,
    conditions,
    ...counts,
    problems,
    problemCount: total,
    ...(sourceResourceVersion === undefined ? {} : { sourceResourceVersion }),
    ...(clusters.length === 0 ? {} : { clusters }),
  };
}

/** A condition without its transition time, for comparisons. */
function conditionKey(condition: ConditionV1): string {
  return JSON.stringify([
    condition.type,
    condition.status,
    condition.reason,
    condition.message,
    condition.observedGeneration ?? null,
  ]);
}

/** Every field but conditions, in a fixed order; absent and undefined are the same. */
function fieldsKey(status: MirrorStatusV1): string {
  return JSON.stringify([
    status.observedGeneration ?? null,
    status.selected ?? null,
    status.inSync ?? null,
    status.pending ?? null,
    status.conflicts ?? null,
    status.refused ?? null,
    status.excluded ?? null,
    status.failed ?? null,
    (status.problems ?? []).map((problem) => [problem.namespace, problem.outcome, problem.message]),
    status.problemCount ?? null,
    status.sourceResourceVersion ?? null,
    (status.clusters ?? []).map((cluster) => [
      cluster.name,
      cluster.accepted,
      cluster.selected,
      cluster.inSync,
      cluster.pending,
      cluster.failed,
      cluster.problemCount,
      cluster.message ?? null,
    ]),
  ]);
}

/**
 * Whether writing `desired` over `stored` would change anything a reader cares about. A
 * condition's lastTransitionTime is ignored while its status is unchanged (computeStatus keeps the
 * old one anyway; a status written by an older nsync may differ only there), and conditions
 * compare by type, whatever their order.
 */
export function statusEquals(
  stored: MirrorStatusV1 | undefined,
  desired: MirrorStatusV1 | undefined,
): boolean {
  if (stored === undefined || desired === undefined) return stored === desired;
  if (fieldsKey(stored) !== fieldsKey(desired)) return false;
  const byType = (status: MirrorStatusV1): Map<string, ConditionV1> =>
    new Map((status.conditions ?? []).map((entry) => [entry.type, entry]));
  const left = byType(stored);
  const right = byType(desired);
  if (left.size !== right.size) return false;
  for (const [type, entry] of left) {
    const other = right.get(type);
    if (other === undefined || conditionKey(entry) !== conditionKey(other)) return false;
  }
  return true;
}
