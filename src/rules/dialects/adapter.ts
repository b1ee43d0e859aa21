/**
 * The contract every dialect module implements, and the small helpers they share. A dialect is an
 * adapter from one annotation vocabulary into the one rule model; parse.ts runs all of them, so a
 * new dialect is one module plus one line in its list.
 */
import { parseRef } from '../markers.ts';
import type {
  Dialect,
  Kind,
  NamespaceFilter,
  PullConsent,
  PullRequest,
  PushRule,
  RuleProblem,
  SourceSpec,
} from '../model.ts';
import { kindNameProblem, namespaceNameProblem } from '../names.ts';
import { fail, ok, quote, type Result } from '../result.ts';

/** What a dialect sees of a would-be source. */
export interface SourceContext {
  readonly kind: Kind;
  readonly namespace: string;
  readonly name: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** Secret type; undefined for ConfigMaps. */
  readonly secretType: string | undefined;
}

/** What a dialect sees of a would-be pull target. */
export interface TargetContext {
  readonly kind: Kind;
  readonly annotations: Readonly<Record<string, string>>;
  /** Secret type; undefined for ConfigMaps (and when the caller does not know it). */
  readonly secretType: string | undefined;
}

/**
 * One dialect's reading of a target. `claim` is set whenever the object asks this dialect to fill
 * it — even when the value is invalid and `pull` is therefore undefined — so that parse.ts can
 * apply the one-pull-per-object precedence on intent, not on validity: a typo in the preferred
 * dialect must not let a lower-ranked annotation fill the object from somewhere else.
 */
export interface DialectTargetResult {
  /** The annotation key through which the object asks to be filled by this dialect. */
  readonly claim: string | undefined;
  readonly pull: PullRequest | undefined;
  readonly problems: readonly RuleProblem[];
}

/** A dialect module: annotations in, rule model out. Pure; never throws. */
export interface DialectAdapter {
  readonly dialect: Dialect;
  parseSource(context: SourceContext): SourceSpec;
  parseTarget(context: TargetContext): DialectTargetResult;
}

/**
 * Reads one annotation; undefined when absent or blank. Blank counts as absent in every dialect
 * nsync reads, so an empty templated value never means "every namespace" by accident.
 */
export function readAnnotation(
  annotations: Readonly<Record<string, string>>,
  key: string,
): string | undefined {
  if (!Object.hasOwn(annotations, key)) return undefined;
  const value = annotations[key];
  return value === undefined || value.trim().length === 0 ? undefined : value;
}

/** Builds a RuleProblem; a helper so every module words problems the same way. */
export function problem(dialect: Dialect, annotation: string, message: string): RuleProblem {
  return { dialect, annotation, message };
}

/** AND of filters, without the noise of one-element or empty `and`s in `explain` output. */
export function allOf(filters: readonly NamespaceFilter[]): NamespaceFilter {
  const parts = filters.filter((filter) => filter.op !== 'all');
  if (parts.length === 0) return { op: 'all' };
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  return { op: 'and', of: parts };
}

/**
 * Reads `<namespace>/<name>` and checks both halves against Kubernetes naming, so a typo is
 * reported on the target at once rather than looking like a source that never appears.
 */
export function parseSourceRef(
  value: string,
  kind: Kind = 'Secret',
): Result<{ readonly namespace: string; readonly name: string }> {
  const ref = parseRef(value);
  if (ref === undefined) return fail(`${quote(value.trim())} is not of the form "<namespace>/<name>"`);
  const namespaceProblem = namespaceNameProblem(ref.namespace);
  if (namespaceProblem !== undefined) return fail(`namespace ${quote(ref.namespace)}: ${namespaceProblem}`);
  const nameProblem = kindNameProblem(kind, ref.name);
  if (nameProblem !== undefined) return fail(`name ${quote(ref.name)}: ${nameProblem}`);
  return ok(ref);
}

/** The empty SourceSpec, for dialects an object does not use and for never-mirrored Secrets. */
export const EMPTY_SOURCE_SPEC: SourceSpec = Object.freeze({
  push: [],
  consent: [],
  unsupported: [],
  problems: [],
});

/** A dialect's parsed push rule and pull consent, each with the problems that dropped it. */
export interface ParsedRules {
  readonly push: { readonly rule: PushRule | undefined; readonly problems: readonly RuleProblem[] };
  readonly consent: { readonly consent: PullConsent | undefined; readonly problems: readonly RuleProblem[] };
}

/** One SourceSpec from a dialect's push and consent parses: each rule stands alone. */
export function sourceSpecOf({ push, consent }: ParsedRules): SourceSpec {
  return {
    push: push.rule === undefined ? [] : [push.rule],
    consent: consent.consent === undefined ? [] : [consent.consent],
    unsupported: [],
    problems: [...push.problems, ...consent.problems],
  };
}
