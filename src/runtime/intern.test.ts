import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Interner, RecordInterner, StringInterner } from './intern.ts';

test('equal values share the first instance; different values stay apart', () => {
  const records = new RecordInterner(10);
  const first = { a: '1', b: '2' };
  const again = records.intern({ ...first });
  assert.equal(records.intern(first), again);
  assert.notEqual(records.intern({ a: '1' }), again);
  assert.ok(Object.isFrozen(again), 'a shared record cannot be changed by one of its sharers');
  const strings = new StringInterner(10);
  const name = strings.intern(['db', 'copy'].join('-'));
  assert.equal(strings.intern('db-copy'), name);
});

test('the pool never holds more than its capacity, whatever it is fed', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.array(fc.string(), { maxLength: 200 }),
      (capacity, keys) => {
        const interner = new Interner<string>(capacity);
        for (const key of keys) {
          assert.equal(interner.intern(key, key), key, 'an interned value equals its input');
          assert.ok(interner.size <= capacity);
        }
      },
    ),
  );
});

test('a capacity below 1 is refused', () => {
  assert.throws(() => new Interner(0), RangeError);
});
