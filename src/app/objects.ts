/**
 * Turns API objects into the compact records the caches keep. Memory must not grow with the
 * cluster's unrelated Secrets: an object that carries no marker of any dialect keeps only its
 * identity (enough to detect a same-named conflict), never its labels or annotations.
 */
import type { RawManagedFields, RawObject } from '../kube/resources.ts';
import { FIELD_MANAGER } from '../kube/writer.ts';
import type { ForeignWrite, ObjectMeta } from '../plan/model.ts';
import { compareText, defersToManagedFields, ownValue } from '../plan/render.ts';
import { RecordInterner, StringInterner } from '../runtime/intern.ts';
import { ACCEPT_FROM_ANNOTATION, hasDialectKey, owned, replicator } from '../rules/markers.ts';
import { ALL_KINDS, CONTENT_FIELDS_OF } from '../rules/kinds.ts';
import type { Kind, NamespaceInfo, TargetSpec } from '../rules/model.ts';
import { parseTarget } from '../rules/parse.ts';

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
const NO_OWNERS: ObjectMeta['ownerReferences'] = Object.freeze([]);

/**
 * Top-level fields whose last writer decides whether the content is still nsync's: a Secret's or
 * ConfigMap's data, and the identity kinds' content fields (rules/kinds.ts). A ServiceAccount's
 * `secrets` and `automountServiceAccountToken` are not content: others write them.
 */
const CONTENT_FIELDS = [
  'f:data',
  'f:binaryData',
  'f:type',
  'f:stringData',
  'f:immutable',
  ...new Set(
    Object.values(CONTENT_FIELDS_OF)
      .flat()
      .map((field) => `f:${field}`),
  ),
];

/**
 * Whether someone other than nsync wrote the content since nsync last did. nsync resets
 * managedFields on every write, so any other manager owning a content field means a change that
 * the content-hash annotation cannot vouch for (docs/adr/0004).
 */
export function contentWrittenByOthers(managedFields: readonly RawManagedFields[] | undefined): boolean {
  if (managedFields === undefined) return false;
  return managedFields.some(
    (entry) =>
      entry.manager !== FIELD_MANAGER &&
      entry.fieldsV1 !== undefined &&
      CONTENT_FIELDS.some((field) => Object.hasOwn(entry.fieldsV1 ?? {}, field)),
  );
}

/**
 * Who other than nsync wrote an object nsync manages since nsync's own last write (which resets
 * managedFields to nsync's entry alone), and when the latest of them did; undefined when nobody
 * did, so the records of untouched mirrors stay small. Tells a restore after someone else's change
 * apart from an ordinary update, and dates that change (plan/contest.ts).
 */
export function foreignWriteOf(
  managedFields: readonly RawManagedFields[] | undefined,
): ForeignWrite | undefined {
  const managers = new Set<string>();
  let at = '';
  for (const entry of managedFields ?? []) {
    if (entry.manager === FIELD_MANAGER) continue;
    managers.add(names.intern(entry.manager ?? '(unnamed)'));
    if (entry.time !== undefined && entry.time > at) at = entry.time;
  }
  return managers.size === 0 ? undefined : { managers: [...managers].sort(compareText), at };
}

/** The content keys (data and binaryData) nsync's own managedFields entries name. */
export function keysWrittenByNsync(managedFields: readonly RawManagedFields[] | undefined): string[] {
  const keys = new Set<string>();
  for (const entry of managedFields ?? []) {
    if (entry.manager !== FIELD_MANAGER) continue;
    for (const field of ['f:data', 'f:binaryData']) {
      const map = entry.fieldsV1?.[field];
      if (typeof map !== 'object' || map === null) continue;
      for (const name of Object.keys(map)) if (name.startsWith('f:')) keys.add(name.slice(2));
    }
  }
  return [...keys].sort(compareText);
}

/**
 * The keys nsync wrote, for a record whose key-list marker defers to managedFields (a list over
 * its annotation budget); undefined for every other record, which the markers describe.
 */
function writtenKeysOf(
  annotations: Readonly<Record<string, string>>,
  managedFields: readonly RawManagedFields[] | undefined,
): { writtenKeys?: readonly string[] } {
  const defers =
    defersToManagedFields(ownValue(annotations, owned.copiedKeys)) ||
    defersToManagedFields(ownValue(annotations, replicator.replicatedKeys));
  return defers ? { writtenKeys: keysWrittenByNsync(managedFields) } : {};
}

/** Whether nsync needs an object's labels and annotations (it is a source, mirror or pull target). */
export function isRelevant(raw: RawObject): boolean {
  const labels = raw.metadata.labels ?? EMPTY;
  const annotations = raw.metadata.annotations ?? EMPTY;
  return (
    labels[owned.managedByLabel] === owned.managedByValue ||
    hasDialectKey(annotations) ||
    hasDialectKey(labels)
  );
}

/** kubectl's last-applied-configuration of a Secret holds its data: never kept in memory. */
function withoutLastApplied(annotations: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  if (!Object.hasOwn(annotations, 'kubectl.kubernetes.io/last-applied-configuration')) return annotations;
  const { ['kubectl.kubernetes.io/last-applied-configuration']: _dropped, ...rest } = annotations;
  return rest;
}

/**
 * Equal names, namespaces, labels and annotations share one instance across records: a source's
 * mirrors all carry the same name and markers (see runtime/intern.ts).
 */
const names = new StringInterner(16_384);
const maps = new RecordInterner(4_096);

/** A label or annotation map as the cache keeps it: shared when equal, EMPTY when empty. */
function shared(map: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> {
  if (map === undefined) return EMPTY;
  for (const _key in map) return maps.intern(map);
  return EMPTY;
}

/**
 * The compact cache record of a Secret or ConfigMap (from full or metadata-only objects).
 * `keepMetadata` keeps labels and annotations of an object that carries no marker: a source that
 * only a ClusterMirror or Mirror names, whose labels a rule may copy.
 */
export function toObjectMeta(kind: Kind, raw: RawObject, keepMetadata = false): ObjectMeta {
  const metadata = raw.metadata;
  const relevant = keepMetadata || isRelevant(raw);
  const foreignWrite =
    relevant && metadata.labels?.[owned.managedByLabel] === owned.managedByValue
      ? foreignWriteOf(metadata.managedFields)
      : undefined;
  return {
    kind,
    namespace: names.intern(metadata.namespace ?? ''),
    name: names.intern(metadata.name),
    uid: metadata.uid,
    resourceVersion: metadata.resourceVersion,
    labels: relevant ? shared(metadata.labels) : EMPTY,
    annotations: relevant ? shared(withoutLastApplied(metadata.annotations ?? EMPTY)) : EMPTY,
    ownerReferences: relevant ? (metadata.ownerReferences ?? NO_OWNERS) : NO_OWNERS,
    contentForeign: relevant && contentWrittenByOthers(metadata.managedFields),
    deleting: metadata.deletionTimestamp !== undefined,
    ...(relevant ? writtenKeysOf(metadata.annotations ?? EMPTY, metadata.managedFields) : {}),
    ...(foreignWrite === undefined ? {} : { foreignWrite }),
  };
}

/** A namespace as the planner sees it; a deletionTimestamp means Terminating. */
export function toNamespaceInfo(raw: RawObject): NamespaceInfo {
  const acceptFrom = ownValue(raw.metadata.annotations ?? EMPTY, ACCEPT_FROM_ANNOTATION);
  return {
    name: raw.metadata.name,
    labels: raw.metadata.labels ?? EMPTY,
    terminating: raw.metadata.deletionTimestamp !== undefined || raw.status?.phase === 'Terminating',
    ...(acceptFrom === undefined ? {} : { acceptFrom }),
  };
}

/** `<namespace>/<name>`: the key of namespaced objects in the caches. */
export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** `<Kind>/<namespace>/<name>`: the work-queue key of a source. */
export function sourceQueueKey(kind: Kind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

/** Splits a work-queue key; undefined for a malformed one. */
export function parseSourceQueueKey(
  key: string,
): { kind: Kind; namespace: string; name: string } | undefined {
  const [kind, namespace, name, ...rest] = key.split('/');
  if (rest.length > 0 || namespace === undefined || name === undefined) return undefined;
  const known = ALL_KINDS.find((candidate) => candidate === kind);
  if (known === undefined) return undefined;
  return { kind: known, namespace, name };
}

/** `Target/<Kind>/<namespace>/<name>`: the work-queue key that reports a pull target's own problems. */
export function targetQueueKey(kind: Kind, namespace: string, name: string): string {
  return `Target/${kind}/${namespace}/${name}`;
}

/** Splits a target queue key; undefined when it is not one. */
export function parseTargetQueueKey(
  key: string,
): { kind: Kind; namespace: string; name: string } | undefined {
  return key.startsWith('Target/') ? parseSourceQueueKey(key.slice('Target/'.length)) : undefined;
}

const NO_TARGET: TargetSpec = Object.freeze({ pull: undefined, problems: [] });
const targets = new WeakMap<Readonly<Record<string, string>>, TargetSpec>();

/**
 * What an object's annotations ask of it as a pull target. Each object version has one immutable
 * annotations map, read by the indexes, the triggers and reconcile alike: parsed once per version.
 */
export function targetOf(kind: Kind, annotations: Readonly<Record<string, string>>): TargetSpec {
  if (Object.keys(annotations).length === 0) return NO_TARGET;
  let spec = targets.get(annotations);
  if (spec === undefined) {
    spec = parseTarget(kind, annotations);
    targets.set(annotations, spec);
  }
  return spec;
}
