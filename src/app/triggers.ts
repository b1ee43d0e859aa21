/**
 * Maps cache changes to the source keys that must be reconciled. Events decide only WHICH keys to
 * look at; what to do is decided by reconcile from the current state.
 */
import type { ObjectMeta } from '../plan/model.ts';
import { mirrorClaim } from '../rules/markers.ts';
import type { Kind, NamespaceInfo } from '../rules/model.ts';
import type { StoreChange } from '../runtime/store.ts';
import type { ClusterCache } from './cache.ts';
import { SOURCE_INDEX_VALUE } from './cache.ts';
import { sourceQueueKey, targetOf, targetQueueKey } from './objects.ts';
import { isSource } from './sources.ts';

/** Where keys go. */
export interface KeySink {
  add(key: string): void;
}

/** Source keys an object's existence or change concerns. */
function keysOf(kind: Kind, meta: ObjectMeta, clusterName: string): string[] {
  const keys: string[] = [];
  if (isSource(meta)) keys.push(sourceQueueKey(kind, meta.namespace, meta.name));
  const claim = mirrorClaim(kind, meta.labels, meta.annotations, { clusterName });
  if (claim) keys.push(sourceQueueKey(kind, claim.sourceNamespace, claim.sourceName));
  const target = targetOf(kind, meta.annotations);
  if (target.pull) keys.push(sourceQueueKey(kind, target.pull.source.namespace, target.pull.source.name));
  if (target.problems.length > 0) keys.push(targetQueueKey(kind, meta.namespace, meta.name));
  return keys;
}

/** Every key worth a periodic look: all sources, and every source some object still points at. */
export function allKeys(cache: ClusterCache): Set<string> {
  const keys = new Set<string>();
  for (const kind of cache.kinds) {
    const store = cache.objects[kind];
    for (const source of store.byIndex('sources', SOURCE_INDEX_VALUE)) {
      keys.add(sourceQueueKey(kind, source.namespace, source.name));
    }
    for (const index of ['claims', 'pulls'] as const) {
      for (const ref of store.indexValues(index)) keys.add(`${kind}/${ref}`);
    }
    for (const target of store.byIndex('targetProblems', SOURCE_INDEX_VALUE)) {
      keys.add(targetQueueKey(kind, target.namespace, target.name));
    }
  }
  return keys;
}

/** The versions of an item a change involves: the new one, the old one, or both. */
function versions<T>(change: StoreChange<T>): T[] {
  switch (change.type) {
    case 'add':
      return [change.new];
    case 'delete':
      return [change.old];
    case 'update':
      return [change.old, change.new];
  }
}

function namespaceChanged(change: StoreChange<NamespaceInfo>): boolean {
  if (change.type !== 'update') return true;
  const { old, new: next } = change;
  if (old.terminating !== next.terminating || old.acceptFrom !== next.acceptFrom) return true;
  const oldKeys = Object.keys(old.labels);
  return (
    oldKeys.length !== Object.keys(next.labels).length ||
    oldKeys.some((key) => old.labels[key] !== next.labels[key])
  );
}

/** Connects cache changes to the queue. Returns a function that disconnects them. */
export function wireTriggers(cache: ClusterCache, sink: KeySink, clusterName = ''): () => void {
  const unsubscribers = cache.kinds.map((kind) => {
    const store = cache.objects[kind];
    return store.onChange((change) => {
      const involved = versions(change);
      for (const meta of involved) for (const key of keysOf(kind, meta, clusterName)) sink.add(key);
      if (change.type !== 'update') {
        // Something appeared or vanished at a name: sources aiming at that name may now create
        // their mirror there, or must report a conflict.
        for (const meta of involved) {
          for (const source of store.byIndex('targetNames', meta.name)) {
            sink.add(sourceQueueKey(kind, source.namespace, source.name));
          }
        }
      }
    });
  });
  if (cache.kinds.includes('RoleBinding')) {
    // A RoleBinding mirror that binds a Role waits until that Role exists in its namespace
    // (docs/adr/0017): a Role appearing or vanishing may release or concern any binding source.
    // Binding sources are few (trusted namespaces only), so all of them are looked at.
    unsubscribers.push(
      cache.objects.Role.onChange((change) => {
        if (change.type === 'update') return;
        for (const source of cache.objects.RoleBinding.byIndex('sources', SOURCE_INDEX_VALUE)) {
          sink.add(sourceQueueKey('RoleBinding', source.namespace, source.name));
        }
      }),
    );
  }
  unsubscribers.push(
    cache.namespaces.onChange((change) => {
      if (!namespaceChanged(change)) return;
      for (const kind of cache.kinds) {
        for (const source of cache.objects[kind].byIndex('sources', SOURCE_INDEX_VALUE)) {
          sink.add(sourceQueueKey(kind, source.namespace, source.name));
        }
      }
    }),
  );
  return () => {
    for (const unsubscribe of unsubscribers) unsubscribe();
  };
}
