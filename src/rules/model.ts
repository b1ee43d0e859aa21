/**
 * The one rule model every annotation dialect is parsed into. Nothing after the parser knows which
 * dialect a rule came from, except for the markers written on mirrors (see `MarkerStyle`).
 *
 * Pure: no I/O, no Kubernetes client imports.
 */

/**
 * The kinds nsync mirrors. Roles, RoleBindings and ServiceAccounts are off unless the operator
 * enables them, and served only from trusted namespaces (rules/kinds.ts, docs/adr/0017).
 */
export type Kind = 'Secret' | 'ConfigMap' | 'Role' | 'RoleBinding' | 'ServiceAccount';

/** The annotation dialects nsync understands. */
export type Dialect = 'native' | 'reflector' | 'replicator' | 'kubed';

/** Identifies one namespaced object of a known kind. */
export interface ObjectKey {
  readonly kind: Kind;
  readonly namespace: string;
  readonly name: string;
}

/** A namespace as the planner sees it. */
export interface NamespaceInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** True while the namespace is being deleted: nothing is created there. */
  readonly terminating: boolean;
  /**
   * The namespace's `nsync.dev/accept-from` annotation, as written: the source namespaces whose
   * pushes it accepts under `--target-consent` (rules/target-consent.ts). The only annotation of a
   * namespace nsync keeps.
   */
  readonly acceptFrom?: string;
}

/** One compiled whole-name matcher. `text` is the entry as the user wrote it, for reasons. */
export interface NamePattern {
  readonly text: string;
  /** Matches against the WHOLE name; linear time whatever the pattern. */
  readonly test: (name: string) => boolean;
}

/** A parsed Kubernetes label selector requirement. */
export type SelectorRequirement =
  | { readonly key: string; readonly op: 'in'; readonly values: readonly string[] }
  | { readonly key: string; readonly op: 'notin'; readonly values: readonly string[] }
  | { readonly key: string; readonly op: 'exists' }
  | { readonly key: string; readonly op: 'doesnotexist' };

/** A label selector: requirements ANDed. `text` is the selector as written, for reasons. */
export interface LabelSelector {
  readonly text: string;
  readonly requirements: readonly SelectorRequirement[];
}

/**
 * Which namespaces a rule reaches, as an expression tree so that every dialect's combination
 * rules (reflector's OR of names and selector, native's AND with exclusions …) are data, and so
 * that evaluation can explain itself.
 */
export type NamespaceFilter =
  | { readonly op: 'all' }
  | { readonly op: 'none' }
  | { readonly op: 'names'; readonly patterns: readonly NamePattern[] }
  | { readonly op: 'selector'; readonly selector: LabelSelector }
  | { readonly op: 'and'; readonly of: readonly NamespaceFilter[] }
  | { readonly op: 'or'; readonly of: readonly NamespaceFilter[] }
  | { readonly op: 'not'; readonly of: NamespaceFilter };

/**
 * How a mirror is marked, beyond nsync's own ownership markers: each dialect's own markers are
 * written too, so tools and people that read them keep working, and so the old controller would
 * recognise the mirror again after a rollback.
 */
export type MarkerStyle = Dialect;

/** What is copied from the source besides its content (type/data/binaryData). */
export interface CopyOptions {
  /** Copy the source's labels (minus tracking and sync keys). */
  readonly labels: boolean;
  /** Copy the source's annotations (minus tracking and sync keys). */
  readonly annotations: boolean;
  /** Copy the source's ownerReferences (replicator's keep-owner-references). */
  readonly ownerReferences: boolean;
  /** Only these data keys; undefined = all keys. */
  readonly keys: readonly string[] | undefined;
}

/**
 * The nsync.dev resource a push rule came from (ClusterMirror or Mirror), for rules that are not
 * written on the source itself. Its decisions are attributed to it (status, Events); a
 * ClusterMirror, made with cluster-level rights, is not bound by `--source-namespaces`.
 */
export interface RuleOrigin {
  readonly kind: 'ClusterMirror' | 'Mirror';
  /** Undefined for a ClusterMirror. */
  readonly namespace: string | undefined;
  readonly name: string;
}

/** `ClusterMirror/<name>` or `Mirror/<namespace>/<name>`: how decisions and messages name an origin. */
export function formatOrigin(origin: RuleOrigin): string {
  return origin.namespace === undefined
    ? `${origin.kind}/${origin.name}`
    : `${origin.kind}/${origin.namespace}/${origin.name}`;
}

/**
 * Which clusters a push rule reaches (native `nsync.dev/push-to-clusters` and `-selector`,
 * `spec.clusters` of ClusterMirror and Mirror; docs/adr/0022). The same expression tree as a
 * namespace filter, evaluated on a cluster's name and labels: this cluster is named by
 * `--cluster-name` and has no labels; a remote one is a kubeconfig context (no labels) or a
 * registered cluster (its registration's labels).
 */
export type ClusterFilter = NamespaceFilter;

/** A source's request to create mirrors in other namespaces. */
export interface PushRule {
  readonly dialect: Dialect;
  /** The resource the rule came from; undefined for the source's own annotations. */
  readonly origin?: RuleOrigin;
  /** Namespaces that get a mirror (the source's own namespace never does). */
  readonly targets: NamespaceFilter;
  /** Name of the mirror in each target namespace. */
  readonly targetName: string;
  readonly copy: CopyOptions;
  /**
   * The clusters the rule pushes into; absent = this cluster only (every rule before cluster
   * selection, and kubed's `sync-contexts`, which the remote pipelines serve on their own).
   * Present = exactly the selected clusters, this one included only when selected.
   */
  readonly clusters?: ClusterFilter;
}

/** A source's consent to be pulled into other namespaces, for one dialect. */
export interface PullConsent {
  readonly dialect: Dialect;
  /** Namespaces allowed to pull; `none` when the source does not consent. */
  readonly namespaces: NamespaceFilter;
}

/** A problem with one annotation: disables the rule it belongs to, never the controller. */
export interface RuleProblem {
  readonly dialect: Dialect;
  /** The annotation key at fault. */
  readonly annotation: string;
  /** What is wrong, safe to show in an Event (never contains data values). */
  readonly message: string;
}

/** Everything the annotations on a source object ask for. */
export interface SourceSpec {
  readonly push: readonly PushRule[];
  readonly consent: readonly PullConsent[];
  /** Cross-cluster targets asked for (kubed sync-contexts); not served yet, reported. */
  readonly unsupported: readonly RuleProblem[];
  readonly problems: readonly RuleProblem[];
}

/**
 * A target object's request to be filled from a source (reflector `reflects`, replicator
 * `replicate-from`, native `pull-from`). In every dialect the source's keys are written, the
 * target's own keys are kept, and keys nsync copied before that the source no longer has are
 * removed (docs/adr/0003).
 */
export interface PullRequest {
  readonly dialect: Dialect;
  readonly source: { readonly namespace: string; readonly name: string };
  /** Only these keys; undefined = all keys. */
  readonly keys: readonly string[] | undefined;
}

/** What the annotations on a would-be pull target ask for. */
export interface TargetSpec {
  readonly pull: PullRequest | undefined;
  readonly problems: readonly RuleProblem[];
}
