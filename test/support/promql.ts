/**
 * What a PromQL expression refers to, read from its syntax tree (Prometheus's own lezer grammar,
 * the one its web UI uses) rather than with regular expressions, so a selector without braces,
 * a nested aggregation or a threshold on the left are all seen.
 */
import { parser } from '@prometheus-io/lezer-promql';

/** A node of the syntax tree. */
type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

/** Names of the comparison operators in the grammar. */
const COMPARISONS = new Set(['Gtr', 'Lss', 'Gte', 'Lte', 'Eql', 'Neq']);

/** Everything a check needs from one expression. */
export interface PromqlReferences {
  /** The text of every vector selector (also those inside range selectors), e.g. `up{job="x"}`. */
  readonly selectors: readonly string[];
  /** Every label named in `by (…)`, `without (…)`, `on (…)`, `ignoring (…)` and `group_*(…)`. */
  readonly groupingLabels: readonly string[];
}

function parse(expr: string): SyntaxNode {
  const tree = parser.parse(expr);
  const errors: number[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
    },
  });
  if (errors.length > 0) {
    throw new Error(`not valid PromQL at offset ${errors.join(', ')}: ${expr}`);
  }
  return tree.topNode;
}

/** The selectors and grouping labels of an expression; throws on a syntax error. */
export function references(expr: string): PromqlReferences {
  const selectors: string[] = [];
  const groupingLabels: string[] = [];
  parse(expr)
    .toTree()
    .iterate({
      enter(node) {
        if (node.name === 'VectorSelector') selectors.push(expr.slice(node.from, node.to));
        if (node.name === 'LabelName' && node.node.parent?.name === 'GroupingLabels') {
          groupingLabels.push(expr.slice(node.from, node.to));
        }
      },
    });
  return { selectors, groupingLabels: [...new Set(groupingLabels)] };
}

/**
 * The quantity an alert watches: the expression without its threshold. An alert is meant to be
 * empty while all is well, so evaluating it proves nothing about the series it reads; this is
 * what has series whenever nsync is scraped.
 * - `Q > 0`, `Q == 0`, `900 < Q` (a comparison with a number on one side): Q.
 * - `absent(Q)`: Q.
 * Applied until neither matches, so `absent(up == 1)` becomes `up`. Anything else is returned as it is.
 */
export function watchedQuantity(expr: string): string {
  let node = parse(expr).firstChild;
  for (;;) {
    if (node === null) return expr;
    if (node.name === 'ParenExpr') {
      node = node.firstChild;
      continue;
    }
    if (node.name === 'BinaryExpr') {
      const [left, operator, right] = operands(node);
      if (left && operator && right && COMPARISONS.has(operator.name)) {
        if (isNumber(right)) {
          node = left;
          continue;
        }
        if (isNumber(left)) {
          node = right;
          continue;
        }
      }
    }
    if (node.name === 'FunctionCall' && node.getChild('FunctionIdentifier')?.firstChild?.name === 'Absent') {
      const argument = node.getChild('FunctionCallBody')?.firstChild;
      if (argument) {
        node = argument;
        continue;
      }
    }
    return expr.slice(node.from, node.to);
  }
}

/** The children of a binary expression that are not a bool modifier or matching clause. */
function operands(node: SyntaxNode): (SyntaxNode | undefined)[] {
  const children: SyntaxNode[] = [];
  for (let child = node.firstChild; child !== null; child = child.nextSibling) {
    if (child.name !== 'BoolModifier' && child.name !== 'MatchingModifierClause') children.push(child);
  }
  return children.length === 3 ? children : [];
}

function isNumber(node: SyntaxNode): boolean {
  return node.name === 'NumberDurationLiteral' || node.name === 'NumberLiteral';
}
