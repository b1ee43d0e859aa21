/**
 * Turns a source into what its mirrors and pull targets should hold: the full body of a push
 * mirror (written with create or replace) and the JSON merge patch of a pull target. Also says
 * whether an existing object already matches, so unchanged mirrors cost no write.
 *
 * Pure: no I/O, no Kubernetes client.
 */
import { DEFAULT_COPY_POLICY, type CopyPolicy } from '../rules/copy-policy.ts';
import { isMarkerKey, isNeverCopied, kubed, owned, reflector, replicator } from '../rules/markers.ts';
import { apiVersionOf, CONTENT_FIELDS_OF, isIdentityKind, PULLED_FIELDS_OF } from '../rules/kinds.ts';
import type { Dialect, Kind, PushRule } from '../rules/model.ts';
import {
  canonicalJson,
  contentHash,
  parseCanonical,
  type CanonicalValue,
  type HashableContent,
} from './hash.ts';
import type {
  MirrorBody,
  ObjectMeta,
  OwnerReference,
  PullPatch,
  PullTarget,
  SourceContent,
  SourceState,
} from './model.ts';

type StringMap = Readonly<Record<string, string>>;

/**
 * Markers written on every write that never, by themselves, make a mirror out of date: they
 * change with every source resourceVersion or every write time, so comparing them would turn each
 * unrelated edit of the source (or each resync) into a write on every mirror.
 */
export const VOLATILE_MARKERS: ReadonlySet<string> = new Set([
  reflector.reflectedVersion,
  reflector.reflectedAt,
  replicator.replicatedAt,
  replicator.replicatedFromVersion,
  kubed.origin,
]);

/** Whether a marker key is volatile (see VOLATILE_MARKERS). */
export function isVolatileMarker(key: string): boolean {
  return VOLATILE_MARKERS.has(key);
}

/**
 * A record's own value for a key. Plain `record[key]` would return inherited members such as
 * `toString` for keys users may legitimately choose (data keys, label keys).
 */
export function ownValue<T = string>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Code-unit order: the same on every machine, unlike localeCompare. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorted, de-duplicated comma list: the shape of copied-keys and replicated-keys markers. */
export function formatKeyList(keys: Iterable<string>): string {
  return [...new Set(keys)].sort(compareText).join(',');
}

/**
 * The longest key list written into one annotation. The API server refuses an object whose
 * annotations together exceed 256 KiB; a pull target can carry three lists (copied-keys,
 * replicated-keys, own-keys) beside its owner's annotations, so each gets an eighth.
 */
export const KEY_LIST_BUDGET = 32 * 1024;

/**
 * A key-list marker as written: the comma list, or — when that outgrows KEY_LIST_BUDGET — a note
 * that the list is nsync's own managedFields entry, which names exactly the content keys nsync
 * wrote (kube/writer.ts). Parentheses and spaces never occur in a data key, so the note cannot be
 * read as one.
 */
export function recordedKeyList(keys: Iterable<string>): string {
  const list = formatKeyList(keys);
  if (list.length <= KEY_LIST_BUDGET) return list;
  return `(${String(list.split(',').length)} keys, listed in nsync's managedFields)`;
}

/** Whether a key-list marker defers to managedFields (see recordedKeyList). */
export function defersToManagedFields(value: string | undefined): boolean {
  return value?.startsWith('(') === true;
}

/** Reads a comma list marker: entries trimmed, empty entries dropped; absent = empty. */
export function parseKeyList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** `<namespace>/<name>`, the reference format every dialect's back-reference uses. */
export function formatRef(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Keeps only the listed keys of a map (all of them when `keys` is undefined). */
function pickKeys(map: StringMap, keys: ReadonlySet<string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(map).filter(([key]) => keys === undefined || keys.has(key)));
}

/**
 * The source's content restricted to the keys a rule asks for. Keys the source lacks are simply
 * absent: a rule listing a key that is not there yet copies it once it appears.
 */
export function selectContent(content: SourceContent, keys: readonly string[] | undefined): HashableContent {
  const wanted = keys === undefined ? undefined : new Set(keys);
  return {
    type: content.type,
    data: pickKeys(content.data, wanted),
    binaryData: pickKeys(content.binaryData, wanted),
  };
}

/** Every key of a content, data and binaryData together, sorted. */
export function contentKeys(content: HashableContent): string[] {
  return [...new Set([...Object.keys(content.data), ...Object.keys(content.binaryData)])].sort(compareText);
}

/** Later maps win; built with fromEntries so that a `__proto__` key stays an ordinary key. */
function overlay(...layers: StringMap[]): Record<string, string> {
  return Object.fromEntries(layers.flatMap((layer) => Object.entries(layer)));
}

/**
 * The labels or annotations of a source that may travel to a mirror: never markers or tracking
 * metadata (isNeverCopied), and nothing the copy policy denies.
 */
function copyable(map: StringMap, policy: CopyPolicy): Record<string, string> {
  return Object.fromEntries(
    Object.entries(map).filter(([key]) => !isNeverCopied(key) && !policy.denies(key)),
  );
}

/**
 * The keys of a source's labels or annotations that a copying rule leaves behind, except the
 * dialects' own markers (which are never meant to travel): what the source is told about.
 */
export function droppedKeys(map: StringMap, policy: CopyPolicy): string[] {
  return Object.keys(map)
    .filter((key) => !isMarkerKey(key) && (isNeverCopied(key) || policy.denies(key)))
    .sort(compareText);
}

const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/**
 * Whether a string may be a label value. Object names may be up to 253 characters, label values
 * only 63: kubed's origin.name label is left out for longer names rather than failing the write.
 */
export function isValidLabelValue(value: string): boolean {
  return LABEL_VALUE.test(value);
}

/**
 * Labels a dialect puts on the mirrors it makes (only kubed has any): kubed's origin labels, with
 * `origin.cluster` only when this cluster has a name (kubed writes it from `--cluster-name`).
 */
function dialectLabels(dialect: Dialect, source: ObjectMeta, clusterName: string): Record<string, string> {
  switch (dialect) {
    case 'native':
    case 'reflector':
    case 'replicator':
      return {};
    case 'kubed': {
      const origin: [string, string][] = [
        [kubed.originName, source.name],
        [kubed.originNamespace, source.namespace],
        ...(clusterName === '' ? [] : [[kubed.originCluster, clusterName] as [string, string]]),
      ];
      return Object.fromEntries(origin.filter(([, value]) => isValidLabelValue(value)));
    }
  }
}

/** What a marker needs to know about the write being rendered. */
interface MarkerContext {
  readonly source: ObjectMeta;
  readonly keys: string;
  readonly now: string;
}

/** Annotations a dialect puts on the push mirrors it makes, so its tools keep recognising them. */
function dialectPushAnnotations(dialect: Dialect, context: MarkerContext): Record<string, string> {
  const { source, keys, now } = context;
  switch (dialect) {
    case 'native':
      return {};
    case 'reflector':
      return {
        [reflector.reflects]: formatRef(source.namespace, source.name),
        [reflector.autoReflects]: 'True',
        [reflector.reflectedVersion]: source.resourceVersion,
        [reflector.reflectedAt]: now,
      };
    case 'replicator':
      return {
        [replicator.replicatedAt]: now,
        [replicator.replicatedFromVersion]: source.resourceVersion,
        [replicator.replicatedKeys]: keys,
      };
    case 'kubed':
      return {
        [kubed.origin]: JSON.stringify({
          apiVersion: 'v1',
          kind: source.kind,
          name: source.name,
          namespace: source.namespace,
          uid: source.uid,
          resourceVersion: source.resourceVersion,
        }),
      };
  }
}

/** Annotations a dialect writes on a pull target it fills (all volatile except the key list). */
function dialectPullAnnotations(dialect: Dialect, context: MarkerContext): Record<string, string> {
  const { source, keys, now } = context;
  switch (dialect) {
    case 'native':
    case 'kubed':
      return {};
    case 'reflector':
      return { [reflector.reflectedVersion]: source.resourceVersion, [reflector.reflectedAt]: now };
    case 'replicator':
      return {
        [replicator.replicatedAt]: now,
        [replicator.replicatedFromVersion]: source.resourceVersion,
        [replicator.replicatedKeys]: keys,
      };
  }
}

/** What renderMirror() needs: one source, one rule, one target namespace and what is there now. */
export interface MirrorInput {
  readonly source: SourceState;
  readonly rule: PushRule;
  /** The target namespace. */
  readonly namespace: string;
  /** The mirror already at namespace/rule.targetName, when updating. */
  readonly existing: ObjectMeta | undefined;
  /** ISO-8601 time for the dialects' "…-at" markers. */
  readonly now: string;
  /** This cluster's name (Guardrails.clusterName): kubed mirrors' `origin.cluster` label; '' = none. */
  readonly clusterName: string;
  /** Which labels and annotations may be copied (Guardrails.copyPolicy). @default the built-in list */
  readonly copyPolicy?: CopyPolicy;
  /** The mirror goes into another cluster: it names this one (`nsync.dev/source-cluster`). @default false */
  readonly remote?: boolean;
}

/** A push mirror as it should be, and the hash recorded on it. */
export interface RenderedMirror {
  readonly body: MirrorBody;
  readonly hash: string;
}

/**
 * ownerReferences of the body: the source's when the rule copies them; otherwise the existing
 * mirror's, passed through so that a replace does not strip references someone else set.
 */
function mirrorOwnerReferences(input: MirrorInput): readonly OwnerReference[] | undefined {
  if (input.rule.copy.ownerReferences) return input.source.meta.ownerReferences;
  const kept = input.existing?.ownerReferences ?? [];
  return kept.length > 0 ? kept : undefined;
}

/**
 * The structured fields of an identity kind's content (canonical JSON by field name, see
 * SourceContent) as body members; a field the source lacks, or that is not JSON, is left out.
 */
export function structuredFields(fields: readonly string[], data: StringMap): Record<string, CanonicalValue> {
  const members: Record<string, CanonicalValue> = {};
  for (const field of fields) {
    const text = ownValue(data, field);
    const value = text === undefined ? undefined : parseCanonical(text);
    if (value !== undefined) members[field] = value;
  }
  return members;
}

/**
 * The kind-dependent content fields of a body: Secrets have a type, ConfigMaps binaryData, the
 * identity kinds their structured fields.
 */
function contentFields(
  kind: Kind,
  content: HashableContent,
): Pick<MirrorBody, 'type' | 'data' | 'binaryData' | 'rules' | 'subjects' | 'roleRef' | 'imagePullSecrets'> {
  switch (kind) {
    case 'Secret':
      return content.type === undefined ? { data: content.data } : { type: content.type, data: content.data };
    case 'ConfigMap':
      return { data: content.data, binaryData: content.binaryData };
    case 'Role':
    case 'RoleBinding':
    case 'ServiceAccount':
      return structuredFields(CONTENT_FIELDS_OF[kind], content.data);
  }
}

/**
 * The selected content of a source, its hash and key list, computed once per source content and
 * key selection: a fan-out renders the same content for every namespace, and hashing it again
 * each time was most of the planner's cost. Memoised on the content object, so still pure.
 */
const selections = new WeakMap<
  SourceContent,
  Map<string, { content: HashableContent; hash: string; keys: string }>
>();

function selectedFor(
  source: SourceState,
  keys: readonly string[] | undefined,
): { content: HashableContent; hash: string; keys: string } {
  let byKeys = selections.get(source.content);
  if (byKeys === undefined) {
    byKeys = new Map();
    selections.set(source.content, byKeys);
  }
  // An identity kind's content is its fields, whole: a key selection does not apply.
  const selectionKey = keys === undefined || isIdentityKind(source.meta.kind) ? '*' : JSON.stringify(keys);
  let selected = byKeys.get(selectionKey);
  if (selected === undefined) {
    const content = selectContent(source.content, selectionKey === '*' ? undefined : keys);
    // Every mirror of the fan-out gets these same maps; frozen, the transport encodes them once
    // (kube/json-payload.ts), and nothing can change one mirror's content through another's.
    Object.freeze(content.data);
    Object.freeze(content.binaryData);
    selected = {
      content,
      hash: contentHash(source.meta.kind, content),
      keys: recordedKeyList(contentKeys(content)),
    };
    byKeys.set(selectionKey, selected);
  }
  return selected;
}

/**
 * The desired push mirror. Labels and annotations already on an existing mirror are kept (a
 * user's annotations survive); the source's are laid over them when the rule copies them, then
 * nsync's ownership markers and the rule dialect's markers. On updates the existing
 * resourceVersion is included, so a concurrent change makes the write fail instead of being lost.
 */
export function renderMirror(input: MirrorInput): RenderedMirror {
  const { source, rule, existing } = input;
  const kind = source.meta.kind;
  const policy = input.copyPolicy ?? DEFAULT_COPY_POLICY;
  const { content, hash, keys } = selectedFor(source, rule.copy.keys);
  const markers: MarkerContext = {
    source: source.meta,
    keys,
    now: input.now,
  };
  const labels = overlay(
    existing?.labels ?? {},
    rule.copy.labels ? copyable(source.meta.labels, policy) : {},
    { [owned.managedByLabel]: owned.managedByValue },
    // In another cluster every mirror carries kubed's origin labels, whatever its rule's dialect:
    // the remote mirror watch selects on origin.cluster (docs/adr/0018, 0022).
    dialectLabels(input.remote === true ? 'kubed' : rule.dialect, source.meta, input.clusterName),
  );
  const annotations = overlay(
    existing?.annotations ?? {},
    rule.copy.annotations ? copyable(source.meta.annotations, policy) : {},
    {
      [owned.source]: formatRef(source.meta.namespace, source.meta.name),
      [owned.sourceUid]: source.meta.uid,
      [owned.contentHash]: hash,
      ...(input.remote === true ? { [owned.sourceCluster]: input.clusterName } : {}),
    },
    dialectPushAnnotations(rule.dialect, markers),
  );
  const ownerReferences = mirrorOwnerReferences(input);
  const body: MirrorBody = {
    apiVersion: apiVersionOf(kind),
    kind,
    metadata: {
      name: rule.targetName,
      namespace: input.namespace,
      labels,
      annotations,
      ...(ownerReferences === undefined ? {} : { ownerReferences }),
      ...(existing === undefined ? {} : { resourceVersion: existing.resourceVersion }),
    },
    ...contentFields(kind, content),
  };
  return { body, hash };
}

/** The first key whose desired value the existing map lacks, ignoring volatile markers. */
function firstDifference(desired: StringMap, existing: StringMap): string | undefined {
  return Object.keys(desired)
    .sort(compareText)
    .find((key) => !isVolatileMarker(key) && ownValue(existing, key) !== ownValue(desired, key));
}

/**
 * Reflector's documented knob: `reflected-version: ""` set by hand forces a re-sync. Honoured only
 * when this write sets a non-empty version, otherwise the knob could never be cleared and every
 * plan would write again.
 */
function forcedResync(existing: StringMap, desired: Readonly<Record<string, string | null>>): boolean {
  const wanted = ownValue(desired, reflector.reflectedVersion);
  return ownValue(existing, reflector.reflectedVersion) === '' && wanted !== undefined && wanted !== '';
}

/** Why a recorded content hash does not vouch for the content, or undefined when it does. */
function contentStaleness(hash: string, existing: ObjectMeta): string | undefined {
  const recorded = ownValue(existing.annotations, owned.contentHash);
  if (recorded === undefined) return 'it carries no content hash yet';
  if (recorded !== hash) return "the source's content changed";
  if (existing.contentForeign) return 'someone else changed its content';
  return undefined;
}

/**
 * Why an existing push mirror is out of date, in words, or undefined when it already matches
 * (no write needed). Volatile markers never count; the content is judged by the recorded hash
 * alone, since the metadata cache holds no data.
 */
export function mirrorStaleness(rendered: RenderedMirror, existing: ObjectMeta): string | undefined {
  const { metadata } = rendered.body;
  const content = contentStaleness(rendered.hash, existing);
  if (content !== undefined) return content;
  if (forcedResync(existing.annotations, metadata.annotations)) {
    return 'its reflected-version marker was cleared to force a re-sync';
  }
  const label = firstDifference(metadata.labels, existing.labels);
  if (label !== undefined) return `its label "${label}" is missing or differs`;
  const annotation = firstDifference(metadata.annotations, existing.annotations);
  if (annotation !== undefined) return `its annotation "${annotation}" is missing or differs`;
  const wantedOwners = metadata.ownerReferences ?? [];
  if (canonicalJson(toCanonical(wantedOwners)) !== canonicalJson(toCanonical(existing.ownerReferences))) {
    return 'its owner references differ';
  }
  return undefined;
}

/** Owner references as plain JSON data, for comparison. */
function toCanonical(
  references: readonly OwnerReference[],
): { [key: string]: string | boolean | undefined }[] {
  return references.map((reference) => ({ ...reference }));
}

/** What renderPullPatch() needs: the source, the target asking for it, and the time. */
export interface PullInput {
  readonly source: SourceState;
  readonly target: PullTarget;
  /** ISO-8601 time for the dialects' "…-at" markers. */
  readonly now: string;
}

/** A pull target's merge patch, the hash it records, and what it records about keys. */
export interface RenderedPull {
  readonly patch: PullPatch;
  readonly hash: string;
  /** The owned.copiedKeys marker as written (recordedKeyList of the keys written). */
  readonly copiedKeys: string;
  /** The owned.ownKeys marker as written; '' when the target keeps none of the source's keys. */
  readonly ownKeys: string;
  /** The source's keys left alone because the target holds them of its own. */
  readonly kept: readonly string[];
  /**
   * Keys this patch would write that the target never got from nsync and that are not known to
   * be its own: the target's data must be read first (PullTarget.held). Empty once `held` is set.
   */
  readonly unverified: readonly string[];
}

/** One key-list marker of a target, with a list deferred to managedFields resolved. */
function recordedKeys(target: ObjectMeta, marker: string): string[] {
  const value = ownValue(target.annotations, marker);
  return defersToManagedFields(value) ? [...(target.writtenKeys ?? [])] : parseKeyList(value);
}

/** Keys nsync (or replicator before it) copied into a target earlier, from its markers. */
export function previouslyCopiedKeys(target: ObjectMeta): Set<string> {
  return new Set([
    ...recordedKeys(target, owned.copiedKeys),
    ...recordedKeys(target, replicator.replicatedKeys),
  ]);
}

/**
 * Whether reflector filled this `reflects` target and nsync never has: reflector records no key
 * list, but it replaces a target's data wholesale, so whatever source keys it holds are reflector's
 * copies, not the target's own — taken over like keys nsync copied.
 */
function filledByReflector(target: PullTarget): boolean {
  return (
    target.request.dialect === 'reflector' &&
    ownValue(target.meta.annotations, reflector.reflectedVersion) !== undefined &&
    ownValue(target.meta.annotations, owned.copiedKeys) === undefined
  );
}

/**
 * The keys a target is known to have of its own: read just now (`held`), else as recorded at the
 * last write. A record deferred to managedFields (over budget) knows nothing: nsync's entry
 * names only the keys nsync wrote, so the target is read again instead.
 */
function knownOwnKeys(target: PullTarget): ReadonlySet<string> {
  if (target.held !== undefined) return target.held;
  const value = ownValue(target.meta.annotations, owned.ownKeys);
  return new Set(defersToManagedFields(value) ? [] : parseKeyList(value));
}

/** Drops the listed keys from a map. */
function withoutKeys(map: StringMap, keys: ReadonlySet<string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).filter(([key]) => !keys.has(key)));
}

/**
 * One map of the merge patch: the values written plus `null` for every key copied earlier that
 * this map no longer receives. A key written here is never nulled here.
 */
function mergeMap(written: StringMap, previous: ReadonlySet<string>): Record<string, string | null> {
  const removed = [...previous].filter((key) => !Object.hasOwn(written, key)).sort(compareText);
  return Object.fromEntries([
    ...removed.map((key): [string, null] => [key, null]),
    ...Object.entries(written),
  ]);
}

/**
 * The merge patch that fills a pull target: the source's (selected) keys, `null` for keys copied
 * earlier that the source no longer gives, and the markers. A pull target is someone's own object
 * (docs/adr/0003): a source key the target already held with a value before nsync ever copied it
 * is the target's own and is neither overwritten nor, later, removed — otherwise whoever controls
 * the source could replace any key of the objects that pull from it (docs/adr/0009). An empty
 * value is a placeholder to fill (replicator's TLS recipe). The target's type is never written
 * (it is immutable, and replicator's TLS recipe pre-creates the target with its type). For
 * ConfigMaps, a copied key that moved between data and binaryData is nulled in the map it left,
 * or the API would reject the duplicate.
 */
export function renderPullPatch(input: PullInput): RenderedPull {
  const { source, target } = input;
  const kind = source.meta.kind;
  if (isIdentityKind(kind)) return renderIdentityPull(input, PULLED_FIELDS_OF[kind]);
  const selected = selectContent(source.content, target.request.keys);
  const previous = previouslyCopiedKeys(target.meta);
  if (filledByReflector(target)) for (const key of contentKeys(selected)) previous.add(key);
  const ownKnown = knownOwnKeys(target);
  const fresh = contentKeys(selected).filter((key) => !previous.has(key));
  const kept = fresh.filter((key) => ownKnown.has(key));
  const unverified = target.held === undefined ? fresh.filter((key) => !ownKnown.has(key)) : [];
  const keptSet = new Set(kept);
  const content: HashableContent = {
    type: undefined,
    data: withoutKeys(selected.data, keptSet),
    binaryData: withoutKeys(selected.binaryData, keptSet),
  };
  const hash = contentHash(kind, content);
  const copiedKeys = recordedKeyList(contentKeys(content));
  const ownKeys = kept.length === 0 ? '' : recordedKeyList(kept);
  const hadOwnKeys = ownValue(target.meta.annotations, owned.ownKeys) !== undefined;
  const markers: MarkerContext = { source: source.meta, keys: copiedKeys, now: input.now };
  const patch: PullPatch = {
    metadata: {
      resourceVersion: target.meta.resourceVersion,
      annotations: {
        [owned.contentHash]: hash,
        [owned.copiedKeys]: copiedKeys,
        ...(ownKeys !== '' ? { [owned.ownKeys]: ownKeys } : hadOwnKeys ? { [owned.ownKeys]: null } : {}),
        ...dialectPullAnnotations(target.request.dialect, markers),
      },
    },
    data: mergeMap(content.data, previous),
    ...(kind === 'ConfigMap' ? { binaryData: mergeMap(content.binaryData, previous) } : {}),
  };
  return { patch, hash, copiedKeys, ownKeys, kept, unverified };
}

/**
 * The merge patch that fills a pull target of an identity kind: its pulled fields whole (a JSON
 * merge patch replaces arrays), the hash and the markers. No key merging: a Role's rules or a
 * binding's subjects are one value, and nothing else of the target is touched — a ServiceAccount's
 * `secrets`, a binding's roleRef (immutable, the target's creator chose it).
 */
function renderIdentityPull(input: PullInput, fields: readonly string[]): RenderedPull {
  const { source, target } = input;
  const data = Object.fromEntries(
    fields.flatMap((field) => {
      const value = ownValue(source.content.data, field);
      return value === undefined ? [] : [[field, value] as const];
    }),
  );
  const content: HashableContent = { type: undefined, data, binaryData: {} };
  const hash = contentHash(source.meta.kind, content);
  const copiedKeys = formatKeyList(fields);
  const markers: MarkerContext = { source: source.meta, keys: copiedKeys, now: input.now };
  const patch: PullPatch = {
    metadata: {
      resourceVersion: target.meta.resourceVersion,
      annotations: {
        [owned.contentHash]: hash,
        [owned.copiedKeys]: copiedKeys,
        ...dialectPullAnnotations(target.request.dialect, markers),
      },
    },
    ...structuredFields(fields, data),
  };
  return { patch, hash, copiedKeys, ownKeys: '', kept: [], unverified: [] };
}

/** Annotations after a merge patch's annotations are applied: `null` removes, strings set. */
export function mergedAnnotations(
  existing: StringMap,
  patch: Readonly<Record<string, string | null>>,
): Record<string, string> {
  const removed = new Set(Object.keys(patch).filter((key) => patch[key] === null));
  return Object.fromEntries([
    ...Object.entries(existing).filter(([key]) => !removed.has(key) && !Object.hasOwn(patch, key)),
    ...Object.entries(patch).filter((entry): entry is [string, string] => entry[1] !== null),
  ]);
}

/**
 * Why a pull target is out of date, in words, or undefined when it already holds the source's
 * selected content (no write needed). Volatile markers never count.
 */
export function pullStaleness(rendered: RenderedPull, target: PullTarget): string | undefined {
  const content = contentStaleness(rendered.hash, target.meta);
  if (content !== undefined) return content;
  if (ownValue(target.meta.annotations, owned.copiedKeys) !== rendered.copiedKeys) {
    return 'its record of copied keys differs';
  }
  if ((ownValue(target.meta.annotations, owned.ownKeys) ?? '') !== rendered.ownKeys) {
    return 'its record of its own keys differs';
  }
  if (forcedResync(target.meta.annotations, rendered.patch.metadata.annotations)) {
    return 'its reflected-version marker was cleared to force a re-sync';
  }
  return undefined;
}
