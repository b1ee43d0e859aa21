/**
 * Turns a ClusterMirror or Mirror into the one rule model the annotations are parsed into
 * (src/rules/model.ts), so the planner needs to learn nothing new: a resource is one more native
 * push rule of its source.
 *
 * The API server's CEL rules reject almost every invalid spec at admission, but this module checks
 * everything again with the very compilers the annotations use. Objects stored before a stricter
 * CRD, or written with validation off, must still become a clear problem (a status condition)
 * rather than a rule that means something else. What CEL cannot know at all — the source's Secret
 * type — is checked by sourceProblems once the source is read.
 *
 * Pure: no I/O, no Kubernetes client imports.
 */
import {
  clusterFilterOf,
  compileClusterGlobList,
  compileGlob,
  compileNamespaceGlobList,
  dataKeyProblem,
  formatSelector,
  labelKeyProblem,
  labelValueProblem,
  namespaceNameProblem,
  objectNameProblem,
  parsePatternList,
  quote,
  REQUIRED_SECRET_KEYS,
  type ClusterFilter,
  type CopyOptions,
  type Kind,
  type LabelSelector,
  type NamePattern,
  type NamespaceFilter,
  type ObjectKey,
  type PushRule,
  type SelectorRequirement,
} from '../rules/index.ts';
import type { LabelSelectorV1, MirrorKind, MirrorResourceV1, TargetsV1 } from './types.ts';

/** A spec field nsync cannot serve, and why. Messages name fields and entries, never data. */
export interface SpecProblem {
  /** The field at fault, as a path: `spec.targets.namespaces[1]`. */
  readonly field: string;
  readonly message: string;
}

/** The resource a rule came from: what its status is written to and its mirrors belong to. */
export interface MirrorOrigin {
  readonly kind: MirrorKind;
  /** Undefined for a ClusterMirror. */
  readonly namespace: string | undefined;
  readonly name: string;
  readonly uid: string | undefined;
}

/**
 * What one resource asks for: a native push rule of one source. The rule carries
 * `dialect: 'native'` because its mirrors are marked exactly like those of `nsync.dev/push-to`
 * (docs/adr/0016): nsync's own markers, nobody else's.
 */
export interface MirrorRule {
  readonly origin: MirrorOrigin;
  readonly source: ObjectKey;
  readonly push: PushRule;
}

/** A rule, or every problem that stops the resource from being served (none is dropped silently). */
export type Conversion =
  | { readonly ok: true; readonly rule: MirrorRule }
  | { readonly ok: false; readonly origin: MirrorOrigin; readonly problems: readonly SpecProblem[] };

/** Collects problems with their field paths. */
class Problems {
  readonly list: SpecProblem[] = [];

  add(field: string, message: string): void {
    this.list.push({ field, message });
  }

  /** Records `reason` (when defined) against `field`; true when there was none. */
  check(field: string, reason: string | undefined): boolean {
    if (reason === undefined) return true;
    this.add(field, reason);
    return false;
  }
}

const KINDS: ReadonlySet<string> = new Set<Kind>(['Secret', 'ConfigMap']);

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

/** A list field that must hold strings; undefined when absent, with a problem when malformed. */
function stringList(value: unknown, field: string, problems: Problems): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every(isString)) {
    problems.add(field, 'must be a list of strings');
    return undefined;
  }
  return value;
}

function optionalBool(value: unknown, field: string, problems: Problems): boolean {
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  problems.add(field, 'must be true or false');
  return false;
}

/** A reason about a user's value, quoting the value first; undefined when there is no reason. */
function about(value: string, reason: string | undefined): string | undefined {
  return reason === undefined ? undefined : `${quote(value)}: ${reason}`;
}

function originOf(resource: MirrorResourceV1): MirrorOrigin {
  return {
    kind: resource.kind,
    namespace: resource.kind === 'Mirror' ? resource.metadata.namespace : undefined,
    name: resource.metadata.name,
    uid: resource.metadata.uid,
  };
}

/** The source's ObjectKey: a Mirror's is always in its own namespace. */
function readSource(resource: MirrorResourceV1, problems: Problems): ObjectKey | undefined {
  const source: unknown = resource.spec.source;
  if (typeof source !== 'object' || source === null) {
    problems.add('spec.source', 'is required: the Secret or ConfigMap to copy');
    return undefined;
  }
  const { kind, name, namespace } = source as Record<string, unknown>;
  const kindOk = isString(kind) && KINDS.has(kind);
  if (!kindOk) problems.add('spec.source.kind', `must be Secret or ConfigMap, not ${quote(String(kind))}`);
  const nameOk = problems.check(
    'spec.source.name',
    isString(name) ? about(name, objectNameProblem(name)) : 'is required',
  );
  let sourceNamespace: string | undefined;
  if (resource.kind === 'Mirror') {
    sourceNamespace = resource.metadata.namespace;
    // Refused even when it names the Mirror's own namespace, exactly as the CRD refuses it.
    if (namespace !== undefined) {
      problems.add(
        'spec.source.namespace',
        'a Mirror copies a source in its own namespace: remove source.namespace, or use a ClusterMirror for a source in another namespace',
      );
    }
    if (sourceNamespace === undefined) problems.add('metadata.namespace', 'a Mirror is namespaced');
  } else if (!isString(namespace)) {
    problems.add('spec.source.namespace', 'is required on a ClusterMirror');
  } else if (problems.check('spec.source.namespace', about(namespace, namespaceNameProblem(namespace)))) {
    sourceNamespace = namespace;
  }
  if (!kindOk || !nameOk || sourceNamespace === undefined) return undefined;
  return { kind: kind as Kind, namespace: sourceNamespace, name: name as string };
}

/** The compiled `targets.namespaces`: includes and `!` excludes. */
interface GlobParts {
  readonly includes: readonly NamePattern[];
  readonly excludes: readonly NamePattern[];
}

/**
 * Compiles each entry with the annotations' own glob compiler. An entry is one pattern: a comma or
 * a space (which the annotation list syntax would split or trim, also in "! team-a") is refused,
 * because in a list field it can only be a mistake — and the CRD's pattern refuses it too.
 */
function readNamespaces(entries: readonly string[], problems: Problems): GlobParts | undefined {
  const includes: NamePattern[] = [];
  const excludes: NamePattern[] = [];
  const before = problems.list.length;
  entries.forEach((entry, index) => {
    const field = `spec.targets.namespaces[${index}]`;
    const parts = parsePatternList(entry);
    if (parts.length !== 1 || parts[0] !== entry || /\s/u.test(entry)) {
      problems.add(field, `${quote(entry)} must be one pattern, without commas or spaces`);
      return;
    }
    const compiled = compileNamespaceGlobList(entry);
    if (!compiled.ok) {
      problems.add(field, compiled.error);
      return;
    }
    includes.push(...compiled.value.includes);
    excludes.push(...compiled.value.excludes);
  });
  if (problems.list.length > before) return undefined;
  if (excludes.some((pattern) => /^\*+$/u.test(pattern.text))) {
    problems.add(
      'spec.targets.namespaces',
      `an exclusion "!*" excludes every namespace, so nothing would get a mirror`,
    );
    return undefined;
  }
  return { includes, excludes };
}

function requirementOf(
  expression: unknown,
  field: string,
  problems: Problems,
): SelectorRequirement | undefined {
  if (typeof expression !== 'object' || expression === null) {
    problems.add(field, 'must be an object with key and operator');
    return undefined;
  }
  const { key, operator, values } = expression as Record<string, unknown>;
  if (!isString(key)) {
    problems.add(`${field}.key`, 'is required');
    return undefined;
  }
  const keyProblem = labelKeyProblem(key);
  if (keyProblem !== undefined) {
    problems.add(`${field}.key`, `${quote(key)}: ${keyProblem}`);
    return undefined;
  }
  const list = stringList(values, `${field}.values`, problems) ?? [];
  const badValue = list.find((value) => labelValueProblem(value) !== undefined);
  if (badValue !== undefined) {
    problems.add(`${field}.values`, `${quote(badValue)}: ${labelValueProblem(badValue) ?? ''}`);
    return undefined;
  }
  const canonical = [...new Set(list)].sort();
  switch (operator) {
    case 'In':
    case 'NotIn':
      if (canonical.length === 0) {
        problems.add(`${field}.values`, 'the operators In and NotIn need at least one entry in values');
        return undefined;
      }
      return { key, op: operator === 'In' ? 'in' : 'notin', values: canonical };
    case 'Exists':
    case 'DoesNotExist':
      if (canonical.length > 0) {
        problems.add(`${field}.values`, 'the operators Exists and DoesNotExist take no values');
        return undefined;
      }
      return { key, op: operator === 'Exists' ? 'exists' : 'doesnotexist' };
    default:
      problems.add(
        `${field}.operator`,
        `must be In, NotIn, Exists or DoesNotExist, not ${quote(String(operator))}`,
      );
      return undefined;
  }
}

/** metav1.LabelSelector → the rules' LabelSelector (its text is the canonical kubectl form). */
function readSelector(
  selector: LabelSelectorV1,
  problems: Problems,
  field = 'spec.targets.namespaceSelector',
): LabelSelector | undefined {
  const before = problems.list.length;
  const requirements: SelectorRequirement[] = [];
  const matchLabels: unknown = selector.matchLabels ?? {};
  if (typeof matchLabels !== 'object' || matchLabels === null || Array.isArray(matchLabels)) {
    problems.add(`${field}.matchLabels`, 'must be a map of label keys to values');
  } else {
    for (const [key, value] of Object.entries(matchLabels as Record<string, unknown>)) {
      const keyProblem = labelKeyProblem(key);
      const valueProblem = isString(value) ? labelValueProblem(value) : 'must be a string';
      if (keyProblem !== undefined) problems.add(`${field}.matchLabels`, `key ${quote(key)}: ${keyProblem}`);
      else if (valueProblem !== undefined) problems.add(`${field}.matchLabels[${key}]`, valueProblem);
      else requirements.push({ key, op: 'in', values: [value as string] });
    }
  }
  const expressions: unknown = selector.matchExpressions ?? [];
  if (!Array.isArray(expressions)) {
    problems.add(`${field}.matchExpressions`, 'must be a list');
  } else {
    expressions.forEach((expression: unknown, index) => {
      const requirement = requirementOf(expression, `${field}.matchExpressions[${index}]`, problems);
      if (requirement !== undefined) requirements.push(requirement);
    });
  }
  if (problems.list.length > before) return undefined;
  if (requirements.length === 0) {
    problems.add(
      field,
      field === CLUSTER_SELECTOR_FIELD
        ? 'an empty clusters.selector would select every cluster; give matchLabels or matchExpressions, or write names: ["*"]'
        : 'an empty namespaceSelector would select every namespace; give matchLabels or matchExpressions, or write namespaces: ["*"]',
    );
    return undefined;
  }
  return { text: formatSelector({ requirements }), requirements };
}

const CLUSTER_SELECTOR_FIELD = 'spec.clusters.selector';

/**
 * `spec.clusters` as a cluster filter (rules/clusters.ts), with the annotations' semantics:
 * `names AND selector AND NOT excluded names`. Undefined when absent (this cluster only).
 */
function readClusters(value: unknown, problems: Problems): ClusterFilter | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.add('spec.clusters', 'must be an object with names and/or selector');
    return undefined;
  }
  const { names, selector } = value as { names?: unknown; selector?: unknown };
  const before = problems.list.length;
  const entries = stringList(names, 'spec.clusters.names', problems) ?? [];
  const includes: NamePattern[] = [];
  const excludes: NamePattern[] = [];
  entries.forEach((entry, index) => {
    const field = `spec.clusters.names[${index}]`;
    if (/[,\s]/u.test(entry)) {
      problems.add(field, `${quote(entry)} must be one pattern, without commas or spaces`);
      return;
    }
    const compiled = compileClusterGlobList(entry);
    if (!compiled.ok) {
      problems.add(field, compiled.error);
      return;
    }
    includes.push(...compiled.value.includes);
    excludes.push(...compiled.value.excludes);
  });
  const labels =
    selector === undefined
      ? undefined
      : typeof selector === 'object' && selector !== null && !Array.isArray(selector)
        ? readSelector(selector, problems, CLUSTER_SELECTOR_FIELD)
        : (problems.add(CLUSTER_SELECTOR_FIELD, 'must be a label selector'), undefined);
  if (problems.list.length > before) return undefined;
  if (entries.length === 0 && labels === undefined) {
    problems.add(
      'spec.clusters',
      'clusters must give names (globs such as "prod-*") or a selector; leave clusters out to mirror in this cluster only',
    );
    return undefined;
  }
  return clusterFilterOf(
    { includes, excludes },
    labels === undefined ? undefined : { op: 'selector', selector: labels },
  );
}

/**
 * The namespaces a resource's mirrors go to, with the annotations' semantics:
 * `includes AND selector AND NOT excludes`, plus NOT the source's own namespace (which the planner
 * never writes to either; saying it in the filter keeps `explain` and the rule honest on their own).
 */
function readTargets(
  targets: TargetsV1 | undefined,
  source: ObjectKey | undefined,
  problems: Problems,
  remote: boolean,
): NamespaceFilter | undefined {
  if (typeof targets !== 'object' || (targets as unknown) === null) {
    problems.add('spec.targets', 'is required: which namespaces get a mirror');
    return undefined;
  }
  const before = problems.list.length;
  const entries = stringList(targets.namespaces, 'spec.targets.namespaces', problems) ?? [];
  const globs = readNamespaces(entries, problems);
  const selector =
    targets.namespaceSelector === undefined ? undefined : readSelector(targets.namespaceSelector, problems);
  if (problems.list.length > before || globs === undefined) return undefined;
  if (entries.length === 0 && selector === undefined) {
    problems.add(
      'spec.targets',
      'targets must give namespaces (patterns such as "team-*") or a namespaceSelector; to mirror into every namespace write namespaces: ["*"]',
    );
    return undefined;
  }
  const parts: NamespaceFilter[] = [];
  if (globs.includes.length > 0) parts.push({ op: 'names', patterns: globs.includes });
  if (selector !== undefined) parts.push({ op: 'selector', selector });
  if (globs.excludes.length > 0) parts.push({ op: 'not', of: { op: 'names', patterns: globs.excludes } });
  // With clusters, the source's namespace in another cluster is a fine target (as in kubed); in
  // this cluster the planner still never writes there.
  if (source !== undefined && !remote) {
    const own = compileGlob(source.namespace);
    if (own.ok) parts.push({ op: 'not', of: { op: 'names', patterns: [own.value] } });
    if (globs.includes.length > 0 && globs.includes.every((pattern) => pattern.text === source.namespace)) {
      problems.add(
        'spec.targets.namespaces',
        "selects only the source's own namespace, which never gets a mirror; name other namespaces",
      );
      return undefined;
    }
  }
  return parts.length === 1 && parts[0] !== undefined ? parts[0] : { op: 'and', of: parts };
}

function readTargetName(
  targets: TargetsV1 | undefined,
  source: ObjectKey | undefined,
  problems: Problems,
): string | undefined {
  const name: unknown = targets?.name;
  if (name === undefined) return source?.name;
  if (!isString(name)) {
    problems.add('spec.targets.name', 'must be a string');
    return undefined;
  }
  return problems.check('spec.targets.name', about(name, objectNameProblem(name))) ? name : undefined;
}

/**
 * Sorted, so equal subsets compare and hash equal; undefined = every key. A key listed twice is
 * refused, as the CRD's set semantics refuse it.
 */
function readKeys(value: unknown, problems: Problems): readonly string[] | undefined {
  const keys = stringList(value, 'spec.keys', problems);
  if (keys === undefined) return undefined;
  if (keys.length === 0) {
    problems.add('spec.keys', 'keys must list at least one key; leave keys out to copy every key');
    return undefined;
  }
  keys.forEach((key, index) => {
    const reason = dataKeyProblem(key);
    if (reason !== undefined) problems.add(`spec.keys[${index}]`, `${quote(key)}: ${reason}`);
    else if (keys.indexOf(key) !== index)
      problems.add(`spec.keys[${index}]`, `${quote(key)} is listed twice`);
  });
  return [...keys].sort();
}

/**
 * Converts one ClusterMirror or Mirror into a native push rule of its source, or into the full
 * list of problems that stop it from being served. Never throws, whatever the object holds.
 */
export function toMirrorRule(resource: MirrorResourceV1): Conversion {
  const origin = originOf(resource);
  const problems = new Problems();
  const spec: unknown = resource.spec;
  if (typeof spec !== 'object' || spec === null) {
    return { ok: false, origin, problems: [{ field: 'spec', message: 'is required' }] };
  }
  const source = readSource(resource, problems);
  const clusters = readClusters((spec as { clusters?: unknown }).clusters, problems);
  const targets = readTargets(resource.spec.targets, source, problems, clusters !== undefined);
  const targetName = readTargetName(resource.spec.targets, source, problems);
  const copy: CopyOptions = {
    labels: optionalBool(resource.spec.copyLabels, 'spec.copyLabels', problems),
    annotations: optionalBool(resource.spec.copyAnnotations, 'spec.copyAnnotations', problems),
    ownerReferences: false,
    keys: readKeys(resource.spec.keys, problems),
  };
  if (problems.list.length > 0 || source === undefined || targets === undefined || targetName === undefined) {
    return { ok: false, origin, problems: problems.list };
  }
  const push: PushRule = {
    dialect: 'native',
    targets,
    targetName,
    copy,
    ...(clusters === undefined ? {} : { clusters }),
  };
  return { ok: true, rule: { origin, source, push } };
}

/**
 * What only the source itself can tell: a key subset of a typed Secret must keep the keys its
 * type requires (as `nsync.dev/keys` must), or every mirror write would be refused. A problem
 * here disables the resource until the spec or the source changes (a Stalled condition).
 */
export function sourceProblems(rule: MirrorRule, secretType: string | undefined): readonly SpecProblem[] {
  const keys = rule.push.copy.keys;
  if (keys === undefined || rule.source.kind !== 'Secret' || secretType === undefined) return [];
  const missing = (REQUIRED_SECRET_KEYS.get(secretType) ?? []).filter((key) => !keys.includes(key));
  if (missing.length === 0) return [];
  return [
    {
      field: 'spec.keys',
      message: `the source is a ${secretType} Secret, which must keep ${missing.map((key) => quote(key)).join(' and ')}; list ${missing.length === 1 ? 'it' : 'them'} too`,
    },
  ];
}
