/**
 * The text `nsync explain` prints: why each namespace did or did not get a mirror, and what is
 * wrong with the source's annotations. A person reading it should never need the logs.
 *
 * Pure: turns a Plan into a string.
 */
import type { RuleProblem } from '../rules/model.ts';
import type { Decision, Plan, WriteOp } from './model.ts';
import { compareText } from './render.ts';

/** Column titles of the decision table, in order. */
export const EXPLAIN_COLUMNS = ['NAMESPACE', 'NAME', 'MODE', 'DECISION', 'REASON'] as const;

/** Gap between columns. */
const GAP = '  ';

/**
 * One cell on one line: user-written text (patterns, selectors) could hold line breaks or
 * control characters that would break the table or a terminal.
 */
function cell(text: string): string {
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
}

/** Namespace, then name, then push before pull: the order a person scans the table in. */
export function compareDecisions(a: Decision, b: Decision): number {
  return (
    compareText(a.namespace, b.namespace) ||
    compareText(a.name, b.name) ||
    (a.mode === b.mode ? 0 : a.mode === 'push' ? -1 : 1)
  );
}

/** Pads every column but the last to its widest cell. */
function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((value, index) => {
      widths[index] = Math.max(widths[index] ?? 0, value.length);
    });
  }
  return rows.map((row) =>
    row
      .map((value, index) => (index === row.length - 1 ? value : value.padEnd(widths[index] ?? 0)))
      .join(GAP)
      .trimEnd(),
  );
}

/** The decision table, header included. */
function decisionLines(decisions: readonly Decision[]): string[] {
  if (decisions.length === 0)
    return ['No targets: the source pushes nowhere and no object asks to be filled from it.'];
  const sorted = [...decisions].sort(compareDecisions);
  const rows = sorted.map((decision) =>
    [decision.namespace, decision.name, decision.mode, decision.code, decision.message].map(cell),
  );
  return formatTable([[...EXPLAIN_COLUMNS], ...rows]);
}

/** One summary line of the writes the plan would make. */
function writeSummary(ops: readonly WriteOp[]): string {
  const counts: Record<WriteOp['verb'], number> = { create: 0, replace: 0, patch: 0, delete: 0 };
  for (const op of ops) counts[op.verb] += 1;
  const parts = Object.entries(counts).map(([verb, count]) => `${verb} ${count}`);
  return `Writes planned: ${ops.length} (${parts.join(', ')}).`;
}

/** One problem as an indented line. */
function problemLine(problem: RuleProblem): string {
  return cell(`  ${problem.dialect} ${problem.annotation}: ${problem.message}`);
}

/** Problems of the source, then problems of pull targets, each under its heading. */
function problemLines(plan: Plan): string[] {
  const lines: string[] = [];
  if (plan.sourceProblems.length > 0) {
    lines.push('', 'Problems with the source annotations:', ...plan.sourceProblems.map(problemLine));
  }
  for (const { target, problems } of plan.targetProblems) {
    if (problems.length === 0) continue;
    lines.push(
      '',
      cell(`Problems with ${target.kind} ${target.namespace}/${target.name}:`),
      ...problems.map(problemLine),
    );
  }
  return lines;
}

/**
 * Renders a plan for `nsync explain`: a table with one line per decision (NAMESPACE, NAME, MODE,
 * DECISION, REASON), sorted by namespace and name, a count of the writes, then any problems.
 * Never contains data values: decisions and problems are built without them.
 */
export function formatExplain(plan: Plan): string {
  return (
    [...decisionLines(plan.decisions), '', writeSummary(plan.ops), ...problemLines(plan)].join('\n') + '\n'
  );
}

/**
 * What `nsync explain` learned about one remote cluster. Pure data, built by the remote explainer
 * (app/remote/explain.ts), so the table and the JSON document render the same facts.
 */
export interface ClusterExplanation {
  /** The context's or registered cluster's name. */
  readonly name: string;
  /** Where the operator declared it: a context of `--remote-kubeconfig`, or a registration Secret. */
  readonly origin: 'kubeconfig' | 'registered';
  /** The API server's URL (scheme, host, port): which server "unreachable" is about. */
  readonly server: string;
  /** The namespace the cluster's copies are confined to; undefined = per rule. */
  readonly namespace: string | undefined;
  readonly outcome: ClusterOutcome;
}

/**
 * `planned`: nsync's caches of the cluster listed completely and the planner ran; `plan` is
 * undefined when nothing concerns the cluster (the source does not name it and nsync has no copy
 * there), and `namespaces` counts the namespaces there the plan could consider.
 * `unreachable` / `forbidden`: it could not be read in time, or its credentials may not read what
 * nsync watches there; `reason` says what failed.
 */
export type ClusterOutcome =
  | {
      readonly status: 'planned';
      readonly plan: Plan | undefined;
      readonly namespaces: number;
      /** Why rules that name this cluster are not served there (the cluster's consent). */
      readonly refused?: readonly string[];
    }
  | { readonly status: 'unreachable' | 'forbidden'; readonly reason: string };

/**
 * Why a planned cluster has no target, or undefined when it has some: the table's and the JSON
 * document's one sentence for the cases the planner has no row for.
 */
export function clusterNote(outcome: ClusterOutcome): string | undefined {
  if (outcome.status !== 'planned') return outcome.reason;
  const refused = outcome.refused ?? [];
  if (refused.length > 0 && (outcome.plan === undefined || outcome.plan.decisions.length === 0))
    return `Not accepted here: ${refused.join('; ')}`;
  if (outcome.plan === undefined)
    return 'Nothing to do: the source does not name this cluster and nsync has no copy of it there.';
  if (outcome.plan.decisions.length > 0) return undefined;
  return outcome.namespaces === 0
    ? 'No target: the namespace it would be copied into does not exist there; nsync never creates one, and copies once it exists.'
    : 'No targets: no namespace there is selected.';
}

/** The heading of one cluster's section: its name, where it was declared, its confinement and server. */
function clusterHeading(cluster: ClusterExplanation): string {
  const parts = [
    cluster.origin === 'kubeconfig' ? 'kubeconfig context' : 'registered cluster',
    ...(cluster.namespace === undefined ? [] : [`namespace ${cluster.namespace}`]),
    cluster.server,
  ];
  return cell(`Cluster ${cluster.name} (${parts.join(', ')}):`);
}

/** The heading of the local section, printed when remote clusters follow it. */
export function localHeading(clusterName: string): string {
  return cell(`Cluster ${clusterName === '' ? '(this cluster)' : `${clusterName} (this cluster)`}:`);
}

/**
 * One remote cluster's section: its heading, then the same table, write count and problems as for
 * this cluster, or the one sentence that says why there is no table (unreachable, forbidden,
 * nothing to do, no target namespace there).
 */
export function formatCluster(cluster: ClusterExplanation): string {
  const heading = clusterHeading(cluster);
  const { outcome } = cluster;
  const note = clusterNote(outcome);
  if (outcome.status !== 'planned') return `${heading} ${outcome.status}: ${cell(outcome.reason)}\n`;
  if (outcome.plan === undefined) return `${heading}\n${cell(note ?? '')}\n`;
  if (note !== undefined) return `${[heading, cell(note), ...problemLines(outcome.plan)].join('\n')}\n`;
  return `${heading}\n${formatExplain(outcome.plan)}`;
}
