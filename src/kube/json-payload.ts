/**
 * Request bodies as UTF-8 chunks. A fan-out writes one source's content into every mirror: the
 * planner hands each write the same (frozen) `data` and `binaryData` maps, so their JSON is encoded
 * once and the same bytes are sent with every write, instead of a new ~5 KiB string per mirror for
 * the garbage collector (docs/adr/0025). Everything else of a body is encoded per request.
 */

/** Encoded content maps, by the map itself: a frozen map never changes, so neither does its JSON. */
const encoded = new WeakMap<object, Buffer>();

/** The fields whose frozen values are shared between the writes of a fan-out. */
const SHARED_FIELDS = ['data', 'binaryData'] as const;

/** Constant pieces, shared by every payload (never written to). */
const LATER_KEY = Object.fromEntries(
  SHARED_FIELDS.map((field) => [field, Buffer.from(`,"${field}":`, 'utf8')]),
) as Record<(typeof SHARED_FIELDS)[number], Buffer>;
const CLOSE = Buffer.from('}', 'utf8');

function isSharable(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.isFrozen(value);
}

function encodedOnce(value: object): Buffer {
  let bytes = encoded.get(value);
  if (bytes === undefined) {
    bytes = Buffer.from(JSON.stringify(value), 'utf8');
    encoded.set(value, bytes);
  }
  return bytes;
}

/**
 * `JSON.stringify(body)` as chunks of UTF-8, equal as JSON (the shared fields come last). A body
 * without a frozen `data` or `binaryData` object is one chunk.
 */
export function jsonPayload(body: unknown): Buffer[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return [Buffer.from(JSON.stringify(body), 'utf8')];
  }
  const record = body as Record<string, unknown>;
  const shared = SHARED_FIELDS.filter((field) => isSharable(record[field]));
  if (shared.length === 0) return [Buffer.from(JSON.stringify(body), 'utf8')];
  // A spread copy defines a `__proto__` key as an ordinary key; undefined fields are left out.
  const rest: Record<string, unknown> = { ...record };
  for (const field of shared) rest[field] = undefined;
  const head = JSON.stringify(rest);
  // `head` is "{…}": open it, add each shared field, close it.
  const chunks: Buffer[] = [
    Buffer.from(`${head.length > 2 ? `${head.slice(0, -1)},` : '{'}"${shared[0] as string}":`, 'utf8'),
    encodedOnce(record[shared[0] as string] as object),
  ];
  for (const field of shared.slice(1)) chunks.push(LATER_KEY[field], encodedOnce(record[field] as object));
  chunks.push(CLOSE);
  return chunks;
}

/** The payload's length in bytes (Content-Length over HTTP/1.1). */
export function payloadLength(chunks: readonly Buffer[]): number {
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  return length;
}
