/**
 * Which cached objects are sources, and reading a source's content. Sources are the only objects
 * whose data nsync reads; their content is cached by resourceVersion so an unchanged source costs
 * no read however often it is reconciled.
 */
import { classify } from '../kube/errors.ts';
import type { RawObject, Resource } from '../kube/resources.ts';
import type { Writer } from '../kube/writer.ts';
import type { ObjectMeta, SourceContent, SourceState } from '../plan/model.ts';
import { kubed, native, reflector, replicator } from '../rules/markers.ts';
import type { Kind } from '../rules/model.ts';
import { parseSource } from '../rules/parse.ts';
import { toObjectMeta } from './objects.ts';

/** Annotations that make an object a source (push or pull consent) in some dialect. */
const SOURCE_KEYS = [
  native.pushTo,
  native.pushToSelector,
  native.pullAllowed,
  native.pullAllowedSelector,
  reflector.allowed,
  replicator.replicateTo,
  replicator.replicateToMatching,
  replicator.allowed,
  kubed.sync,
];

/** Whether an object's annotations ask anything of it as a source. */
export function isSource(meta: ObjectMeta): boolean {
  return SOURCE_KEYS.some((key) => Object.hasOwn(meta.annotations, key));
}

/** Names a source's mirrors would take: its own, and a native target-name. For conflict triggers. */
export function targetNames(meta: ObjectMeta): string[] {
  if (!isSource(meta)) return [];
  const custom = meta.annotations[native.targetName]?.trim();
  return custom !== undefined && custom !== '' && custom !== meta.name ? [meta.name, custom] : [meta.name];
}

const NO_CONTENT: SourceContent = { type: undefined, data: {}, binaryData: {} };

/** Reads sources through a resourceVersion-keyed cache. */
export class SourceReader {
  private readonly writer: Writer;
  private readonly cache = new Map<string, { resourceVersion: string; state: SourceState }>();

  constructor(writer: Writer) {
    this.writer = writer;
  }

  /**
   * The source as the planner needs it, or undefined when it does not exist. The cached metadata
   * says whether anything changed; only then is the object read — and never when `readable` is
   * false (a namespace the operator excluded).
   */
  async read(
    kind: Kind,
    resource: Resource,
    meta: ObjectMeta,
    readable = true,
  ): Promise<SourceState | undefined> {
    const key = `${kind}/${meta.namespace}/${meta.name}`;
    const cached = this.cache.get(key);
    if (cached?.resourceVersion === meta.resourceVersion && cached.state.meta.uid === meta.uid)
      return cached.state;
    if (!isSource(meta) || !readable) {
      // Not (or no longer) a source, or in a namespace nsync must not read from: the planner needs
      // its annotations to decide (orphans, refusals), never its data.
      this.cache.delete(key);
      return {
        meta,
        content: NO_CONTENT,
        spec: parseSource(kind, meta.namespace, meta.name, meta.annotations, undefined),
      };
    }
    let raw: RawObject;
    try {
      raw = await this.writer.get(resource, meta.namespace, meta.name);
    } catch (error) {
      if (classify(error) === 'not-found') {
        this.cache.delete(key);
        return undefined;
      }
      throw error;
    }
    const fresh = toObjectMeta(kind, raw);
    const state: SourceState = {
      meta: fresh,
      content: { type: raw.type, data: raw.data ?? {}, binaryData: raw.binaryData ?? {} },
      spec: parseSource(kind, fresh.namespace, fresh.name, fresh.annotations, raw.type),
    };
    this.cache.set(key, { resourceVersion: fresh.resourceVersion, state });
    return state;
  }

  /** Drops a source's cached content (deleted sources must not keep data in memory). */
  forget(kind: Kind, namespace: string, name: string): void {
    this.cache.delete(`${kind}/${namespace}/${name}`);
  }

  /** Number of cached sources, for tests and metrics. */
  get size(): number {
    return this.cache.size;
  }
}
