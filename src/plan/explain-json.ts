/**
 * The document `nsync explain -o json` prints, for scripts: the source, and for every target the
 * planner's decision, its reason and the write it plans. A versioned shape (docs/operations.md,
 * "explain -o json"): within `nsync.dev/explain/v1` fields are only ever added, never renamed or
 * removed, and `decision` is the planner's reason code passed through as it is, so a code added to
 * the planner reaches scripts without a change here — scripts must accept decisions they do not
 * know. Never contains data values: decisions and problems are built without them.
 *
 * Pure: turns a Plan into plain data.
 */
import type { ObjectKey, RuleProblem } from '../rules/model.ts';
import { clusterNote, compareDecisions, type ClusterExplanation } from './explain.ts';
import type { Plan, WriteOp } from './model.ts';

/** The `apiVersion` of the document; bumped only by a change that is not an addition. */
export const EXPLAIN_API_VERSION = 'nsync.dev/explain/v1';

/** One target: what the planner decided there, why, and the write that makes it true. */
export interface ExplainedTarget {
  readonly namespace: string;
  readonly name: string;
  readonly mode: 'push' | 'pull';
  /** The planner's reason code (`create`, `in-sync`, `excluded`, `conflict-unowned`, …). */
  readonly decision: string;
  /** The planner's sentence for people. */
  readonly reason: string;
  /** The verb of the write planned for this target, or null when nothing is written. */
  readonly write: WriteOp['verb'] | null;
  /** Pull targets: source keys not written because the target holds them of its own. */
  readonly keptKeys: readonly string[];
}

/** One problem with an annotation, on the object that carries it. */
export interface ExplainedProblem {
  readonly object: ObjectKey;
  readonly dialect: string;
  readonly annotation: string;
  readonly message: string;
}

/**
 * One remote cluster (added within v1): what nsync does there for this source, in the same shape
 * as this cluster's part of the document, or why it could not be told.
 */
export interface ExplainedCluster {
  readonly name: string;
  /** `kubeconfig` (a context of --remote-kubeconfig) or `registered` (a registration Secret). */
  readonly origin: 'kubeconfig' | 'registered';
  /** The API server's URL. */
  readonly server: string;
  /** The namespace the cluster's copies are confined to; null = per rule. */
  readonly namespace: string | null;
  /**
   * `planned` (read completely and planned), `unreachable` (not read in time, or a network or
   * server error) or `forbidden` (its credentials may not read what nsync watches there). Scripts
   * must accept a status they do not know, as they accept new decision codes.
   */
  readonly status: string;
  /** Why the cluster has no targets or was not planned; null when `targets` says it all. */
  readonly reason: string | null;
  readonly targets: readonly ExplainedTarget[];
  readonly writes: Readonly<Record<WriteOp['verb'], number>>;
  readonly problems: readonly ExplainedProblem[];
}

/** The whole document. */
export interface ExplainDocument {
  readonly apiVersion: typeof EXPLAIN_API_VERSION;
  readonly kind: 'Explanation';
  readonly source: ObjectKey & { readonly exists: boolean };
  /** One entry per decision, sorted by namespace, name, then push before pull (as the table). */
  readonly targets: readonly ExplainedTarget[];
  /** How many writes of each verb the plan makes. */
  readonly writes: Readonly<Record<WriteOp['verb'], number>>;
  /** Problems of the source's annotations, then of pull targets' annotations. */
  readonly problems: readonly ExplainedProblem[];
  /** One entry per remote cluster explained, in the order given; empty without remote clusters. */
  readonly clusters: readonly ExplainedCluster[];
}

/**
 * The key a decision and its write share: both are of the source's kind, and a pull target (filled
 * by a patch) may sit at the very name a push mirror would take, with a decision of its own.
 */
function slot(mode: 'push' | 'pull', namespace: string, name: string): string {
  return `${mode} ${namespace}/${name}`;
}

/** The targets, write counts and problems of one plan: this cluster's, or a remote cluster's. */
function planPart(source: ObjectKey, plan: Plan): Pick<ExplainDocument, 'targets' | 'writes' | 'problems'> {
  const writes: Record<WriteOp['verb'], number> = { create: 0, replace: 0, patch: 0, delete: 0 };
  const verbs = new Map<string, WriteOp['verb']>();
  for (const op of plan.ops) {
    writes[op.verb] += 1;
    verbs.set(slot(op.verb === 'patch' ? 'pull' : 'push', op.target.namespace, op.target.name), op.verb);
  }
  const problem =
    (object: ObjectKey) =>
    ({ dialect, annotation, message }: RuleProblem): ExplainedProblem => ({
      object: { kind: object.kind, namespace: object.namespace, name: object.name },
      dialect,
      annotation,
      message,
    });
  return {
    targets: [...plan.decisions].sort(compareDecisions).map((decision) => ({
      namespace: decision.namespace,
      name: decision.name,
      mode: decision.mode,
      decision: decision.code,
      reason: decision.message,
      write: verbs.get(slot(decision.mode, decision.namespace, decision.name)) ?? null,
      keptKeys: decision.keptKeys ?? [],
    })),
    writes,
    problems: [
      ...plan.sourceProblems.map(problem(source)),
      ...plan.targetProblems.flatMap(({ target, problems }) => problems.map(problem(target))),
    ],
  };
}

/** One remote cluster's entry: every field present whatever the outcome, so jq paths never depend on it. */
function clusterPart(source: ObjectKey, cluster: ClusterExplanation): ExplainedCluster {
  const { outcome } = cluster;
  const planned =
    outcome.status === 'planned' && outcome.plan !== undefined
      ? planPart(source, outcome.plan)
      : { targets: [], writes: { create: 0, replace: 0, patch: 0, delete: 0 }, problems: [] };
  return {
    name: cluster.name,
    origin: cluster.origin,
    server: cluster.server,
    namespace: cluster.namespace ?? null,
    status: outcome.status,
    reason: clusterNote(outcome) ?? null,
    ...planned,
  };
}

/**
 * Builds the document for one source: `exists` is false when the source is not there; `clusters`
 * are the remote clusters explained (none without --remote-kubeconfig).
 */
export function explainDocument(
  source: ObjectKey,
  exists: boolean,
  plan: Plan,
  clusters: readonly ClusterExplanation[] = [],
): ExplainDocument {
  return {
    apiVersion: EXPLAIN_API_VERSION,
    kind: 'Explanation',
    source: { kind: source.kind, namespace: source.namespace, name: source.name, exists },
    ...planPart(source, plan),
    clusters: clusters.map((cluster) => clusterPart(source, cluster)),
  };
}
