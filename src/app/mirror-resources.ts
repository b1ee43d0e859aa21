/**
 * The ClusterMirror and Mirror resources (nsync.dev/v1alpha1, docs/api.md), cached like every
 * other input: a list+watch each, a store indexed by the source each one names, so a reconcile of
 * a source finds the resources that push it without a request. The resources are optional: on a
 * cluster without the CRDs nsync runs exactly as before, says so once, and starts serving them
 * when they appear.
 */
import { toMirrorRule, type Conversion, type MirrorResourceV1 } from '../api/index.ts';
import { classify } from '../kube/errors.ts';
import { ListWatch, type ListWatchSink, type ListWatchStatus } from '../kube/listwatch.ts';
import {
  CLUSTER_MIRRORS,
  collectionPath,
  MIRRORS,
  type RawObject,
  type Resource,
} from '../kube/resources.ts';
import type { Transport } from '../kube/transport.ts';
import { delay, isAborted } from '../kube/abort.ts';
import type { Kind } from '../rules/model.ts';
import { Store, type StoreChange } from '../runtime/store.ts';
import { describeError } from './events.ts';
import type { Logger } from './log.ts';
import { sourceQueueKey } from './objects.ts';

/** One resource as cached: the object, and what it asks for. */
export interface CachedMirror {
  /** `ClusterMirror/<name>` or `Mirror/<namespace>/<name>` (formatOrigin). */
  readonly key: string;
  readonly resource: MirrorResourceV1;
  readonly conversion: Conversion;
  /** The source queue key of the source it names, when it names one nsync mirrors. */
  readonly sourceKey: string | undefined;
}

const KINDS: ReadonlySet<string> = new Set<Kind>(['Secret', 'ConfigMap']);

function cachedOf(resource: MirrorResourceV1): CachedMirror {
  const conversion = toMirrorRule(resource);
  const namespace = resource.metadata.namespace;
  const key =
    namespace === undefined || resource.kind === 'ClusterMirror'
      ? `ClusterMirror/${resource.metadata.name}`
      : `Mirror/${namespace}/${resource.metadata.name}`;
  // An invalid resource still names its source where it can, so that the source's reconcile
  // writes the resource's status (and keeps the mirrors it made, ADR 16).
  const source = conversion.ok ? conversion.rule.source : fallbackSource(resource);
  return {
    key,
    resource,
    conversion,
    sourceKey: source === undefined ? undefined : sourceQueueKey(source.kind, source.namespace, source.name),
  };
}

function fallbackSource(
  resource: MirrorResourceV1,
): { kind: Kind; namespace: string; name: string } | undefined {
  const spec: unknown = resource.spec;
  if (typeof spec !== 'object' || spec === null) return undefined;
  const source = (spec as { source?: { kind?: unknown; name?: unknown; namespace?: unknown } }).source;
  const kind = source?.kind;
  const name = source?.name;
  const namespace = resource.kind === 'Mirror' ? resource.metadata.namespace : source?.namespace;
  if (
    typeof kind !== 'string' ||
    !KINDS.has(kind) ||
    typeof name !== 'string' ||
    typeof namespace !== 'string'
  )
    return undefined;
  return { kind: kind as Kind, namespace, name };
}

/** How often a cluster without the CRDs is asked again whether they appeared. @default 60 s */
const PROBE_INTERVAL_MS = 60_000;

/** The resources' store and its list+watch loops. */
export class MirrorResources {
  readonly store = new Store<CachedMirror, 'source'>({
    key: (entry) => entry.key,
    unchanged: (old, next) =>
      old.resource.metadata.resourceVersion === next.resource.metadata.resourceVersion &&
      old.resource.metadata.uid === next.resource.metadata.uid,
    indexes: { source: (entry) => (entry.sourceKey === undefined ? [] : [entry.sourceKey]) },
  });
  private readonly transport: Transport;
  private readonly log: Logger;
  private readonly watches: ListWatch<CachedMirror>[];
  private served: 'unknown' | 'yes' | 'no' = 'unknown';
  private readonly probed: Promise<void>;
  private resolveProbed: () => void = () => undefined;

  constructor(transport: Transport, log: Logger, onRestart?: (resource: string, reason: string) => void) {
    this.transport = transport;
    this.log = log;
    this.probed = new Promise((resolve) => {
      this.resolveProbed = resolve;
    });
    const watch = (resource: Resource): ListWatch<CachedMirror> =>
      new ListWatch<CachedMirror>({
        transport,
        resource,
        sink: this.sink(resource),
        onRestart: (reason) => onRestart?.(resource.plural, reason),
      });
    this.watches = [watch(CLUSTER_MIRRORS), watch(MIRRORS)];
  }

  /** Keeps the store equal to one kind's list+watch, leaving the other kind's entries alone. */
  private sink(resource: Resource): ListWatchSink<CachedMirror> {
    const prefix = `${resource.kind}/`;
    return {
      convert: (raw: RawObject) =>
        cachedOf({
          ...(raw as unknown as MirrorResourceV1),
          kind: resource.kind as MirrorResourceV1['kind'],
        }),
      relisted: (items) => {
        const fresh = new Set(items.map((item) => item.key));
        for (const key of this.store.keys())
          if (key.startsWith(prefix) && !fresh.has(key)) this.store.delete(key);
        for (const item of items) this.store.upsert(item);
      },
      event: (type, item) => {
        if (type === 'DELETED') this.store.delete(item.key);
        else this.store.upsert(item);
      },
    };
  }

  /**
   * Whether the resources can be served: the CRDs are installed (404 otherwise) and nsync may
   * list them (403 otherwise: RBAC from before the CRDs; said once, like a missing CRD, rather
   * than a list+watch failing for ever and keeping nsync unready).
   */
  private async serves(signal: AbortSignal): Promise<'yes' | 'absent' | 'forbidden'> {
    for (const resource of [CLUSTER_MIRRORS, MIRRORS]) {
      try {
        await this.transport.json({ method: 'GET', path: `${collectionPath(resource)}?limit=1`, signal });
      } catch (error) {
        const kind = classify(error);
        if (kind === 'not-found') return 'absent';
        if (kind === 'forbidden') {
          if (this.served === 'unknown') {
            this.log.warn(
              { resource: resource.plural },
              'nsync may not list the nsync.dev resources: ClusterMirror and Mirror are not served until its ClusterRole allows get, list and watch on them (the chart does)',
            );
          }
          return 'forbidden';
        }
        throw error;
      }
    }
    return 'yes';
  }

  /**
   * Runs until the signal aborts. Without the CRDs, logs one line and asks again every minute;
   * once they are there, runs both list+watch loops.
   */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let available: 'yes' | 'absent' | 'forbidden';
      try {
        available = await this.serves(signal);
      } catch (error) {
        if (isAborted(signal)) break;
        this.log.warn(
          { err: describeError(error) },
          'could not ask whether ClusterMirror and Mirror are served; asking again',
        );
        await delay(5_000, signal);
        continue;
      }
      if (available === 'yes') {
        if (this.served === 'no')
          this.log.info('the nsync.dev CRDs are installed now: serving ClusterMirror and Mirror');
        this.served = 'yes';
        this.resolveProbed();
        await Promise.all(this.watches.map((watch) => watch.run(signal)));
        return;
      }
      if (this.served === 'unknown' && available === 'absent') {
        this.log.info(
          'the nsync.dev CRDs are not installed: ClusterMirror and Mirror are not served (annotations work as always); checking again every minute',
        );
      }
      this.served = 'no';
      this.resolveProbed();
      await delay(PROBE_INTERVAL_MS, signal);
    }
  }

  /**
   * Resolves once the resources are known: listed completely, or known not to be served. A
   * partial list would look like "resource deleted" and delete its mirrors.
   */
  async synced(): Promise<void> {
    await this.probed;
    if (this.served === 'yes') await Promise.all(this.watches.map((watch) => watch.synced()));
  }

  /** Health of the list+watch loops (none while the resources are not served). */
  status(): ListWatchStatus[] {
    return this.served === 'yes' ? this.watches.map((watch) => watch.status()) : [];
  }

  /** The resources that name a source. */
  forSource(kind: Kind, namespace: string, name: string): CachedMirror[] {
    return this.store.byIndex('source', sourceQueueKey(kind, namespace, name));
  }

  /** Every source some resource names. */
  sourceKeys(): string[] {
    return this.store.indexValues('source');
  }

  /** Calls `listener` with the source keys a change of a resource concerns. */
  onSourcesChanged(listener: (keys: readonly string[]) => void): () => void {
    return this.store.onChange((change: StoreChange<CachedMirror>) => {
      const keys = new Set<string>();
      if (change.type !== 'add' && change.old.sourceKey !== undefined) keys.add(change.old.sourceKey);
      if (change.type !== 'delete' && change.new.sourceKey !== undefined) keys.add(change.new.sourceKey);
      listener([...keys]);
    });
  }
}
