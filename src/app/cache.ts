/**
 * The controller's view of the cluster: namespaces, Secrets and ConfigMaps, each a store fed by a
 * metadata-only list+watch, with the indexes the triggers and the planner need.
 */
import { ListWatch, type ListWatchSink, type ListWatchStatus } from '../kube/listwatch.ts';
import {
  CONFIGMAPS,
  NAMESPACES,
  ROLEBINDINGS,
  ROLES,
  SECRETS,
  SERVICEACCOUNTS,
  type RawObject,
  type Resource,
} from '../kube/resources.ts';
import type { Transport } from '../kube/transport.ts';
import type { ObjectMeta } from '../plan/model.ts';
import { mirrorClaim } from '../rules/markers.ts';
import type { Kind, NamespaceInfo } from '../rules/model.ts';
import { Store } from '../runtime/store.ts';
import { objectKey, targetOf, toNamespaceInfo, toObjectMeta } from './objects.ts';
import { isSource, targetNames } from './sources.ts';

/** Index names of an object store. */
export type ObjectIndex = 'claims' | 'pulls' | 'sources' | 'targetNames' | 'targetProblems';

/** The resource of each kind. */
export const RESOURCES: Readonly<Record<Kind, Resource>> = {
  Secret: SECRETS,
  ConfigMap: CONFIGMAPS,
  Role: ROLES,
  RoleBinding: ROLEBINDINGS,
  ServiceAccount: SERVICEACCOUNTS,
};

/** Index value under which every source is filed. */
export const SOURCE_INDEX_VALUE = 'source';

function newObjectStore(kind: Kind, clusterName: string): Store<ObjectMeta, ObjectIndex> {
  return new Store<ObjectMeta, ObjectIndex>({
    key: (meta) => objectKey(meta.namespace, meta.name),
    unchanged: (old, next) => old.resourceVersion === next.resourceVersion && old.uid === next.uid,
    indexes: {
      claims: (meta) => {
        const claim = mirrorClaim(kind, meta.labels, meta.annotations, { clusterName });
        return claim ? [objectKey(claim.sourceNamespace, claim.sourceName)] : [];
      },
      pulls: (meta) => {
        const pull = targetOf(kind, meta.annotations).pull;
        return pull ? [objectKey(pull.source.namespace, pull.source.name)] : [];
      },
      sources: (meta) => (isSource(meta) ? [SOURCE_INDEX_VALUE] : []),
      targetProblems: (meta) =>
        targetOf(kind, meta.annotations).problems.length > 0 ? [SOURCE_INDEX_VALUE] : [],
      targetNames,
    },
  });
}

/** A sink that keeps a store equal to what the list+watch saw. */
export function storeSink<T>(
  store: Store<T, string>,
  convert: (raw: RawObject) => T,
  key: (item: T) => string,
): ListWatchSink<T> {
  return {
    convert,
    relisted: (items) => {
      store.replace(items, '');
    },
    event: (type, item) => {
      if (type === 'DELETED') store.delete(key(item));
      else store.upsert(item);
    },
  };
}

/**
 * The kinds the cache watches: the mirrored ones, plus Roles (metadata only) when RoleBindings are
 * mirrored, since a binding to a Role waits until that Role exists in the target namespace.
 */
export function watchedKinds(kinds: readonly Kind[]): readonly Kind[] {
  return kinds.includes('RoleBinding') && !kinds.includes('Role') ? [...kinds, 'Role'] : kinds;
}

/** Hooks for metrics (and for `nsync explain`, which gives up on the first failed list). */
export interface CacheObserver {
  onWatchRestart?(resource: string, reason: string, error?: unknown): void;
}

/** All stores and their list+watch loops. */
export class ClusterCache {
  readonly namespaces = new Store<NamespaceInfo>({ key: (ns) => ns.name });
  readonly objects: Readonly<Record<Kind, Store<ObjectMeta, ObjectIndex>>>;
  readonly kinds: readonly Kind[];
  private readonly watches: {
    run(signal: AbortSignal): Promise<void>;
    synced(): Promise<void>;
    status(): ListWatchStatus;
  }[];

  constructor(transport: Transport, kinds: readonly Kind[], observer: CacheObserver = {}, clusterName = '') {
    this.kinds = kinds;
    this.objects = {
      Secret: newObjectStore('Secret', clusterName),
      ConfigMap: newObjectStore('ConfigMap', clusterName),
      // Stores of kinds not enabled stay empty: no watch feeds them.
      Role: newObjectStore('Role', clusterName),
      RoleBinding: newObjectStore('RoleBinding', clusterName),
      ServiceAccount: newObjectStore('ServiceAccount', clusterName),
    };
    const watch = <T>(resource: Resource, sink: ListWatchSink<T>): ListWatch<T> =>
      new ListWatch<T>({
        transport,
        resource,
        sink,
        metadataOnly: true,
        onRestart: (reason, error) => observer.onWatchRestart?.(resource.plural, reason, error),
      });
    this.watches = [
      watch(
        NAMESPACES,
        storeSink(this.namespaces, toNamespaceInfo, (namespace) => namespace.name),
      ),
      ...watchedKinds(kinds).map((kind) =>
        watch(RESOURCES[kind], {
          ...storeSink(
            this.objects[kind],
            (raw) => toObjectMeta(kind, raw),
            (meta) => objectKey(meta.namespace, meta.name),
          ),
          known: (raw) => {
            const held = this.objects[kind].get(objectKey(raw.metadata.namespace ?? '', raw.metadata.name));
            return (
              held !== undefined &&
              held.resourceVersion === raw.metadata.resourceVersion &&
              held.uid === raw.metadata.uid
            );
          },
        }),
      ),
    ];
  }

  /** Runs every list+watch until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(this.watches.map((watch) => watch.run(signal)));
  }

  /** Resolves once every store holds a complete list: never act on a half-loaded cache. */
  async synced(): Promise<void> {
    await Promise.all(this.watches.map((watch) => watch.synced()));
  }

  /** Health of every list+watch. */
  status(): ListWatchStatus[] {
    return this.watches.map((watch) => watch.status());
  }
}
