/**
 * The native dialect (`nsync.dev/…`, docs/annotations.md). Designed after the three old ones with
 * their traps removed: globs instead of regexes, explicit `!` exclusions, a separate consent list
 * for pulls, and every bad value reported rather than read as "off" or "everywhere".
 *
 * Each rule (push, consent, pull) is validated on its own: an invalid annotation drops only the
 * rule it belongs to, so a typo in the pull consent does not stop an otherwise valid push.
 */
import { parseNativeBool } from '../bool.ts';
import { native } from '../markers.ts';
import type {
  NamespaceFilter,
  PullConsent,
  PullRequest,
  PushRule,
  RuleProblem,
  SourceSpec,
} from '../model.ts';
import { dataKeyProblem, kindNameProblem } from '../names.ts';
import { parseClusterAnnotations } from '../clusters.ts';
import { compileGlob, compileNamespaceGlobList, parsePatternList } from '../patterns.ts';
import { fail, ok, quote, type Result } from '../result.ts';
import { parseSelector } from '../selectors.ts';
import {
  allOf,
  parseSourceRef,
  problem,
  readAnnotation,
  sourceSpecOf,
  type DialectAdapter,
  type DialectTargetResult,
  type SourceContext,
  type TargetContext,
} from './adapter.ts';

const DIALECT = 'native';

/** Collects problems while a rule is read, so every bad annotation is reported, not only the first. */
class Problems {
  readonly list: RuleProblem[] = [];

  /** Unwraps a Result, recording its error against `annotation`. */
  take<T>(annotation: string, result: Result<T>): T | undefined {
    if (result.ok) return result.value;
    this.list.push(problem(DIALECT, annotation, result.error));
    return undefined;
  }
}

/**
 * Reads a namespace list plus selector pair (push-to/push-to-selector, pull-allowed/…-selector)
 * into `includes AND selector AND NOT excludes`. Undefined when neither annotation says anything;
 * an include list of only exclusions means "all but these".
 */
function readNamespaceFilter(
  annotations: Readonly<Record<string, string>>,
  listKey: string,
  selectorKey: string,
  problems: Problems,
): { readonly requested: boolean; readonly filter: NamespaceFilter | undefined } {
  const listText = readAnnotation(annotations, listKey);
  const selectorText = readAnnotation(annotations, selectorKey);
  // A list of only commas says nothing, like a blank one: it must not turn into "everywhere".
  const listGiven = listText !== undefined && parsePatternList(listText).length > 0;
  if (!listGiven && selectorText === undefined) return { requested: false, filter: undefined };

  const before = problems.list.length;
  const parts: NamespaceFilter[] = [];
  if (listGiven) {
    const list = problems.take(listKey, compileNamespaceGlobList(listText));
    if (list !== undefined) {
      if (list.includes.length > 0) parts.push({ op: 'names', patterns: list.includes });
      if (list.excludes.length > 0) parts.push({ op: 'not', of: { op: 'names', patterns: list.excludes } });
    }
  }
  if (selectorText !== undefined) {
    const selector = problems.take(selectorKey, parseSelector(selectorText));
    if (selector !== undefined) parts.push({ op: 'selector', selector });
  }
  if (problems.list.length > before) return { requested: true, filter: undefined };
  return { requested: true, filter: allOf(parts) };
}

/**
 * Reads `nsync.dev/keys`: which data keys to copy. Undefined = all keys. Duplicates are dropped
 * and the list sorted, so equal lists compare (and hash) equal.
 */
export function parseKeyList(text: string): Result<readonly string[] | undefined> {
  const entries = parsePatternList(text);
  if (entries.length === 0) return ok(undefined);
  const errors = entries.flatMap((key) => {
    const reason = dataKeyProblem(key);
    return reason === undefined ? [] : [`key ${quote(key)}: ${reason}`];
  });
  if (errors.length > 0) return fail(errors.slice(0, 3).join('; '));
  return ok([...new Set(entries)].sort());
}

function readKeys(
  annotations: Readonly<Record<string, string>>,
  problems: Problems,
): readonly string[] | undefined {
  const text = readAnnotation(annotations, native.keys);
  return text === undefined ? undefined : problems.take(native.keys, parseKeyList(text));
}

/**
 * Keys the API server requires in a Secret of each built-in type. A mirror keeps the source's
 * type, so a key subset without these could never be written: better said once on the source
 * than as a failed write in every namespace. Shared with the nsync.dev API (src/api), whose key
 * subsets follow the same rule.
 */
export const REQUIRED_SECRET_KEYS: ReadonlyMap<string, readonly string[]> = new Map([
  ['kubernetes.io/tls', ['tls.crt', 'tls.key']],
  ['kubernetes.io/dockerconfigjson', ['.dockerconfigjson']],
  ['kubernetes.io/dockercfg', ['.dockercfg']],
  ['kubernetes.io/ssh-auth', ['ssh-privatekey']],
]);

function checkRequiredKeys(
  context: SourceContext,
  keys: readonly string[] | undefined,
  problems: Problems,
): void {
  if (keys === undefined || context.kind !== 'Secret' || context.secretType === undefined) return;
  const missing = (REQUIRED_SECRET_KEYS.get(context.secretType) ?? []).filter((key) => !keys.includes(key));
  if (missing.length > 0) {
    problems.list.push(
      problem(
        DIALECT,
        native.keys,
        `a ${context.secretType} Secret must keep ${missing.map((key) => quote(key)).join(' and ')}; list ${missing.length === 1 ? 'it' : 'them'} too`,
      ),
    );
  }
}

function readBool(annotations: Readonly<Record<string, string>>, key: string, problems: Problems): boolean {
  const text = readAnnotation(annotations, key);
  return text === undefined ? false : (problems.take(key, parseNativeBool(text)) ?? false);
}

function readTargetName(context: SourceContext, problems: Problems): string {
  const text = readAnnotation(context.annotations, native.targetName);
  if (text === undefined) return context.name;
  const name = text.trim();
  const reason = kindNameProblem(context.kind, name);
  if (reason !== undefined) {
    problems.list.push(problem(DIALECT, native.targetName, `${quote(name)}: ${reason}`));
  }
  return name;
}

/**
 * The push's namespace targets. Naming clusters without naming namespaces means the source's own
 * namespace in each selected cluster, as kubed's `sync-contexts` does (docs/adr/0022).
 */
function readPushTargets(
  context: SourceContext,
  clustersRequested: boolean,
  problems: Problems,
): { readonly requested: boolean; readonly filter: NamespaceFilter | undefined } {
  const targets = readNamespaceFilter(context.annotations, native.pushTo, native.pushToSelector, problems);
  if (targets.requested || !clustersRequested) return targets;
  const own = compileGlob(context.namespace);
  return { requested: true, filter: own.ok ? { op: 'names', patterns: [own.value] } : { op: 'none' } };
}

function parsePush(context: SourceContext): { rule: PushRule | undefined; problems: RuleProblem[] } {
  const problems = new Problems();
  const clusters = parseClusterAnnotations(
    readAnnotation(context.annotations, native.pushToClusters),
    readAnnotation(context.annotations, native.pushToClustersSelector),
  );
  problems.list.push(...clusters.problems);
  const clustersRequested = clusters.clusters !== undefined || clusters.problems.length > 0;
  const targets = readPushTargets(context, clustersRequested, problems);
  // target-name, keys and copy-* alone ask for nothing; they are not problems either, because a
  // RuleProblem means "a rule was dropped" and the planner may act on that.
  if (!targets.requested) return { rule: undefined, problems: [] };
  const targetName = readTargetName(context, problems);
  const keys = readKeys(context.annotations, problems);
  checkRequiredKeys(context, keys, problems);
  const labels = readBool(context.annotations, native.copyLabels, problems);
  const annotations = readBool(context.annotations, native.copyAnnotations, problems);
  if (targets.filter === undefined || problems.list.length > 0) {
    return { rule: undefined, problems: problems.list };
  }
  return {
    rule: {
      dialect: DIALECT,
      targets: targets.filter,
      targetName,
      copy: { labels, annotations, ownerReferences: false, keys },
      ...(clusters.clusters === undefined ? {} : { clusters: clusters.clusters }),
    },
    problems: [],
  };
}

function parseConsent(context: SourceContext): { consent: PullConsent | undefined; problems: RuleProblem[] } {
  const problems = new Problems();
  const allowed = readNamespaceFilter(
    context.annotations,
    native.pullAllowed,
    native.pullAllowedSelector,
    problems,
  );
  if (allowed.filter === undefined) return { consent: undefined, problems: problems.list };
  return { consent: { dialect: DIALECT, namespaces: allowed.filter }, problems: [] };
}

function parseNativeSource(context: SourceContext): SourceSpec {
  return sourceSpecOf({ push: parsePush(context), consent: parseConsent(context) });
}

function parseNativeTarget(context: TargetContext): DialectTargetResult {
  const text = readAnnotation(context.annotations, native.pullFrom);
  if (text === undefined) return { claim: undefined, pull: undefined, problems: [] };
  const problems = new Problems();
  const source = problems.take(native.pullFrom, parseSourceRef(text, context.kind));
  const keys = readKeys(context.annotations, problems);
  const pull: PullRequest | undefined =
    source === undefined || problems.list.length > 0 ? undefined : { dialect: DIALECT, source, keys };
  return { claim: native.pullFrom, pull, problems: problems.list };
}

/**
 * The native dialect adapter. Push targets are `push-to includes AND push-to-selector AND NOT
 * push-to exclusions`; consent is the same shape over `pull-allowed*`; targets pull with
 * `pull-from`. See docs/annotations.md for the user-facing contract.
 */
export const nativeDialect: DialectAdapter = {
  dialect: DIALECT,
  parseSource: parseNativeSource,
  parseTarget: parseNativeTarget,
};
