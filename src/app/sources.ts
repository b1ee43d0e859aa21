/**
 * Which cached objects are sources, and reading a source's content. Sources are the only objects
 * whose data nsync reads; their content is cached by resourceVersion so an unchanged source costs
 * no read however often it is reconciled.
 */
import { classify } from '../kube/errors.ts';
import type { RawObject, Resource } from '../kube/resources.ts';
import type { Writer } from '../kube/writer.ts';
import { asCanonical, canonicalJson } from '../plan/hash.ts';
import type { ObjectMeta, SourceContent, SourceState } from '../plan/model.ts';
import { CONTENT_FIELDS_OF, isIdentityKind } from '../rules/kinds.ts';
import { kubed, mirrorClaim, native, reflector, replicator } from '../rules/markers.ts';
import type { Kind, SourceSpec } from '../rules/model.ts';
import { parseSource } from '../rules/parse.ts';
import { targetOf, toObjectMeta } from './objects.ts';

/** Annotations that make an object a source (push or pull consent) in some dialect. */
const SOURCE_KEYS: readonly string[] = [
  native.pushTo,
  native.pushToSelector,
  native.pushToClusters,
  native.pushToClustersSelector,
  native.pullAllowed,
  native.pullAllowedSelector,
  reflector.allowed,
  replicator.replicateTo,
  replicator.replicateToMatching,
  replicator.allowed,
  kubed.sync,
  kubed.syncContexts,
];
const SOURCE_KEY_SET: ReadonlySet<string> = new Set(SOURCE_KEYS);

/**
 * Whether an object's annotations ask anything of it as a source. Runs for every watch event of
 * every Secret and ConfigMap in the cluster, several times: walking the object's few annotations
 * against a set is ~15× cheaper than asking the object for each of the twelve keys.
 */
export function isSource(meta: ObjectMeta): boolean {
  const annotations = meta.annotations;
  for (const key in annotations) if (SOURCE_KEY_SET.has(key) && Object.hasOwn(annotations, key)) return true;
  return false;
}

/** Names a source's mirrors would take: its own, and a native target-name. For conflict triggers. */
export function targetNames(meta: ObjectMeta): string[] {
  if (!isSource(meta)) return [];
  const custom = meta.annotations[native.targetName]?.trim();
  return custom !== undefined && custom !== '' && custom !== meta.name ? [meta.name, custom] : [meta.name];
}

/**
 * A mirror or a pull target holds data another source gave it; pushing it on, or consenting to
 * it being pulled, would carry that data where its source never agreed to. Such an object's
 * source rules are dropped and reported (no chains).
 */
function withoutChains(kind: Kind, meta: ObjectMeta, spec: SourceSpec): SourceSpec {
  if (spec.push.length === 0 && spec.consent.length === 0) return spec;
  const relayed =
    mirrorClaim(kind, meta.labels, meta.annotations) !== undefined ||
    targetOf(kind, meta.annotations).pull !== undefined;
  if (!relayed) return spec;
  const rule = spec.push[0] ?? spec.consent[0];
  return {
    ...spec,
    push: [],
    consent: [],
    problems: [
      ...spec.problems,
      {
        dialect: rule?.dialect ?? 'native',
        annotation: SOURCE_KEYS.find((key) => Object.hasOwn(meta.annotations, key)) ?? 'annotations',
        message:
          'this object is a mirror or a pull target, so it cannot be a source too: its data came from another source, whose consent a chain would bypass',
      },
    ],
  };
}

const NO_CONTENT: SourceContent = { type: undefined, data: {}, binaryData: {} };

/**
 * A source's content as the planner sees it: a Secret's type and data, a ConfigMap's data and
 * binaryData, or an identity kind's content fields as canonical JSON by field name (see
 * SourceContent). Nothing else of a Role, RoleBinding or ServiceAccount is kept.
 */
export function contentOf(kind: Kind, raw: RawObject): SourceContent {
  if (!isIdentityKind(kind)) {
    return { type: raw.type, data: raw.data ?? {}, binaryData: raw.binaryData ?? {} };
  }
  const fields: Readonly<Record<string, unknown>> = {
    rules: raw.rules ?? [],
    subjects: raw.subjects ?? [],
    roleRef: raw.roleRef,
    imagePullSecrets: raw.imagePullSecrets ?? [],
  };
  const data: Record<string, string> = {};
  for (const field of CONTENT_FIELDS_OF[kind]) {
    const value = asCanonical(fields[field]);
    if (value !== undefined) data[field] = canonicalJson(value);
  }
  return { type: undefined, data, binaryData: {} };
}

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
   * false (a namespace the operator excluded). `named`: a ClusterMirror or Mirror names it, so it
   * is a source whatever its annotations say.
   */
  async read(
    kind: Kind,
    resource: Resource,
    meta: ObjectMeta,
    readable = true,
    named = false,
  ): Promise<SourceState | undefined> {
    const key = `${kind}/${meta.namespace}/${meta.name}`;
    const cached = this.cache.get(key);
    if (cached?.resourceVersion === meta.resourceVersion && cached.state.meta.uid === meta.uid)
      return cached.state;
    if ((!isSource(meta) && !named) || !readable) {
      // Not (or no longer) a source, or in a namespace nsync must not read from: the planner needs
      // its annotations to decide (orphans, refusals), never its data.
      this.cache.delete(key);
      return {
        meta,
        content: NO_CONTENT,
        spec: withoutChains(
          kind,
          meta,
          parseSource(kind, meta.namespace, meta.name, meta.annotations, undefined),
        ),
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
    const fresh = toObjectMeta(kind, raw, named);
    const state: SourceState = {
      meta: fresh,
      content: contentOf(kind, raw),
      spec: withoutChains(
        kind,
        fresh,
        parseSource(kind, fresh.namespace, fresh.name, fresh.annotations, raw.type),
      ),
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
