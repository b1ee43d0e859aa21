/**
 * The nsync.dev/v1alpha1 API as TypeScript: ClusterMirror (cluster-scoped, any source namespace)
 * and Mirror (namespaced, a source in its own namespace). The CRDs in deploy/chart/nsync/crds are
 * the single source of the schema; these types follow them, and src/api/crd.test.ts checks that
 * the two agree where a mistake would matter (field names, validation patterns).
 *
 * Pure: no I/O, no Kubernetes client imports.
 */
import type { Kind } from '../rules/model.ts';

/** The API group of every nsync resource. */
export const GROUP = 'nsync.dev';
/** The one version served and stored. */
export const VERSION = 'v1alpha1';
/** `apiVersion` of every nsync resource. */
export const API_VERSION = `${GROUP}/${VERSION}`;

/** The two resource kinds, with their REST plurals (as in the CRDs' `spec.names`). */
export const RESOURCES = {
  ClusterMirror: { plural: 'clustermirrors', namespaced: false },
  Mirror: { plural: 'mirrors', namespaced: true },
} as const;

/** `ClusterMirror` or `Mirror`. */
export type MirrorKind = keyof typeof RESOURCES;

/** metav1.LabelSelectorRequirement. */
export interface LabelSelectorRequirementV1 {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values?: readonly string[];
}

/** metav1.LabelSelector, as Deployments and NetworkPolicies write it. */
export interface LabelSelectorV1 {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirementV1[];
}

/** The object to copy. `namespace` is required on a ClusterMirror and refused on a Mirror. */
export interface SourceRefV1 {
  readonly kind: Kind;
  readonly name: string;
  readonly namespace?: string;
}

/** Which namespaces get a mirror, and its name there. */
export interface TargetsV1 {
  /** Globs (`*`, `?`), whole-name; `!` entries exclude. Only exclusions = all but those. */
  readonly namespaces?: readonly string[];
  /** Namespaces whose labels match; ANDed with `namespaces`. Never empty. */
  readonly namespaceSelector?: LabelSelectorV1;
  /** The mirror's name; default: the source's name. */
  readonly name?: string;
}

/**
 * Which clusters get the mirrors (docs/adr/0022); absent = this cluster only. At least one field
 * (the CRDs' CEL says so too).
 */
export interface ClustersV1 {
  /** Cluster name globs (`*`, `?`), whole-name; `!` entries exclude. Only exclusions = all but those. */
  readonly names?: readonly string[];
  /** Clusters whose labels match (registered clusters' labels); ANDed with `names`. Never empty. */
  readonly selector?: LabelSelectorV1;
}

/** spec of both kinds. */
export interface MirrorSpecV1 {
  readonly source: SourceRefV1;
  readonly targets: TargetsV1;
  /** Absent = this cluster only; given = exactly the selected clusters, this one by `--cluster-name`. */
  readonly clusters?: ClustersV1;
  /** Only these data keys; absent = every key. */
  readonly keys?: readonly string[];
  /** @default false */
  readonly copyLabels?: boolean;
  /** @default false */
  readonly copyAnnotations?: boolean;
}

/** metav1.Condition. */
export interface ConditionV1 {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  /** RFC 3339, seconds precision. */
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

/** The outcomes that are listed as problems in status. */
export type ProblemOutcome = 'conflict' | 'refused' | 'failed';

/** One namespace with a problem, as listed in status. */
export interface NamespaceProblemV1 {
  readonly namespace: string;
  readonly outcome: ProblemOutcome;
  readonly message: string;
}

/**
 * How a resource stands in one remote cluster its `spec.clusters` selects (docs/adr/0022): the
 * counts of the namespaces selected there, or why nothing is written there.
 */
export interface ClusterStatusV1 {
  readonly name: string;
  /** False when the cluster does not accept pushes from the source's namespace (a Mirror only). */
  readonly accepted: boolean;
  readonly selected: number;
  readonly inSync: number;
  readonly pending: number;
  readonly failed: number;
  /** Selected namespaces there with a conflict or a refusal. */
  readonly problemCount: number;
  /** Why the cluster gets nothing, or its first problem; absent when there is nothing to say. */
  readonly message?: string;
}

/** status of both kinds: a ledger of what nsync last observed and did. */
export interface MirrorStatusV1 {
  readonly observedGeneration?: number;
  readonly conditions?: readonly ConditionV1[];
  readonly selected?: number;
  readonly inSync?: number;
  readonly pending?: number;
  readonly conflicts?: number;
  readonly refused?: number;
  readonly excluded?: number;
  readonly failed?: number;
  /** The first namespaces by name with a problem (at most MAX_LISTED_PROBLEMS). */
  readonly problems?: readonly NamespaceProblemV1[];
  /** All namespaces with a problem, listed or not. */
  readonly problemCount?: number;
  /** resourceVersion of the source the mirrors were last all synced from. */
  readonly sourceResourceVersion?: string;
  /**
   * The remote clusters `spec.clusters` selects, by name (at most MAX_LISTED_CLUSTERS); the counts
   * above are this cluster's. Absent when the resource names no remote cluster.
   */
  readonly clusters?: readonly ClusterStatusV1[];
}

/** The metadata nsync reads of its own resources. */
export interface MirrorMetadataV1 {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
}

/** A ClusterMirror or Mirror object as the API server returns it. */
export interface MirrorResourceV1 {
  readonly apiVersion: string;
  readonly kind: MirrorKind;
  readonly metadata: MirrorMetadataV1;
  readonly spec: MirrorSpecV1;
  readonly status?: MirrorStatusV1;
}
