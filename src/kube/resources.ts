/**
 * The API resources nsync reads and writes, their paths, and the raw shapes it decodes. Only the
 * fields nsync uses are typed; everything else stays opaque.
 */

/** A managedFields entry: who last wrote which fields. */
export interface RawManagedFields {
  readonly manager?: string;
  readonly operation?: string;
  /** RFC 3339 time of this manager's latest write. */
  readonly time?: string;
  readonly fieldsV1?: Readonly<Record<string, unknown>>;
}

/** Object metadata as the API returns it (full or PartialObjectMetadata). */
export interface RawMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly {
    readonly apiVersion: string;
    readonly kind: string;
    readonly name: string;
    readonly uid: string;
    readonly controller?: boolean;
    readonly blockOwnerDeletion?: boolean;
  }[];
  readonly managedFields?: readonly RawManagedFields[];
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
}

/** A Secret, ConfigMap, Namespace or PartialObjectMetadata as decoded. */
export interface RawObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: RawMeta;
  readonly type?: string;
  readonly data?: Readonly<Record<string, string>>;
  readonly binaryData?: Readonly<Record<string, string>>;
  readonly immutable?: boolean;
  readonly status?: { readonly phase?: string };
  /** Role. */
  readonly rules?: unknown;
  /** RoleBinding. */
  readonly subjects?: unknown;
  readonly roleRef?: unknown;
  /** ServiceAccount. */
  readonly imagePullSecrets?: unknown;
}

/** A list answer. */
export interface RawList {
  readonly metadata: { readonly resourceVersion: string; readonly continue?: string };
  /** null, not [], in an empty PartialObjectMetadataList. */
  readonly items: readonly RawObject[] | null;
}

/** One API resource. */
export interface Resource {
  readonly kind: string;
  readonly apiVersion: string;
  /** Path prefix of its group version, e.g. `/api/v1` or `/apis/events.k8s.io/v1`. */
  readonly base: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

export const SECRETS: Resource = {
  kind: 'Secret',
  apiVersion: 'v1',
  base: '/api/v1',
  plural: 'secrets',
  namespaced: true,
};
export const CONFIGMAPS: Resource = {
  kind: 'ConfigMap',
  apiVersion: 'v1',
  base: '/api/v1',
  plural: 'configmaps',
  namespaced: true,
};
export const SERVICEACCOUNTS: Resource = {
  kind: 'ServiceAccount',
  apiVersion: 'v1',
  base: '/api/v1',
  plural: 'serviceaccounts',
  namespaced: true,
};
export const ROLES: Resource = {
  kind: 'Role',
  apiVersion: 'rbac.authorization.k8s.io/v1',
  base: '/apis/rbac.authorization.k8s.io/v1',
  plural: 'roles',
  namespaced: true,
};
export const ROLEBINDINGS: Resource = {
  kind: 'RoleBinding',
  apiVersion: 'rbac.authorization.k8s.io/v1',
  base: '/apis/rbac.authorization.k8s.io/v1',
  plural: 'rolebindings',
  namespaced: true,
};
export const NAMESPACES: Resource = {
  kind: 'Namespace',
  apiVersion: 'v1',
  base: '/api/v1',
  plural: 'namespaces',
  namespaced: false,
};
export const EVENTS: Resource = {
  kind: 'Event',
  apiVersion: 'events.k8s.io/v1',
  base: '/apis/events.k8s.io/v1',
  plural: 'events',
  namespaced: true,
};
export const LEASES: Resource = {
  kind: 'Lease',
  apiVersion: 'coordination.k8s.io/v1',
  base: '/apis/coordination.k8s.io/v1',
  plural: 'leases',
  namespaced: true,
};

/** nsync's own resources (deploy/chart/nsync/crds). */
export const CLUSTER_MIRRORS: Resource = {
  kind: 'ClusterMirror',
  apiVersion: 'nsync.dev/v1alpha1',
  base: '/apis/nsync.dev/v1alpha1',
  plural: 'clustermirrors',
  namespaced: false,
};
export const MIRRORS: Resource = {
  kind: 'Mirror',
  apiVersion: 'nsync.dev/v1alpha1',
  base: '/apis/nsync.dev/v1alpha1',
  plural: 'mirrors',
  namespaced: true,
};

/** Path of a collection: all namespaces when `namespace` is undefined. */
export function collectionPath(resource: Resource, namespace?: string): string {
  return resource.namespaced && namespace !== undefined
    ? `${resource.base}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}`
    : `${resource.base}/${resource.plural}`;
}

/** Path of one object. */
export function objectPath(resource: Resource, namespace: string | undefined, name: string): string {
  return `${collectionPath(resource, namespace)}/${encodeURIComponent(name)}`;
}

/** Accept headers that make the server send metadata only (no data bytes cross the wire). */
export const METADATA_LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
export const METADATA_WATCH_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

/**
 * Accept header of writes: the answer is the written object's metadata only (the API server
 * transforms write responses as it does reads), so a write's answer never carries the secret
 * data just sent — less for the server to encode and for nsync to parse and hold. Plain JSON is
 * the fallback for a server that cannot.
 */
export const METADATA_WRITE_ACCEPT = `${METADATA_WATCH_ACCEPT},application/json`;

/** RFC 3339 with microseconds: the MicroTime format of Event and Lease timestamps. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
