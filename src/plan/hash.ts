/**
 * The content hash recorded on every mirror and pull target. The metadata cache never holds data,
 * so this hash is how the planner knows, without reading a single Secret value, that a mirror
 * already holds what its source would give it.
 *
 * Pure: node:crypto only.
 */
import { createHash } from 'node:crypto';
import type { Kind } from '../rules/model.ts';

/**
 * Prefix of every hashed input. Bumping the version makes every recorded hash stale at once,
 * which is the intended way to force one re-write of all mirrors after a change of what is hashed.
 */
export const CONTENT_HASH_DOMAIN = 'nsync.dev/content-hash/v1';

/** The fields of a Secret or ConfigMap that make up its content, after key selection. */
export interface HashableContent {
  /** Secret type; undefined for ConfigMaps (and for pull targets, whose type nsync never writes). */
  readonly type: string | undefined;
  readonly data: Readonly<Record<string, string>>;
  readonly binaryData: Readonly<Record<string, string>>;
}

/** A JSON value that canonicalJson() can serialise. */
export type CanonicalValue =
  | string
  | number
  | boolean
  | null
  | readonly CanonicalValue[]
  | { readonly [key: string]: CanonicalValue | undefined };

/** Code-unit order: the same on every machine, unlike localeCompare. */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * JSON with object keys sorted and no whitespace, so that two equal values always serialise to
 * the same string whatever order their keys were inserted in. Undefined object members are
 * dropped, as JSON.stringify does.
 */
export function canonicalJson(value: CanonicalValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  const members = Object.keys(value)
    .sort(compareCodeUnits)
    .flatMap((key) => {
      const member = value[key];
      return member === undefined ? [] : [`${JSON.stringify(key)}:${canonicalJson(member)}`];
    });
  return `{${members.join(',')}}`;
}

/** Array.isArray that narrows readonly arrays too. */
function isArray(value: CanonicalValue): value is readonly CanonicalValue[] {
  return Array.isArray(value);
}

/**
 * A stable hash of a mirror's content: `sha256:<hex>` over the domain string and the canonical
 * JSON of kind, type, data and binaryData. Independent of key insertion order; different for any
 * change of a key, a value, the map a key sits in, the type or the kind.
 */
export function contentHash(kind: Kind, content: HashableContent): string {
  const canonical = canonicalJson({
    kind,
    type: content.type ?? null,
    data: content.data,
    binaryData: content.binaryData,
  });
  const digest = createHash('sha256')
    .update(CONTENT_HASH_DOMAIN)
    .update('\n')
    .update(canonical)
    .digest('hex');
  return `sha256:${digest}`;
}

/**
 * A decoded JSON value as a CanonicalValue, or undefined when it is not plain JSON data (the
 * structured content of Roles, RoleBindings and ServiceAccounts arrives as `unknown`).
 */
export function asCanonical(value: unknown): CanonicalValue | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (Array.isArray(value)) {
    const items: CanonicalValue[] = [];
    for (const item of value as unknown[]) {
      const canonical = asCanonical(item);
      if (canonical === undefined) return undefined;
      items.push(canonical);
    }
    return items;
  }
  if (typeof value === 'object') {
    const members: Record<string, CanonicalValue> = {};
    for (const [key, member] of Object.entries(value)) {
      if (member === undefined) continue;
      const canonical = asCanonical(member);
      if (canonical === undefined) return undefined;
      members[key] = canonical;
    }
    return members;
  }
  return undefined;
}

/** Parses canonical JSON written by canonicalJson back into a value; undefined when it is not JSON. */
export function parseCanonical(text: string): CanonicalValue | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return asCanonical(parsed);
}
