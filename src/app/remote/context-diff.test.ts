import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { diffContexts } from './context-diff.ts';

const map = (entries: Record<string, string>): Map<string, string> => new Map(Object.entries(entries));

test('an unchanged context is kept, a changed one rebuilt, a new one added, a gone one removed', () => {
  const diff = diffContexts(
    map({ east: 'a', west: 'b', north: 'c' }),
    map({ east: 'a', west: 'B', south: 'd' }),
  );
  assert.deepEqual(diff, { keep: ['east'], rebuild: ['west'], add: ['south'], remove: ['north'] });
});

test('the same file twice changes nothing; an empty file removes everything', () => {
  const before = map({ east: 'a', west: 'b' });
  assert.deepEqual(diffContexts(before, new Map(before)), {
    keep: ['east', 'west'],
    rebuild: [],
    add: [],
    remove: [],
  });
  assert.deepEqual(diffContexts(before, new Map()), {
    keep: [],
    rebuild: [],
    add: [],
    remove: ['east', 'west'],
  });
  assert.deepEqual(diffContexts(new Map(), before), {
    keep: [],
    rebuild: [],
    add: ['east', 'west'],
    remove: [],
  });
});

test('every context lands in exactly one list, and the lists match the fingerprints', () => {
  const contexts = fc.dictionary(
    fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
    fc.constantFrom('1', '2', '3'),
  );
  fc.assert(
    fc.property(contexts, contexts, (beforeEntries, afterEntries) => {
      const before = map(beforeEntries);
      const after = map(afterEntries);
      const diff = diffContexts(before, after);
      const all = [...diff.keep, ...diff.rebuild, ...diff.add, ...diff.remove];
      assert.equal(new Set(all).size, all.length);
      assert.deepEqual(new Set(all), new Set([...before.keys(), ...after.keys()]));
      for (const name of diff.keep) assert.equal(before.get(name), after.get(name));
      for (const name of diff.rebuild) assert.notEqual(before.get(name), after.get(name));
      for (const name of diff.add) assert.equal(before.has(name), false);
      for (const name of diff.remove) assert.equal(after.has(name), false);
    }),
  );
});
