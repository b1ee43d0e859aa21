import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Store, StoreListenerError, type StoreChange } from './store.ts';

/** A stand-in for an object's metadata: identity, a version, and fields to index on. */
interface Item {
  readonly ns: string;
  readonly name: string;
  readonly version: number;
  readonly tags: readonly string[];
}

const keyOf = (item: Item): string => `${item.ns}/${item.name}`;

function newStore(): Store<Item, 'ns' | 'tag'> {
  return new Store<Item, 'ns' | 'tag'>({
    key: keyOf,
    indexes: { ns: (item) => [item.ns], tag: (item) => item.tags },
    unchanged: (old, next) => old.version === next.version,
  });
}

/** Collects the store's changes as short strings. */
function record(store: Store<Item, 'ns' | 'tag'>): string[] {
  const seen: string[] = [];
  store.onChange((change) => seen.push(`${change.type} ${change.key}`));
  return seen;
}

const item = (ns: string, name: string, version = 1, tags: readonly string[] = []): Item => ({
  ns,
  name,
  version,
  tags,
});

void describe('Store', () => {
  void it('is not synced until the first replace, and then resolves whenSynced', async () => {
    const store = newStore();
    let synced = false;
    void store.whenSynced().then(() => (synced = true));
    store.upsert(item('a', 'x'));
    await Promise.resolve();
    assert.equal(store.synced(), false, 'a watch event is not a full list');
    assert.equal(synced, false);
    store.replace([], '10');
    assert.equal(store.synced(), true);
    await store.whenSynced();
    assert.equal(synced, true);
    assert.equal(store.resourceVersion(), '10');
  });

  void it('gets, lists and counts items by their key', () => {
    const store = newStore();
    store.replace([item('a', 'x'), item('b', 'y')], '1');
    store.upsert(item('a', 'z'), '2');
    assert.deepEqual(store.get('a/x'), item('a', 'x'));
    assert.equal(store.get('nope'), undefined);
    assert.equal(store.has('b/y'), true);
    assert.equal(store.size, 3);
    assert.deepEqual(store.keys(), ['a/x', 'b/y', 'a/z']);
    assert.deepEqual(
      store.values().map((value) => value.name),
      ['x', 'y', 'z'],
    );
    assert.equal(store.resourceVersion(), '2');
  });

  void it('emits add, update and delete for watch events, and no update for an unchanged item', () => {
    const store = newStore();
    const seen = record(store);
    store.upsert(item('a', 'x', 1));
    store.upsert(item('a', 'x', 1));
    store.upsert(item('a', 'x', 2));
    assert.deepEqual(store.delete('a/x', '7'), item('a', 'x', 2));
    assert.equal(store.delete('a/x'), undefined);
    assert.deepEqual(seen, ['add a/x', 'update a/x', 'delete a/x']);
    assert.equal(store.resourceVersion(), '7');
  });

  void it('passes old and new items with each change', () => {
    const store = newStore();
    const changes: StoreChange<Item>[] = [];
    store.onChange((change) => changes.push(change));
    store.upsert(item('a', 'x', 1));
    store.upsert(item('a', 'x', 2));
    store.delete('a/x');
    assert.deepEqual(changes, [
      { type: 'add', key: 'a/x', new: item('a', 'x', 1) },
      { type: 'update', key: 'a/x', old: item('a', 'x', 1), new: item('a', 'x', 2) },
      { type: 'delete', key: 'a/x', old: item('a', 'x', 2) },
    ]);
  });

  void it('emits the diff of a relist: adds and updates in list order, then deletes; nothing for unchanged items', () => {
    const store = newStore();
    store.replace([item('a', 'keep', 1), item('a', 'change', 1), item('a', 'gone', 1)], '1');
    const seen = record(store);
    store.replace([item('a', 'new', 1), item('a', 'change', 2), item('a', 'keep', 1)], '2');
    assert.deepEqual(seen, ['add a/new', 'update a/change', 'delete a/gone']);
    assert.deepEqual(store.keys().sort(), ['a/change', 'a/keep', 'a/new']);
  });

  void it('emits one add per item on the initial list, keeping the last of duplicate keys', () => {
    const store = newStore();
    const seen = record(store);
    store.replace([item('a', 'x', 1), item('b', 'y'), item('a', 'x', 2)], '1');
    assert.deepEqual(seen, ['add a/x', 'add b/y']);
    assert.equal(store.get('a/x')?.version, 2);
  });

  void it('swaps a relist atomically: listeners see the whole new content, a throwing key function changes nothing', () => {
    const store = newStore();
    store.replace([item('a', 'x'), item('a', 'y')], '1');
    const sizes: number[] = [];
    store.onChange(() => sizes.push(store.size));
    store.replace([item('b', 'z')], '2');
    assert.deepEqual(sizes, [1, 1, 1], 'every change is delivered after the swap');
    const broken = new Store<Item>({
      key: (candidate) => {
        if (candidate.name === 'bad') throw new Error('no key');
        return keyOf(candidate);
      },
    });
    broken.replace([item('a', 'x')], '1');
    assert.throws(() => {
      broken.replace([item('b', 'y'), item('b', 'bad')], '2');
    }, /no key/);
    assert.deepEqual(broken.keys(), ['a/x']);
    assert.equal(broken.resourceVersion(), '1');
  });

  void it('leaves the store unchanged when an index function throws on upsert', () => {
    const store = new Store<Item, 'tag'>({
      key: keyOf,
      indexes: {
        tag: (candidate) => {
          if (candidate.tags.includes('bad')) throw new Error('no index');
          return candidate.tags;
        },
      },
    });
    store.upsert(item('a', 'x', 1, ['t']));
    assert.throws(() => {
      store.upsert(item('a', 'x', 2, ['bad']));
    }, /no index/);
    assert.equal(store.get('a/x')?.version, 1);
    assert.deepEqual(store.keysByIndex('tag', 't'), ['a/x']);
  });

  void it('finds items by index and moves them when they change', () => {
    const store = newStore();
    store.replace([item('a', 'x', 1, ['red', 'blue']), item('b', 'y', 1, ['red', 'red'])], '1');
    assert.deepEqual(store.keysByIndex('tag', 'red'), ['a/x', 'b/y']);
    assert.deepEqual(store.keysByIndex('ns', 'b'), ['b/y']);
    store.upsert(item('a', 'x', 2, ['green']));
    assert.deepEqual(store.keysByIndex('tag', 'red'), ['b/y']);
    assert.deepEqual(store.keysByIndex('tag', 'blue'), []);
    assert.deepEqual(
      store.byIndex('tag', 'green').map((found) => found.version),
      [2],
    );
    assert.deepEqual(store.indexValues('tag').sort(), ['green', 'red']);
    store.delete('b/y');
    assert.deepEqual(store.byIndex('tag', 'red'), []);
    assert.deepEqual(store.indexValues('tag'), ['green']);
    assert.deepEqual(store.keysByIndex('tag', 'missing'), []);
  });

  void it('refuses an index it was not given', () => {
    const store = newStore() as unknown as Store<Item, string>;
    assert.throws(() => store.byIndex('nope', 'x'), /no index called "nope"/);
    assert.throws(() => store.keysByIndex('nope', 'x'), /no index called "nope"/);
    assert.throws(() => store.indexValues('nope'), /no index called "nope"/);
  });

  void it('stops notifying a listener once unsubscribed', () => {
    const store = newStore();
    const seen: string[] = [];
    const off = store.onChange((change) => seen.push(change.key));
    store.upsert(item('a', 'x'));
    off();
    store.upsert(item('a', 'y'));
    assert.deepEqual(seen, ['a/x']);
  });

  void it('delivers every change to every listener even when one throws, then reports the failure', () => {
    const store = newStore();
    store.onChange(() => {
      throw new Error('bad listener');
    });
    const seen = record(store);
    assert.throws(
      () => {
        store.replace([item('a', 'x'), item('a', 'y')], '1');
      },
      (error) => error instanceof StoreListenerError && error.errors.length === 2,
    );
    assert.deepEqual(seen, ['add a/x', 'add a/y']);
    assert.equal(store.synced(), true);
    assert.equal(store.size, 2);
  });
});

/** One operation of the random scenario of the property test below. */
type Op =
  | { readonly op: 'upsert'; readonly item: Item }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'replace'; readonly items: readonly Item[] };

const namespaces = ['n1', 'n2', 'n3'];
const names = ['a', 'b', 'c', 'd'];
const tagUniverse = ['t1', 't2', 't3'];
/**
 * Items as the API server makes them: one version of an object has one content, so the tags (the
 * indexed values) are a function of the object and its version, different from version to version.
 */
const itemArb: fc.Arbitrary<Item> = fc
  .record({
    ns: fc.constantFrom(...namespaces),
    name: fc.constantFrom(...names),
    version: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ ns, name, version }) => {
    const seed = Array.from(`${ns}/${name}/${String(version)}`).reduce(
      (sum, char) => (sum * 31 + char.charCodeAt(0)) % 65_521,
      0,
    );
    return { ns, name, version, tags: tagUniverse.filter((_, i) => ((seed >> i) & 1) === 1) };
  });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('upsert' as const), item: itemArb }), weight: 4 },
  {
    arbitrary: fc.record({
      op: fc.constant('delete' as const),
      key: fc
        .tuple(fc.constantFrom(...namespaces), fc.constantFrom(...names))
        .map(([ns, name]) => `${ns}/${name}`),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ op: fc.constant('replace' as const), items: fc.array(itemArb, { maxLength: 8 }) }),
    weight: 1,
  },
);

/** The naive model: a plain map, applied one operation at a time; indexes are computed by scanning. */
function applyToModel(model: Map<string, Item>, op: Op): string[] {
  const before = new Map(model);
  if (op.op === 'upsert') model.set(keyOf(op.item), op.item);
  else if (op.op === 'delete') model.delete(op.key);
  else {
    model.clear();
    for (const listed of op.items) model.set(keyOf(listed), listed);
  }
  const changes: string[] = [];
  for (const [key, now] of model) {
    const old = before.get(key);
    if (!old) changes.push(`add ${key}`);
    else if (old.version !== now.version) changes.push(`update ${key}`);
  }
  for (const key of before.keys()) if (!model.has(key)) changes.push(`delete ${key}`);
  return changes;
}

void describe('Store: property', () => {
  void it('keeps content, indexes and emitted changes equal to a naive model across upsert, delete and replace', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const store = newStore();
        const seen = record(store);
        const model = new Map<string, Item>();
        for (const op of ops) {
          seen.length = 0;
          if (op.op === 'upsert') store.upsert(op.item);
          else if (op.op === 'delete') store.delete(op.key);
          else store.replace(op.items, 'rv');
          const expected = applyToModel(model, op);
          assert.deepEqual([...seen].sort(), expected.sort(), `changes after ${op.op}`);
          assert.deepEqual(new Map(store.keys().map((key) => [key, store.get(key)])), model);
          assert.equal(store.size, model.size);
          for (const tag of tagUniverse) {
            const want = [...model].filter(([, value]) => value.tags.includes(tag)).map(([key]) => key);
            assert.deepEqual(store.keysByIndex('tag', tag).sort(), want.sort(), `tag ${tag}`);
            assert.equal(store.indexValues('tag').includes(tag), want.length > 0, `tag ${tag} listed`);
            assert.deepEqual(store.byIndex('tag', tag).map(keyOf).sort(), want.sort(), `byIndex tag ${tag}`);
          }
          for (const ns of namespaces) {
            const want = [...model].filter(([, value]) => value.ns === ns).map(([key]) => key);
            assert.deepEqual(store.keysByIndex('ns', ns).sort(), want.sort(), `ns ${ns}`);
            assert.equal(store.indexValues('ns').includes(ns), want.length > 0, `ns ${ns} listed`);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

void describe('Store: unchanged versions', () => {
  void it('an upsert of the same version runs no index function and keeps the index entries', () => {
    let calls = 0;
    const store = new Store<Item, 'tag'>({
      key: keyOf,
      unchanged: (old, next) => old.version === next.version,
      indexes: {
        tag: (item) => {
          calls += 1;
          return item.tags;
        },
      },
    });
    store.upsert({ ns: 'a', name: 'x', version: 1, tags: ['t'] });
    assert.equal(calls, 1);
    store.upsert({ ns: 'a', name: 'x', version: 1, tags: ['t'] });
    assert.equal(calls, 1, 'the echo of the same version is not re-indexed');
    assert.deepEqual(store.keysByIndex('tag', 't'), ['a/x']);
    store.upsert({ ns: 'a', name: 'x', version: 2, tags: ['u'] });
    assert.equal(calls, 2);
    assert.deepEqual(store.keysByIndex('tag', 'u'), ['a/x']);
    assert.deepEqual(store.keysByIndex('tag', 't'), []);
  });
});
