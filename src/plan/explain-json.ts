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
import { compareDecisions } from './explain.ts';
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
}

/**
 * The key a decision and its write share: both are of the source's kind, and a pull target (filled
 * by a patch) may sit at the very name a push mirror would take, with a decision of its own.
 */
function slot(mode: 'push' | 'pull', namespace: string, name: string): string {
  return `${mode} ${namespace}/${name}`;
}

/** Builds the document for one source: `exists` is false when the source is not there. */
export function explainDocument(source: ObjectKey, exists: boolean, plan: Plan): ExplainDocument {
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
    apiVersion: EXPLAIN_API_VERSION,
    kind: 'Explanation',
    source: { kind: source.kind, namespace: source.namespace, name: source.name, exists },
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
