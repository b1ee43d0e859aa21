/**
 * The kubernetes-reflector dialect (`reflector.v1.k8s.emberstack.com/…`), exactly as
 * docs/reference dialects.md §1 describes it, so that manifests written for reflector keep their
 * meaning. The only departures are the safety ones of §4 (whole-name regexes on a linear-time
 * engine, `*` accepted, invalid patterns reported), which live in patterns.ts and the planner.
 */
import { parseReflectorBool } from '../bool.ts';
import { reflector } from '../markers.ts';
import type { NamespaceFilter, PushRule, RuleProblem, SourceSpec } from '../model.ts';
import { compileRegexList } from '../patterns.ts';
import { parseSelector } from '../selectors.ts';
import {
  EMPTY_SOURCE_SPEC,
  allOf,
  parseSourceRef,
  problem,
  readAnnotation,
  type DialectAdapter,
  type DialectTargetResult,
  type SourceContext,
  type TargetContext,
} from './adapter.ts';

const DIALECT = 'reflector';

/**
 * Reflector's namespace rule: the name list OR the selector; neither given = every namespace.
 * Undefined (with problems) when either is invalid, because guessing would widen or narrow where
 * a Secret goes.
 */
function readNamespaceRule(
  annotations: Readonly<Record<string, string>>,
  namesKey: string,
  selectorKey: string,
  problems: RuleProblem[],
): NamespaceFilter | undefined {
  const parts: NamespaceFilter[] = [];
  let valid = true;
  const namesText = readAnnotation(annotations, namesKey);
  if (namesText !== undefined) {
    const patterns = compileRegexList(namesText);
    if (!patterns.ok) {
      problems.push(problem(DIALECT, namesKey, patterns.error));
      valid = false;
    } else if (patterns.value.length > 0) {
      parts.push({ op: 'names', patterns: patterns.value });
    }
  }
  const selectorText = readAnnotation(annotations, selectorKey);
  if (selectorText !== undefined) {
    const selector = parseSelector(selectorText);
    if (!selector.ok) {
      problems.push(problem(DIALECT, selectorKey, selector.error));
      valid = false;
    } else {
      parts.push({ op: 'selector', selector: selector.value });
    }
  }
  if (!valid) return undefined;
  const [only] = parts;
  if (only === undefined) return { op: 'all' };
  return parts.length === 1 ? only : { op: 'or', of: parts };
}

function parseReflectorSource(context: SourceContext): SourceSpec {
  const { annotations } = context;
  // Not allowed: reflector ignores every other key, and so do we (no problems for inert keys).
  if (!parseReflectorBool(annotations[reflector.allowed])) return EMPTY_SOURCE_SPEC;

  const problems: RuleProblem[] = [];
  const allowed = readNamespaceRule(
    annotations,
    reflector.allowedNamespaces,
    reflector.allowedNamespacesSelector,
    problems,
  );
  let push: PushRule | undefined;
  if (parseReflectorBool(annotations[reflector.autoEnabled])) {
    const auto = readNamespaceRule(
      annotations,
      reflector.autoNamespaces,
      reflector.autoNamespacesSelector,
      problems,
    );
    if (allowed !== undefined && auto !== undefined) {
      push = {
        dialect: DIALECT,
        targets: allOf([allowed, auto]),
        targetName: context.name,
        copy: { labels: false, annotations: false, ownerReferences: false, keys: undefined },
      };
    }
  }
  return {
    push: push === undefined ? [] : [push],
    consent: allowed === undefined ? [] : [{ dialect: DIALECT, namespaces: allowed }],
    unsupported: [],
    problems,
  };
}

function parseReflectorTarget(context: TargetContext): DialectTargetResult {
  const { annotations } = context;
  const text = readAnnotation(annotations, reflector.reflects);
  // auto-reflects=True marks a mirror reflector pushed itself (markers.ts mirrorClaim): it is
  // adopted as a push mirror, never treated as a request to be filled.
  const autoReflects = annotations[reflector.autoReflects];
  const isAutoMirror = autoReflects !== undefined && autoReflects.trim().toLowerCase() === 'true';
  if (text === undefined || isAutoMirror) return { claim: undefined, pull: undefined, problems: [] };
  const source = parseSourceRef(text, context.kind);
  if (!source.ok) {
    return {
      claim: reflector.reflects,
      pull: undefined,
      problems: [problem(DIALECT, reflector.reflects, source.error)],
    };
  }
  return {
    claim: reflector.reflects,
    pull: { dialect: DIALECT, source: source.value, keys: undefined },
    problems: [],
  };
}

/**
 * The reflector adapter. Push only when `reflection-allowed` and `reflection-auto-enabled` are
 * both true: targets = allowed rule AND auto rule, same name, content only. Consent for
 * `reflects` pulls whenever `reflection-allowed` is true, over the allowed rule.
 */
export const reflectorDialect: DialectAdapter = {
  dialect: DIALECT,
  parseSource: parseReflectorSource,
  parseTarget: parseReflectorTarget,
};
