/**
 * The kubernetes-replicator dialect (`replicator.v1.mittwald.de/…`), as docs/reference dialects.md
 * §2 describes it, so that manifests written for replicator keep their meaning. Departures are the
 * safety ones of §4: every regex is a whole-name match (replicator's `^…$` wrapping let `a|b`
 * match `axyz`, and its delete path matched unanchored), an invalid entry disables the rule with a
 * problem instead of being skipped, and consent is required for ConfigMaps as for Secrets.
 *
 * Each rule (push, consent, pull) is validated on its own: an invalid annotation drops only the
 * rule it belongs to.
 */
import { parseReplicatorBool } from '../bool.ts';
import { replicator } from '../markers.ts';
import type { NamespaceFilter, PullConsent, PushRule, RuleProblem, SourceSpec } from '../model.ts';
import { compileRegexList } from '../patterns.ts';
import { quote, type Result } from '../result.ts';
import { parseSelector } from '../selectors.ts';
import {
  parseSourceRef,
  problem,
  readAnnotation,
  sourceSpecOf,
  type DialectAdapter,
  type DialectTargetResult,
  type SourceContext,
  type TargetContext,
} from './adapter.ts';

const DIALECT = 'replicator';

/** Unwraps a Result, recording its error against `annotation`. */
function take<T>(problems: RuleProblem[], annotation: string, result: Result<T>): T | undefined {
  if (result.ok) return result.value;
  problems.push(problem(DIALECT, annotation, result.error));
  return undefined;
}

/**
 * Reads `replicate-to` (anchored regex list, `*` = every namespace) and `replicate-to-matching`
 * (label selector) into `names OR selector`. `requested` is false when neither says anything (a
 * list of only commas says nothing, like a blank one); `filter` is undefined when either is
 * invalid, because guessing would widen or narrow where a Secret goes.
 */
function readPushTargets(
  annotations: Readonly<Record<string, string>>,
  problems: RuleProblem[],
): { readonly requested: boolean; readonly filter: NamespaceFilter | undefined } {
  const listText = readAnnotation(annotations, replicator.replicateTo);
  const selectorText = readAnnotation(annotations, replicator.replicateToMatching);
  const before = problems.length;
  const parts: NamespaceFilter[] = [];
  if (listText !== undefined) {
    const patterns = take(problems, replicator.replicateTo, compileRegexList(listText));
    if (patterns !== undefined && patterns.length > 0) parts.push({ op: 'names', patterns });
  }
  if (selectorText !== undefined) {
    const selector = take(problems, replicator.replicateToMatching, parseSelector(selectorText));
    if (selector !== undefined) parts.push({ op: 'selector', selector });
  }
  if (problems.length > before) return { requested: true, filter: undefined };
  const [only] = parts;
  if (only === undefined) return { requested: false, filter: undefined };
  return { requested: true, filter: parts.length === 1 ? only : { op: 'or', of: parts } };
}

/** A replicator boolean that is false when absent (or blank); invalid values are problems. */
function readFlag(
  annotations: Readonly<Record<string, string>>,
  key: string,
  problems: RuleProblem[],
): boolean {
  const text = readAnnotation(annotations, key);
  return text === undefined ? false : (take(problems, key, parseReplicatorBool(text)) ?? false);
}

function parsePush(context: SourceContext): { rule: PushRule | undefined; problems: RuleProblem[] } {
  const { annotations } = context;
  const problems: RuleProblem[] = [];
  const targets = readPushTargets(annotations, problems);
  // strip-labels and keep-owner-references alone ask for nothing, so they are not read then.
  if (!targets.requested) return { rule: undefined, problems };
  const pullFrom = readAnnotation(annotations, replicator.replicateFrom);
  if (pullFrom !== undefined) {
    // replicator treats an object with replicate-from as a pull target only and never pushes it.
    const key =
      readAnnotation(annotations, replicator.replicateTo) === undefined
        ? replicator.replicateToMatching
        : replicator.replicateTo;
    problems.push(
      problem(
        DIALECT,
        key,
        `ignored: this object is filled from ${quote(pullFrom.trim())} by ${replicator.replicateFrom}, and replicator never pushes an object that is itself a replica`,
      ),
    );
    return { rule: undefined, problems };
  }
  const stripLabels = readFlag(annotations, replicator.stripLabels, problems);
  const keepOwnerReferences = readFlag(annotations, replicator.keepOwnerReferences, problems);
  if (targets.filter === undefined || problems.length > 0) return { rule: undefined, problems };
  return {
    rule: {
      dialect: DIALECT,
      targets: targets.filter,
      targetName: context.name,
      copy: {
        labels: !stripLabels,
        annotations: false,
        ownerReferences: keepOwnerReferences,
        keys: undefined,
      },
    },
    problems,
  };
}

/**
 * Consent: `replication-allowed` true AND the target namespace in `replication-allowed-namespaces`.
 * Either missing means no consent, as in replicator. Allowed but with no namespace listed is
 * reported, because it can only be a mistake: replicator denied every pull then, and so does nsync.
 */
function parseConsent(context: SourceContext): { consent: PullConsent | undefined; problems: RuleProblem[] } {
  const { annotations } = context;
  const problems: RuleProblem[] = [];
  const allowedText = readAnnotation(annotations, replicator.allowed);
  if (allowedText === undefined) return { consent: undefined, problems };
  const allowed = take(problems, replicator.allowed, parseReplicatorBool(allowedText));
  if (allowed !== true) return { consent: undefined, problems };
  const listText = readAnnotation(annotations, replicator.allowedNamespaces);
  if (listText === undefined) {
    problems.push(
      problem(
        DIALECT,
        replicator.allowedNamespaces,
        `missing: ${replicator.allowed} is true but no namespace may pull until this lists them (regular expressions, ".*" for every namespace)`,
      ),
    );
    return { consent: undefined, problems };
  }
  const patterns = take(problems, replicator.allowedNamespaces, compileRegexList(listText));
  if (patterns === undefined) return { consent: undefined, problems };
  if (patterns.length === 0) {
    problems.push(
      problem(
        DIALECT,
        replicator.allowedNamespaces,
        `${quote(listText)} lists no namespace, so no namespace may pull; list them (regular expressions, ".*" for every namespace)`,
      ),
    );
    return { consent: undefined, problems };
  }
  return { consent: { dialect: DIALECT, namespaces: { op: 'names', patterns } }, problems };
}

function parseReplicatorSource(context: SourceContext): SourceSpec {
  return sourceSpecOf({ push: parsePush(context), consent: parseConsent(context) });
}

function parseReplicatorTarget(context: TargetContext): DialectTargetResult {
  const text = readAnnotation(context.annotations, replicator.replicateFrom);
  if (text === undefined) return { claim: undefined, pull: undefined, problems: [] };
  const claimOnly = (message: string): DialectTargetResult => ({
    claim: replicator.replicateFrom,
    pull: undefined,
    problems: [problem(DIALECT, replicator.replicateFrom, message)],
  });
  // replicator rejects a bare name ("Invalid source location"); it never means "this namespace".
  if (!text.includes('/')) {
    return claimOnly(
      `${quote(text.trim())} names no namespace; replicator reads this annotation as "<namespace>/<name>", so write the namespace too, even when it is this object's own`,
    );
  }
  const source = parseSourceRef(text, context.kind);
  if (!source.ok) return claimOnly(source.error);
  return {
    claim: replicator.replicateFrom,
    pull: { dialect: DIALECT, source: source.value, keys: undefined },
    problems: [],
  };
}

/**
 * The replicator adapter. Push when `replicate-to` or `replicate-to-matching` is set: targets are
 * the names OR the selector, same name, labels copied unless `strip-labels`, ownerReferences when
 * `keep-owner-references`, all keys. Consent when `replication-allowed` is true, over
 * `replication-allowed-namespaces`. Targets pull with `replicate-from: <namespace>/<name>`.
 */
export const replicatorDialect: DialectAdapter = {
  dialect: DIALECT,
  parseSource: parseReplicatorSource,
  parseTarget: parseReplicatorTarget,
};
