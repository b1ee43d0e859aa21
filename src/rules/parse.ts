/**
 * Turns an object's annotations into what it asks for, by running every dialect adapter and
 * merging their answers. The one place that knows the list of dialects: the rest of nsync sees
 * only SourceSpec and TargetSpec.
 */
import { dialectServesKind } from './kinds.ts';
import { NEVER_MIRRORED_SECRET_TYPES } from './markers.ts';
import type { Dialect, Kind, PullRequest, RuleProblem, SourceSpec, TargetSpec } from './model.ts';
import { quote } from './result.ts';
import {
  EMPTY_SOURCE_SPEC,
  problem,
  type DialectAdapter,
  type DialectTargetResult,
  type SourceContext,
  type TargetContext,
} from './dialects/adapter.ts';
import { nativeDialect } from './dialects/native.ts';
import { reflectorDialect } from './dialects/reflector.ts';
import { replicatorDialect } from './dialects/replicator.ts';
import { kubedDialect } from './dialects/kubed.ts';

/**
 * Which dialect wins when one object carries pull annotations of several: nsync's own first (the
 * user wrote it most recently, for nsync), then the old controllers by age of adoption.
 */
export const PULL_PRECEDENCE: readonly Dialect[] = ['native', 'reflector', 'replicator', 'kubed'];

/**
 * Every dialect nsync reads. Adding a dialect is one line here; the order does not matter, pull
 * precedence comes from PULL_PRECEDENCE.
 */
export const DIALECT_ADAPTERS: readonly DialectAdapter[] = [
  nativeDialect,
  reflectorDialect,
  replicatorDialect,
  kubedDialect,
];

function byPrecedence(adapters: readonly DialectAdapter[]): DialectAdapter[] {
  return [...adapters].sort(
    (left, right) => PULL_PRECEDENCE.indexOf(left.dialect) - PULL_PRECEDENCE.indexOf(right.dialect),
  );
}

/** Helm keeps release state in Secrets; copying or filling one would corrupt a release. */
function neverMirrored(kind: Kind, secretType: string | undefined): boolean {
  return kind === 'Secret' && secretType !== undefined && NEVER_MIRRORED_SECRET_TYPES.has(secretType);
}

/**
 * Like parseSource with an explicit adapter list, so tests (and a future feature flag that turns
 * a dialect off) can choose the dialects.
 */
export function parseSourceWith(adapters: readonly DialectAdapter[], context: SourceContext): SourceSpec {
  if (neverMirrored(context.kind, context.secretType)) return EMPTY_SOURCE_SPEC;
  const specs = byPrecedence(adapters).map((adapter) =>
    servedOnly(adapter.dialect, context.kind, adapter.parseSource(context)),
  );
  return {
    push: specs.flatMap((spec) => spec.push),
    consent: specs.flatMap((spec) => spec.consent),
    unsupported: specs.flatMap((spec) => spec.unsupported),
    problems: specs.flatMap((spec) => spec.problems),
  };
}

/**
 * What a would-be source asks for, across all dialects: push rules, pull consents, and problems.
 * Called for every Secret/ConfigMap carrying a dialect key; a source may push in several dialects
 * at once (each rule stands alone).
 */
export function parseSource(
  kind: Kind,
  namespace: string,
  name: string,
  annotations: Readonly<Record<string, string>>,
  secretType: string | undefined,
): SourceSpec {
  return parseSourceWith(DIALECT_ADAPTERS, { kind, namespace, name, annotations, secretType });
}

/**
 * A dialect's reading of a source of a kind it does not serve (reflector or kubed annotations on
 * a Role, RoleBinding or ServiceAccount): its rules are dropped and reported as unsupported, so
 * nothing acts on them (docs/adr/0017).
 */
function servedOnly(dialect: Dialect, kind: Kind, spec: SourceSpec): SourceSpec {
  if (dialectServesKind(dialect, kind)) return spec;
  const asked = [...spec.push, ...spec.consent].length > 0 || spec.problems.length > 0;
  if (!asked && spec.unsupported.length === 0) return spec;
  return {
    push: [],
    consent: [],
    problems: [],
    unsupported: [
      {
        dialect,
        annotation:
          spec.problems[0]?.annotation ?? spec.unsupported[0]?.annotation ?? `${dialect} annotations`,
        message: `the ${dialect} dialect does not serve ${kind}s (only native and replicator annotations do); ignored`,
      },
    ],
  };
}

function sameSource(left: PullRequest, right: PullRequest): boolean {
  return left.source.namespace === right.source.namespace && left.source.name === right.source.name;
}

function describePull(winner: DialectTargetResult & { readonly claim: string }): string {
  return winner.pull === undefined
    ? `${winner.claim} takes precedence`
    : `this object is filled from ${quote(`${winner.pull.source.namespace}/${winner.pull.source.name}`)} by ${winner.claim}`;
}

/**
 * Like parseTarget with an explicit adapter list. One object is filled from one source: the
 * first dialect (PULL_PRECEDENCE) that asks wins — even when its value is invalid, so a typo
 * never lets another annotation fill the object from elsewhere. Other dialects asking for a
 * different source are reported; ones naming the same source agree (typical mid-migration, when
 * both the old and the new annotation are present) and are not.
 */
export function parseTargetWith(adapters: readonly DialectAdapter[], context: TargetContext): TargetSpec {
  if (neverMirrored(context.kind, context.secretType)) return { pull: undefined, problems: [] };
  const results = byPrecedence(adapters).map((adapter) => ({
    dialect: adapter.dialect,
    result: servedTargetOnly(adapter.dialect, context.kind, adapter.parseTarget(context)),
  }));
  const problems: RuleProblem[] = results.flatMap(({ result }) => result.problems);
  let winner: (DialectTargetResult & { readonly claim: string }) | undefined;
  for (const { dialect, result } of results) {
    const { claim } = result;
    if (claim === undefined) continue;
    if (winner === undefined) {
      winner = { ...result, claim };
      continue;
    }
    const agrees =
      winner.pull !== undefined && result.pull !== undefined && sameSource(winner.pull, result.pull);
    if (!agrees) {
      problems.push(
        problem(
          dialect,
          claim,
          `ignored: ${describePull(winner)}; an object is filled by one pull annotation, chosen in the order ${PULL_PRECEDENCE.join(', ')}`,
        ),
      );
    }
  }
  return { pull: winner?.pull, problems };
}

/** A dialect's reading of a pull target of a kind it does not serve: no claim, one problem. */
function servedTargetOnly(dialect: Dialect, kind: Kind, result: DialectTargetResult): DialectTargetResult {
  if (dialectServesKind(dialect, kind) || result.claim === undefined) return result;
  return {
    claim: undefined,
    pull: undefined,
    problems: [
      problem(
        dialect,
        result.claim,
        `the ${dialect} dialect does not serve ${kind}s (only native and replicator annotations do); ignored`,
      ),
    ],
  };
}

/**
 * What a would-be pull target asks for: at most one PullRequest, plus problems. `secretType` lets
 * Helm release Secrets be ignored here as they are as sources.
 */
export function parseTarget(
  kind: Kind,
  annotations: Readonly<Record<string, string>>,
  secretType?: string,
): TargetSpec {
  return parseTargetWith(DIALECT_ADAPTERS, { kind, annotations, secretType });
}
