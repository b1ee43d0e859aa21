/**
 * A keyed cache fed by list+watch, with secondary indexes and change notifications. Reconcilers
 * read current state from it (level-based) instead of from events; triggers listen to its changes
 * to decide which keys to enqueue. It knows nothing about Kubernetes objects: the key and index
 * functions given at construction are all it knows about its items.
 */

/**
 * One change to the store's content. `replace` emits the difference between the old and the new
 * content as such changes, so a relist triggers exactly like the watch events it stands for.
 */
export type StoreChange<T> =
  | { readonly type: 'add'; readonly key: string; readonly new: T }
  | { readonly type: 'update'; readonly key: string; readonly old: T; readonly new: T }
  | { readonly type: 'delete'; readonly key: string; readonly old: T };

/** Receives the store's changes, after the store already reflects them. */
export type StoreListener<T> = (change: StoreChange<T>) => void;

/**
 * Secondary indexes by name: each maps an item to the index values it is found under (none, one
 * or many; duplicates are ignored). They must be pure: the same item always gives the same values.
 */
export type IndexFunctions<T, I extends string> = { readonly [name in I]: (item: T) => readonly string[] };

/** How a Store identifies, indexes and compares items. */
export interface StoreOptions<T, I extends string> {
  /** The item's identity (for Kubernetes, typically "namespace/name"). */
  readonly key: (item: T) => string;
  /** Secondary indexes, queried with `byIndex`. @default no index */
  readonly indexes?: IndexFunctions<T, I>;
  /**
   * Whether a new version of an item is the same as the cached one; if so, no 'update' is
   * emitted (the new object is still stored). Comparing resourceVersions lets a relist of
   * unchanged objects trigger nothing. It must imply equal index values: an unchanged item keeps
   * the index entries of the version it replaces.
   * @default Object.is
   */
  readonly unchanged?: (old: T, next: T) => boolean;
}

/**
 * A cached item with the index values it was filed under, so removal never re-runs index
 * functions: one list per index, in the order of the store's index names. Most items are in no
 * index at all and share one empty record — a store holds tens of thousands of entries, and a
 * Map per entry cost more than the items themselves.
 */
interface Entry<T> {
  readonly item: T;
  readonly indexed: readonly (readonly string[])[];
}

const NO_VALUES: readonly string[] = Object.freeze([]);

/** Index name → index value → keys. Empty value sets are removed, so memory follows content. */
type IndexTable = Map<string, Map<string, Set<string>>>;

/**
 * Thrown after every listener was called when some listeners threw: the store is consistent, the
 * other listeners saw every change, and the failure is not silent.
 */
export class StoreListenerError extends AggregateError {
  override readonly name = 'StoreListenerError';
}

/**
 * The cache. All reads see a consistent state: `replace` swaps the whole content at once, and
 * listeners run only after a mutation is complete.
 */
export class Store<T, I extends string = never> {
  readonly #keyOf: (item: T) => string;
  /** The indexes, in the order of Entry.indexed. */
  readonly #indexes: readonly { readonly name: string; readonly fn: (item: T) => readonly string[] }[];
  /** Entry.indexed of an item in no index. */
  readonly #notIndexed: readonly (readonly string[])[];
  readonly #unchanged: (old: T, next: T) => boolean;
  #entries = new Map<string, Entry<T>>();
  #index: IndexTable = new Map();
  readonly #listeners = new Set<StoreListener<T>>();
  #synced = false;
  #resourceVersion: string | undefined;
  readonly #syncedSignal: PromiseWithResolvers<void> = Promise.withResolvers();

  /** Starts empty and unsynced; the key and index functions are fixed for the store's life. */
  constructor(options: StoreOptions<T, I>) {
    this.#keyOf = options.key;
    this.#indexes = Object.entries<(item: T) => readonly string[]>(options.indexes ?? {}).map(
      ([name, fn]) => ({ name, fn }),
    );
    this.#notIndexed = Object.freeze(this.#indexes.map(() => NO_VALUES));
    this.#unchanged = options.unchanged ?? Object.is;
    this.#index = this.#emptyIndex();
  }

  /**
   * Replaces the whole content with a fresh list (initial list or relist after a lost watch),
   * atomically, then marks the store synced and emits the difference from the previous content:
   * 'add' and 'update' in list order, then 'delete'. When two items share a key, the last wins.
   * If a key or index function throws, the store is left unchanged.
   */
  replace(items: Iterable<T>, resourceVersion: string): void {
    const next = new Map<string, Entry<T>>();
    for (const item of items) next.set(this.#keyOf(item), this.#entryOf(item));
    const changes = this.#diff(this.#entries, next);
    this.#entries = next;
    this.#index = this.#emptyIndex();
    for (const [key, entry] of next) this.#fileEntry(key, entry);
    this.#resourceVersion = resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      this.#syncedSignal.resolve();
    }
    this.#emit(changes);
  }

  /**
   * Adds or replaces one item (a watch ADDED or MODIFIED event) and emits 'add' or 'update'.
   * @param resourceVersion the version the watch reached, when known; see `resourceVersion()`.
   */
  upsert(item: T, resourceVersion?: string): void {
    const key = this.#keyOf(item);
    const old = this.#entries.get(key);
    if (old && this.#unchanged(old.item, item)) {
      // The same version again (e.g. the watch echoing a write already applied): its index
      // values are the old ones, so nothing is re-indexed and nothing is emitted.
      this.#entries.set(key, { item, indexed: old.indexed });
      if (resourceVersion !== undefined) this.#resourceVersion = resourceVersion;
      return;
    }
    const entry = this.#entryOf(item);
    if (old) this.#unfileEntry(key, old);
    this.#entries.set(key, entry);
    this.#fileEntry(key, entry);
    if (resourceVersion !== undefined) this.#resourceVersion = resourceVersion;
    if (!old) this.#emit([{ type: 'add', key, new: item }]);
    else this.#emit([{ type: 'update', key, old: old.item, new: item }]);
  }

  /**
   * Removes the item with `key` (a watch DELETED event), emits 'delete', and returns the removed
   * item; does nothing and returns undefined when there is none.
   */
  delete(key: string, resourceVersion?: string): T | undefined {
    if (resourceVersion !== undefined) this.#resourceVersion = resourceVersion;
    const old = this.#entries.get(key);
    if (!old) return undefined;
    this.#unfileEntry(key, old);
    this.#entries.delete(key);
    this.#emit([{ type: 'delete', key, old: old.item }]);
    return old.item;
  }

  /** The item with `key`, or undefined. */
  get(key: string): T | undefined {
    return this.#entries.get(key)?.item;
  }

  /** Whether an item with `key` is cached. */
  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** A snapshot of every item; later mutations do not change the returned array. */
  values(): T[] {
    return Array.from(this.#entries.values(), (entry) => entry.item);
  }

  /** A snapshot of every key. */
  keys(): string[] {
    return [...this.#entries.keys()];
  }

  /** How many items are cached. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The items filed under `value` in index `name` (a snapshot).
   * @throws Error when no index is called `name`.
   */
  byIndex(name: I, value: string): T[] {
    return this.keysByIndex(name, value).flatMap((key) => {
      const entry = this.#entries.get(key);
      return entry ? [entry.item] : [];
    });
  }

  /**
   * The keys of the items filed under `value` in index `name`: what a trigger enqueues.
   * @throws Error when no index is called `name`.
   */
  keysByIndex(name: I, value: string): string[] {
    return [...(this.#table(name).get(value) ?? [])];
  }

  /**
   * The values under which at least one item is filed in index `name` (for example, every
   * namespace that holds a cached item): lets a trigger fan out without scanning the store.
   * @throws Error when no index is called `name`.
   */
  indexValues(name: I): string[] {
    return [...this.#table(name).keys()];
  }

  /**
   * True once the first `replace` (the initial list) has landed. Until then the store is partial,
   * and acting on it would read "missing" as "deleted".
   */
  synced(): boolean {
    return this.#synced;
  }

  /** Resolves when the store first becomes synced (at once if it already is). */
  whenSynced(): Promise<void> {
    return this.#syncedSignal.promise;
  }

  /** The last resourceVersion given to `replace`, `upsert` or `delete`: where a new watch resumes. */
  resourceVersion(): string | undefined {
    return this.#resourceVersion;
  }

  /**
   * Registers a listener for every later change and returns the function that unregisters it.
   * If listeners throw, the rest still run and a StoreListenerError is thrown afterwards.
   */
  onChange(listener: StoreListener<T>): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #table(name: string): Map<string, Set<string>> {
    const table = this.#index.get(name);
    if (!table) throw new Error(`store has no index called "${name}"`);
    return table;
  }

  #emptyIndex(): IndexTable {
    return new Map(this.#indexes.map(({ name }) => [name, new Map<string, Set<string>>()]));
  }

  /** Computes an item's index values up front, so a throwing index function changes nothing. */
  #entryOf(item: T): Entry<T> {
    let indexed: (readonly string[])[] | undefined;
    this.#indexes.forEach(({ fn }, position) => {
      const values = fn(item);
      if (values.length === 0) return;
      indexed ??= [...this.#notIndexed];
      indexed[position] = values.length === 1 ? values : [...new Set(values)];
    });
    return { item, indexed: indexed ?? this.#notIndexed };
  }

  #fileEntry(key: string, entry: Entry<T>): void {
    if (entry.indexed === this.#notIndexed) return;
    for (const [position, values] of entry.indexed.entries()) {
      const table = this.#index.get(this.#indexes[position]?.name ?? '');
      if (!table) continue;
      for (const value of values) {
        const keys = table.get(value);
        if (keys) keys.add(key);
        else table.set(value, new Set([key]));
      }
    }
  }

  #unfileEntry(key: string, entry: Entry<T>): void {
    if (entry.indexed === this.#notIndexed) return;
    for (const [position, values] of entry.indexed.entries()) {
      const table = this.#index.get(this.#indexes[position]?.name ?? '');
      if (!table) continue;
      for (const value of values) {
        const keys = table.get(value);
        keys?.delete(key);
        if (keys?.size === 0) table.delete(value);
      }
    }
  }

  /** The changes that turn `before` into `after`. */
  #diff(before: ReadonlyMap<string, Entry<T>>, after: ReadonlyMap<string, Entry<T>>): StoreChange<T>[] {
    const changes: StoreChange<T>[] = [];
    for (const [key, { item }] of after) {
      const old = before.get(key);
      if (!old) changes.push({ type: 'add', key, new: item });
      else if (!this.#unchanged(old.item, item))
        changes.push({ type: 'update', key, old: old.item, new: item });
    }
    for (const [key, { item }] of before) {
      if (!after.has(key)) changes.push({ type: 'delete', key, old: item });
    }
    return changes;
  }

  /** Delivers changes to every listener registered when the delivery starts. */
  #emit(changes: readonly StoreChange<T>[]): void {
    if (changes.length === 0 || this.#listeners.size === 0) return;
    const errors: unknown[] = [];
    const listeners = [...this.#listeners];
    for (const change of changes) {
      for (const listener of listeners) {
        try {
          listener(change);
        } catch (error) {
          errors.push(error);
        }
      }
    }
    if (errors.length > 0) throw new StoreListenerError(errors, `${errors.length} store listener(s) threw`);
  }
}
