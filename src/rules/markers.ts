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
  /** Hash of the desired content; an equal hash means no write is needed. */
  contentHash: `${NATIVE_PREFIX}content-hash`,
  /** Sorted comma list of keys copied into a pull target, so keys the source drops can be removed. */
  copiedKeys: `${NATIVE_PREFIX}copied-keys`,
} as const;

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

/** Whether any key of a map belongs to a dialect nsync reads (a cheap relevance test for the cache). */
export function hasDialectKey(map: Readonly<Record<string, string>>): boolean {
  for (const key of Object.keys(map)) {
    if (
      key.startsWith(NATIVE_PREFIX) ||
      key.startsWith(REFLECTOR_PREFIX) ||
      key.startsWith(REPLICATOR_PREFIX) ||
      key.startsWith(KUBED_PREFIX)
    ) {
      return true;
    }
  }
  return false;
}

/** A claim, read from an existing object's markers, that it is a push mirror of some source. */
export interface MirrorClaim {
  readonly sourceNamespace: string;
  readonly sourceName: string;
  /** Which controller's markers carry the claim: 'native' means nsync's own. */
  readonly markedBy: Dialect;
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

/**
 * Which source, if any, an existing object is a push mirror of. nsync's own mirrors carry the
 * managed-by label and the source annotation; mirrors that reflector created automatically are
 * adoptable for the same source (migration needs no re-creation).
 */
export function mirrorClaim(
  _kind: Kind,
  labels: Readonly<Record<string, string>>,
  annotations: Readonly<Record<string, string>>,
): MirrorClaim | undefined {
  if (labels[owned.managedByLabel] === owned.managedByValue) {
    const ref = parseRef(annotations[owned.source]);
    if (ref) return { sourceNamespace: ref.namespace, sourceName: ref.name, markedBy: 'native' };
  }
  const autoReflects = annotations[reflector.autoReflects];
  if (autoReflects !== undefined && autoReflects.trim().toLowerCase() === 'true') {
    const ref = parseRef(annotations[reflector.reflects]);
    if (ref) return { sourceNamespace: ref.namespace, sourceName: ref.name, markedBy: 'reflector' };
  }
  return undefined;
}
