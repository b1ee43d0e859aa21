/**
 * Annotation and label keys of every dialect, and the ownership test built on them. Kept in one
 * place because the parsers read them, the planner writes them, and the triggers index them.
 */
import type { Dialect, Kind } from './model.ts';

export const NATIVE_PREFIX = 'nsync.dev/';
export const REFLECTOR_PREFIX = 'reflector.v1.k8s.emberstack.com/';
export const REPLICATOR_PREFIX = 'replicator.v1.mittwald.de/';
export const KUBED_PREFIX = 'kubed.appscode.com/';

/** Annotations of the native dialect (docs/annotations.md). */
export const native = {
  pushTo: `${NATIVE_PREFIX}push-to`,
  pushToSelector: `${NATIVE_PREFIX}push-to-selector`,
  /** Cluster name globs (`!` excludes) the push reaches; absent = this cluster only. */
  pushToClusters: `${NATIVE_PREFIX}push-to-clusters`,
  /** Label selector over the clusters' labels (registered clusters), ANDed with push-to-clusters. */
  pushToClustersSelector: `${NATIVE_PREFIX}push-to-clusters-selector`,
  pullAllowed: `${NATIVE_PREFIX}pull-allowed`,
  pullAllowedSelector: `${NATIVE_PREFIX}pull-allowed-selector`,
  targetName: `${NATIVE_PREFIX}target-name`,
  keys: `${NATIVE_PREFIX}keys`,
  copyLabels: `${NATIVE_PREFIX}copy-labels`,
  copyAnnotations: `${NATIVE_PREFIX}copy-annotations`,
  pullFrom: `${NATIVE_PREFIX}pull-from`,
} as const;

/** Markers nsync writes on what it creates or fills. */
export const owned = {
  /** Label on every mirror nsync owns; the metadata watch can select on it. */
  managedByLabel: 'app.kubernetes.io/managed-by',
  managedByValue: 'nsync',
  /** `<namespace>/<name>` of the source. */
  source: `${NATIVE_PREFIX}source`,
  sourceUid: `${NATIVE_PREFIX}source-uid`,
  /**
   * `--cluster-name` of the cluster the source lives in, on mirrors pushed into another cluster
   * (docs/adr/0018): only the nsync of that cluster claims them, so an nsync running in the target
   * cluster never takes them for its own orphans.
   */
  sourceCluster: `${NATIVE_PREFIX}source-cluster`,
  /** Hash of the desired content; an equal hash means no write is needed. */
  contentHash: `${NATIVE_PREFIX}content-hash`,
  /** Sorted comma list of keys copied into a pull target, so keys the source drops can be removed. */
  copiedKeys: `${NATIVE_PREFIX}copied-keys`,
  /**
   * Sorted comma list of the source's keys a pull target already held of its own (non-empty)
   * before nsync could copy them: never overwritten, never removed (docs/adr/0009).
   */
  ownKeys: `${NATIVE_PREFIX}own-keys`,
  /**
   * Set on a pushed mirror by anyone who may edit it: the target namespace refuses the mirror, and
   * nsync stops managing it for good (docs/adr/0010). Any value but "false" refuses.
   */
  refuse: `${NATIVE_PREFIX}refuse`,
  /**
   * `<count> since <ISO time>`: how often nsync restored this mirror after another field manager
   * changed it, within the current window (docs/adr/0010). Written with each restore.
   */
  restores: `${NATIVE_PREFIX}restores`,
} as const;

/**
 * Set on a Namespace: the source namespaces whose pushed mirrors it accepts (native globs with `!`
 * exclusions). Read only when the operator turns on `--target-consent`.
 */
export const ACCEPT_FROM_ANNOTATION = `${NATIVE_PREFIX}accept-from`;

/** The field manager nsync writes with; managedFields entries of others mark foreign content. */
export const FIELD_MANAGER = 'nsync';

export const reflector = {
  allowed: `${REFLECTOR_PREFIX}reflection-allowed`,
  allowedNamespaces: `${REFLECTOR_PREFIX}reflection-allowed-namespaces`,
  allowedNamespacesSelector: `${REFLECTOR_PREFIX}reflection-allowed-namespaces-selector`,
  autoEnabled: `${REFLECTOR_PREFIX}reflection-auto-enabled`,
  autoNamespaces: `${REFLECTOR_PREFIX}reflection-auto-namespaces`,
  autoNamespacesSelector: `${REFLECTOR_PREFIX}reflection-auto-namespaces-selector`,
  reflects: `${REFLECTOR_PREFIX}reflects`,
  autoReflects: `${REFLECTOR_PREFIX}auto-reflects`,
  reflectedVersion: `${REFLECTOR_PREFIX}reflected-version`,
  reflectedAt: `${REFLECTOR_PREFIX}reflected-at`,
} as const;

export const replicator = {
  replicateTo: `${REPLICATOR_PREFIX}replicate-to`,
  replicateToMatching: `${REPLICATOR_PREFIX}replicate-to-matching`,
  replicateFrom: `${REPLICATOR_PREFIX}replicate-from`,
  allowed: `${REPLICATOR_PREFIX}replication-allowed`,
  allowedNamespaces: `${REPLICATOR_PREFIX}replication-allowed-namespaces`,
  stripLabels: `${REPLICATOR_PREFIX}strip-labels`,
  keepOwnerReferences: `${REPLICATOR_PREFIX}keep-owner-references`,
  replicatedAt: `${REPLICATOR_PREFIX}replicated-at`,
  replicatedFromVersion: `${REPLICATOR_PREFIX}replicated-from-version`,
  replicatedKeys: `${REPLICATOR_PREFIX}replicated-keys`,
} as const;

export const kubed = {
  sync: `${KUBED_PREFIX}sync`,
  syncContexts: `${KUBED_PREFIX}sync-contexts`,
  origin: `${KUBED_PREFIX}origin`,
  originName: `${KUBED_PREFIX}origin.name`,
  originNamespace: `${KUBED_PREFIX}origin.namespace`,
  originCluster: `${KUBED_PREFIX}origin.cluster`,
} as const;

/** Secret types that are never sources or mirrors. */
export const NEVER_MIRRORED_SECRET_TYPES: ReadonlySet<string> = new Set(['helm.sh/release.v1']);

/**
 * Keys never copied from a source, even where a dialect copies labels or annotations: GitOps
 * tracking metadata (a copy would make Argo CD or Flux claim, prune or fight over the mirror) and
 * kubectl's last-applied-configuration (which for a Secret holds its data).
 */
export function isNeverCopied(key: string): boolean {
  return (
    key.startsWith('argocd.argoproj.io/') ||
    key.startsWith('kustomize.toolkit.fluxcd.io/') ||
    key.startsWith('helm.toolkit.fluxcd.io/') ||
    key === 'app.kubernetes.io/instance' ||
    key === 'kubectl.kubernetes.io/last-applied-configuration' ||
    key.startsWith(NATIVE_PREFIX) ||
    key.startsWith(REFLECTOR_PREFIX) ||
    key.startsWith(REPLICATOR_PREFIX) ||
    key.startsWith(KUBED_PREFIX) ||
    key === owned.managedByLabel
  );
}

/** Whether a key is a marker of nsync or of a dialect (never copied, and never news when dropped). */
export function isMarkerKey(key: string): boolean {
  return isDialectKey(key) || key === owned.managedByLabel;
}

/** Whether a key belongs to any dialect's vocabulary (nsync's own included). */
function isDialectKey(key: string): boolean {
  return (
    key.startsWith(NATIVE_PREFIX) ||
    key.startsWith(REFLECTOR_PREFIX) ||
    key.startsWith(REPLICATOR_PREFIX) ||
    key.startsWith(KUBED_PREFIX)
  );
}

/** Whether any key of a map belongs to a dialect nsync reads (a cheap relevance test for the cache). */
export function hasDialectKey(map: Readonly<Record<string, string>>): boolean {
  return Object.keys(map).some(isDialectKey);
}

/** A claim, read from an existing object's markers, that it is a push mirror of some source. */
export interface MirrorClaim {
  readonly sourceNamespace: string;
  readonly sourceName: string;
  /** Which controller's markers carry the claim: 'native' means nsync's own. */
  readonly markedBy: Dialect;
}

/** What mirrorClaim needs to know about the cluster it runs in. */
export interface MirrorClaimOptions {
  /**
   * This cluster's name (`--cluster-name`), compared with the `origin.cluster` label kubed puts on
   * its copies: a copy that names another cluster came from a source over there, whatever its
   * namespace/name labels say, and is never claimed here.
   * @default ''
   */
  readonly clusterName?: string;
  /**
   * The object lives in another cluster than the source (docs/adr/0018): it is claimed only when
   * its cluster marker names `clusterName` (nsync's `source-cluster`, kubed's `origin.cluster`),
   * never by reflector markers, which know no cluster.
   * @default false
   */
  readonly remote?: boolean;
}

/** Splits `<namespace>/<name>`; undefined when it is not exactly that shape. */
export function parseRef(value: string | undefined): { namespace: string; name: string } | undefined {
  if (value === undefined) return undefined;
  const parts = value.trim().split('/');
  if (parts.length !== 2) return undefined;
  const [namespace, name] = parts as [string, string];
  if (namespace === '' || name === '') return undefined;
  return { namespace, name };
}

/** A map's own value for a key (never an inherited member such as `toString`). */
function own(map: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

/** A non-empty string field of a parsed JSON object, or undefined. */
function stringField(object: object, key: string): string | undefined {
  const value: unknown = Object.hasOwn(object, key) ? (object as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

type SourceRef = { readonly namespace: string; readonly name: string };

/**
 * Reads kubed's `origin` annotation: the JSON object reference of the source
 * (`{apiVersion, kind, name, namespace, uid, resourceVersion}`; kubed leaves out the fields it does
 * not know, typically apiVersion and kind). Undefined unless it is an object naming both a
 * namespace and a name, and — when it says — the same kind as the object carrying it.
 */
function kubedOriginRef(kind: Kind, value: string | undefined): SourceRef | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const originKind = stringField(parsed, 'kind');
  if (originKind !== undefined && originKind !== kind) return undefined;
  const namespace = stringField(parsed, 'namespace');
  const name = stringField(parsed, 'name');
  return namespace === undefined || name === undefined ? undefined : { namespace, name };
}

/**
 * The source a kubed copy names. kubed (config-syncer) labels every copy with
 * `origin.name`/`origin.namespace`/`origin.cluster` and annotates it with `origin`; copies made
 * before the labels existed (kubed 0.9) carry the annotation only. When both are there they must
 * agree: a copy whose markers contradict each other is nobody's. A copy from another cluster
 * (`origin.cluster` set and not this cluster's name) is never claimed.
 */
function kubedClaim(
  kind: Kind,
  labels: Readonly<Record<string, string>>,
  annotations: Readonly<Record<string, string>>,
  clusterName: string,
  remote: boolean,
): SourceRef | undefined {
  const cluster = own(labels, kubed.originCluster);
  if (cluster !== undefined && cluster !== '' && cluster !== clusterName) return undefined;
  if (remote && (cluster === undefined || cluster === '')) return undefined;
  const labelName = own(labels, kubed.originName);
  const labelNamespace = own(labels, kubed.originNamespace);
  const fromAnnotation = kubedOriginRef(kind, own(annotations, kubed.origin));
  if (fromAnnotation === undefined) {
    if (
      labelName === undefined ||
      labelName === '' ||
      labelNamespace === undefined ||
      labelNamespace === ''
    ) {
      return undefined;
    }
    return { namespace: labelNamespace, name: labelName };
  }
  const agrees =
    (labelName === undefined || labelName === fromAnnotation.name) &&
    (labelNamespace === undefined || labelNamespace === fromAnnotation.namespace);
  return agrees ? fromAnnotation : undefined;
}

/**
 * Which source, if any, an existing object is a push mirror of, as named by its own markers:
 *
 * - nsync's mirrors: the managed-by label plus the `nsync.dev/source` annotation;
 * - reflector's automatic mirrors: `auto-reflects: "True"` plus `reflects: <namespace>/<name>`;
 * - kubed's copies: the `origin.name`/`origin.namespace` labels and/or the `origin` annotation
 *   (see kubedClaim; copies from another cluster are not claimed).
 *
 * Mirrors of another dialect's controller are adoptable for the SAME source, so a migration needs
 * no re-creation. replicator's push replicas do not name their source at all; they are not claimed
 * here but by unnamedMirrorClaim, which needs a different check by the planner.
 */
export function mirrorClaim(
  kind: Kind,
  labels: Readonly<Record<string, string>>,
  annotations: Readonly<Record<string, string>>,
  options: MirrorClaimOptions = {},
): MirrorClaim | undefined {
  const clusterName = options.clusterName ?? '';
  const remote = options.remote ?? false;
  if (own(labels, owned.managedByLabel) === owned.managedByValue) {
    const ref = parseRef(own(annotations, owned.source));
    // A mirror another cluster's nsync pushed here is that nsync's; one of ours in a remote
    // cluster must say it is ours.
    const from = own(annotations, owned.sourceCluster) ?? '';
    const ours = remote ? from !== '' && from === clusterName : from === '' || from === clusterName;
    if (ref && ours) return { sourceNamespace: ref.namespace, sourceName: ref.name, markedBy: 'native' };
    if (ref) return undefined;
  }
  const autoReflects = own(annotations, reflector.autoReflects);
  if (!remote && autoReflects !== undefined && autoReflects.trim().toLowerCase() === 'true') {
    const ref = parseRef(own(annotations, reflector.reflects));
    if (ref) return { sourceNamespace: ref.namespace, sourceName: ref.name, markedBy: 'reflector' };
  }
  const origin = kubedClaim(kind, labels, annotations, clusterName, remote);
  if (origin) return { sourceNamespace: origin.namespace, sourceName: origin.name, markedBy: 'kubed' };
  return undefined;
}

/**
 * A claim that names no source. replicator's push replicas record when and from which source
 * resourceVersion they were written (`replicated-at`, `replicated-from-version`,
 * `replicated-keys`) but never the source's namespace or name: the source has the replica's own
 * name, in a namespace only the source's `replicate-to`/`replicate-to-matching` can tell.
 */
export interface UnnamedMirrorClaim {
  readonly markedBy: 'replicator';
  /** The source has this object's own name; its namespace is not recorded. */
  readonly sourceName: 'same-as-object';
}

/** The markers replicator writes on every replica; an unnamed claim carries these and no other dialect key. */
const REPLICA_MARKERS: ReadonlySet<string> = new Set([
  replicator.replicatedAt,
  replicator.replicatedFromVersion,
  replicator.replicatedKeys,
]);

/**
 * Whether an object looks like a push replica that replicator wrote: it carries
 * `replicated-from-version` (written on every replicator write, in every version) and no other
 * annotation of any dialect besides replicator's two other replica markers. That rules out
 * replicator's pull targets (same markers plus `replicate-from`), every other pull target and
 * every source, and anything a named claim (mirrorClaim) covers.
 *
 * Such a claim alone never makes the object nsync's: it may be adopted only by a source of the
 * same kind and name, in another namespace, whose replicator push rule selects the object's
 * namespace right now — exactly the objects replicator itself would have overwritten. It is never
 * a reason to delete anything.
 */
export function unnamedMirrorClaim(
  kind: Kind,
  labels: Readonly<Record<string, string>>,
  annotations: Readonly<Record<string, string>>,
  options: MirrorClaimOptions = {},
): UnnamedMirrorClaim | undefined {
  if (options.remote === true) return undefined;
  if (own(annotations, replicator.replicatedFromVersion) === undefined) return undefined;
  if (Object.keys(annotations).some((key) => isDialectKey(key) && !REPLICA_MARKERS.has(key)))
    return undefined;
  if (mirrorClaim(kind, labels, annotations, options) !== undefined) return undefined;
  return { markedBy: 'replicator', sourceName: 'same-as-object' };
}
