/**
 * Shares one instance among equal immutable values. Records parsed from the API server are fresh
 * copies: a thousand mirrors of one source carry a thousand equal copies of its name, namespace
 * labels and marker annotations. Keeping the first copy and dropping the rest makes the cache's
 * memory follow the distinct values rather than the object count.
 *
 * Bounded: when the pool holds `capacity` values it starts afresh, so values seen once (times,
 * UIDs) can never make it grow without limit; values already shared stay shared.
 */
export class Interner<T> {
  readonly #capacity: number;
  #pool = new Map<string, T>();

  /** @param capacity distinct values kept before the pool starts afresh; at least 1. */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a whole number ≥ 1');
    this.#capacity = capacity;
  }

  /** The shared instance equal to `value`, as identified by `key` (equal keys mean equal values). */
  intern(key: string, value: T): T {
    const known = this.#pool.get(key);
    if (known !== undefined) return known;
    if (this.#pool.size >= this.#capacity) this.#pool = new Map();
    this.#pool.set(key, value);
    return value;
  }

  /** How many values are pooled now. */
  get size(): number {
    return this.#pool.size;
  }
}

/** Shares equal strings. */
export class StringInterner {
  readonly #interner: Interner<string>;

  constructor(capacity: number) {
    this.#interner = new Interner<string>(capacity);
  }

  intern(value: string): string {
    return this.#interner.intern(value, value);
  }
}

/**
 * Shares equal string maps (labels, annotations). The maps must never be mutated afterwards;
 * they are frozen here so that a mistake throws instead of changing every sharer.
 */
export class RecordInterner {
  readonly #interner: Interner<Readonly<Record<string, string>>>;

  constructor(capacity: number) {
    this.#interner = new Interner<Readonly<Record<string, string>>>(capacity);
  }

  intern(record: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
    const key = JSON.stringify(record);
    const shared = this.#interner.intern(key, record);
    if (shared === record) Object.freeze(record);
    return shared;
  }
}
