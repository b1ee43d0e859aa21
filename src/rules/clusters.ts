/**
 * Native cluster selection (docs/adr/0022): which clusters a push rule reaches, who consents to a
 * push into a remote cluster, and what a rule means for the local pipeline.
 *
 * One rule, read the same everywhere: a rule without a cluster selection is for this cluster
 * only (every rule nsync had before, unchanged); a rule with one reaches exactly the selected
 * clusters, where this cluster is named by `--cluster-name` and has no labels. So `*` is this
 * cluster and every remote one, `prod-*` only the remote prod clusters.
 *
 * Pure: no I/O.
 */
import { evaluateFilter, type FilterVerdict } from './filter.ts';
import type { ClusterFilter, NamespaceFilter, PushRule, RuleProblem } from './model.ts';
import { formatOrigin } from './model.ts';
import {
  compileNamespaceGlobList,
  compileSplitGlobList,
  parsePatternList,
  type GlobAlphabet,
  type NamespaceGlobList,
} from './patterns.ts';
import { fail, quote, type Result } from './result.ts';
import { parseSelector } from './selectors.ts';
import { readAnnotation } from './dialects/adapter.ts';
import { native } from './markers.ts';

/** A cluster as cluster selections see it. */
export interface ClusterInfo {
  readonly name: string;
  /** A registered cluster's labels; none for a kubeconfig context or this cluster. */
  readonly labels: Readonly<Record<string, string>>;
}

/** A cluster name glob list split into includes and `!` excludes. */
export type ClusterGlobList = NamespaceGlobList;

/**
 * Characters a cluster glob may hold: wider than the namespace alphabet, because a kubeconfig
 * context may be named `arn:aws:eks:eu-west-1:1:cluster/prod`, `gke_project_zone_prod` or
 * `admin@prod`; narrow enough that quotes, spaces and invisible characters (copy-paste accidents
 * that would match nothing) are refused. The CRDs' `spec.clusters.names` pattern is the same.
 */
const CLUSTER_ALPHABET: GlobAlphabet = {
  noun: 'cluster name',
  valid: /^[-a-zA-Z0-9_.:/@*?]+$/u,
  outside: (glob) =>
    `pattern ${quote(glob)} can never match a cluster name nsync can be told: letters, digits, "-", "_", ".", ":", "/" and "@" (globs add "*" and "?")`,
};

/**
 * Compiles a cluster list such as `prod-*, !prod-legacy` with the native glob compiler (whole
 * name, linear time); `!` entries exclude.
 */
export function compileClusterGlobList(text: string): Result<ClusterGlobList> {
  const compiled = compileSplitGlobList(text, CLUSTER_ALPHABET);
  if (compiled.ok && compiled.value.excludes.some((pattern) => /^\*+$/u.test(pattern.text))) {
    return fail('the exclusion "!*" excludes every cluster, so the rule would reach none');
  }
  return compiled;
}

/**
 * `includes AND selector AND NOT excludes`, as native namespace lists combine; a list of only
 * exclusions means "every cluster but these".
 */
export function clusterFilterOf(
  list: ClusterGlobList | undefined,
  selector: NamespaceFilter | undefined,
): ClusterFilter {
  const parts: NamespaceFilter[] = [];
  if (list !== undefined && list.includes.length > 0) parts.push({ op: 'names', patterns: list.includes });
  if (selector !== undefined) parts.push(selector);
  if (list !== undefined && list.excludes.length > 0)
    parts.push({ op: 'not', of: { op: 'names', patterns: list.excludes } });
  if (parts.length === 0) return { op: 'all' };
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  return { op: 'and', of: parts };
}

/**
 * Reads `nsync.dev/push-to-clusters` and `nsync.dev/push-to-clusters-selector`. Undefined when
 * neither is given (the rule is for this cluster only); a problem per bad annotation.
 */
export function parseClusterAnnotations(
  listText: string | undefined,
  selectorText: string | undefined,
): { readonly clusters: ClusterFilter | undefined; readonly problems: readonly RuleProblem[] } {
  const listGiven = listText !== undefined && parsePatternList(listText).length > 0;
  if (!listGiven && selectorText === undefined) return { clusters: undefined, problems: [] };
  const problems: RuleProblem[] = [];
  let list: ClusterGlobList | undefined;
  if (listGiven) {
    const compiled = compileClusterGlobList(listText);
    if (compiled.ok) list = compiled.value;
    else problems.push({ dialect: 'native', annotation: native.pushToClusters, message: compiled.error });
  }
  let selector: NamespaceFilter | undefined;
  if (selectorText !== undefined) {
    const parsed = parseSelector(selectorText);
    if (parsed.ok) selector = { op: 'selector', selector: parsed.value };
    else
      problems.push({
        dialect: 'native',
        annotation: native.pushToClustersSelector,
        message: parsed.error,
      });
  }
  if (problems.length > 0) return { clusters: undefined, problems };
  return { clusters: clusterFilterOf(list, selector), problems: [] };
}

/**
 * Parsed cluster annotations by text: the remote pipelines ask every source on every resync and
 * namespace change whether it names their cluster, and most sources share a handful of texts.
 * Bounded, since the texts are tenants' input.
 */
const parsedByText = new Map<string, ReturnType<typeof parseClusterAnnotations>>();
const MAX_PARSED = 1000;

/** parseClusterAnnotations of a source's annotations, remembered by their text. */
export function clusterAnnotationsOf(
  annotations: Readonly<Record<string, string>>,
): ReturnType<typeof parseClusterAnnotations> {
  const list = readAnnotation(annotations, native.pushToClusters);
  const selector = readAnnotation(annotations, native.pushToClustersSelector);
  if (list === undefined && selector === undefined) return { clusters: undefined, problems: [] };
  const key = `${list ?? ''}\u0000${selector ?? ''}\u0000${list === undefined ? 0 : 1}${selector === undefined ? 0 : 1}`;
  let parsed = parsedByText.get(key);
  if (parsed === undefined) {
    parsed = parseClusterAnnotations(list, selector);
    if (parsedByText.size >= MAX_PARSED) parsedByText.clear();
    parsedByText.set(key, parsed);
  }
  return parsed;
}

/** Whether a cluster selection reaches a cluster, and why in words. */
export function selectsCluster(clusters: ClusterFilter, cluster: ClusterInfo): FilterVerdict {
  const verdict = evaluateFilter(clusters, {
    name: cluster.name,
    labels: cluster.labels,
    terminating: false,
  });
  return { match: verdict.match, why: `cluster ${quote(cluster.name)}: ${verdict.why}` };
}

/**
 * A remote cluster's consent to pushes from a source namespace. A ClusterMirror is the
 * operator's (cluster-level rights) and needs none; annotations and Mirrors are written by
 * whoever may edit one namespace, so the cluster's `accept-from` (registration annotation; `*` for
 * a kubeconfig context, which the operator listed) must admit the source namespace. Undefined
 * accept-from = no namespace.
 */
export function clusterAccepts(
  acceptFrom: string | undefined,
  cluster: string,
  rule: Pick<PushRule, 'origin'>,
  sourceNamespace: string,
): FilterVerdict {
  if (rule.origin?.kind === 'ClusterMirror') {
    return { match: true, why: `${formatOrigin(rule.origin)} is the operator's and needs no consent` };
  }
  if (acceptFrom === undefined || acceptFrom.trim() === '') {
    return {
      match: false,
      why: `cluster ${quote(cluster)} accepts pushes from no namespace (its registration has no nsync.dev/accept-from)`,
    };
  }
  const list = compileNamespaceGlobList(acceptFrom);
  if (!list.ok) {
    return {
      match: false,
      why: `the nsync.dev/accept-from of cluster ${quote(cluster)} is invalid (${list.error})`,
    };
  }
  const verdict = evaluateFilter(clusterFilterOf(list.value, undefined), {
    name: sourceNamespace,
    labels: {},
    terminating: false,
  });
  return verdict.match
    ? { match: true, why: `cluster ${quote(cluster)} accepts ${sourceNamespace}` }
    : {
        match: false,
        why: `cluster ${quote(cluster)} does not accept pushes from ${sourceNamespace} (nsync.dev/accept-from ${quote(acceptFrom.trim())}: ${verdict.why})`,
      };
}

/** The annotation (or resource field) a rule's cluster selection was written in, for problems. */
function clusterField(rule: PushRule): string {
  return rule.origin === undefined ? native.pushToClusters : `${formatOrigin(rule.origin)} spec.clusters`;
}

/**
 * The push rules the local pipeline serves, and problems for those it cannot: a rule without a
 * cluster selection as it is; one with a selection only when it selects this cluster (named by
 * `clusterName`, no labels) — with its cluster selection dropped, since the planner knows only
 * namespaces. Without `--cluster-name` this cluster has no name a selection could match and
 * there are no remote clusters either: such a rule is not served, and its source is told
 * (a problem, which keeps the mirrors it made, as bad input does).
 */
export function localPushRules(
  push: readonly PushRule[],
  clusterName: string,
): { readonly push: readonly PushRule[]; readonly problems: readonly RuleProblem[] } {
  const served: PushRule[] = [];
  const problems: RuleProblem[] = [];
  for (const rule of push) {
    const { clusters, ...local } = rule;
    if (clusters === undefined) {
      served.push(rule);
    } else if (clusterName === '') {
      problems.push({
        dialect: rule.dialect,
        annotation: clusterField(rule),
        message:
          'names clusters, but this nsync runs without --cluster-name, so it knows no cluster by name (and none remote); the rule is not served',
      });
    } else if (selectsCluster(clusters, { name: clusterName, labels: {} }).match) {
      served.push(local);
    }
  }
  return { push: served, problems };
}

/** A rule a remote cluster serves, or the consent it lacks. */
export type RemoteRuleVerdict =
  | { readonly served: true; readonly rule: PushRule }
  | { readonly served: false; readonly rule: PushRule; readonly why: string };

/**
 * The rules with a cluster selection that reach one remote cluster, each with its consent
 * verdict. Rules without a selection, or whose selection misses the cluster, are not listed.
 * `sourceNamespace` is what `accept-from` is asked about.
 */
export function remotePushRules(
  push: readonly PushRule[],
  cluster: ClusterInfo & { readonly acceptFrom: string | undefined },
  sourceNamespace: string,
): RemoteRuleVerdict[] {
  const verdicts: RemoteRuleVerdict[] = [];
  for (const rule of push) {
    if (rule.clusters === undefined || !selectsCluster(rule.clusters, cluster).match) continue;
    const consent = clusterAccepts(cluster.acceptFrom, cluster.name, rule, sourceNamespace);
    verdicts.push(consent.match ? { served: true, rule } : { served: false, rule, why: consent.why });
  }
  return verdicts;
}
