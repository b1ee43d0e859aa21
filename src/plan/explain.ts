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
