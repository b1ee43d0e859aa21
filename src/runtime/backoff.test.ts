import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Backoff, backoffCeiling, DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_MAX_MS } from './backoff.ts';

/** A random source that always returns just under 1, so each delay is its ceiling minus one. */
const top = (): number => 1 - Number.EPSILON;

void describe('backoffCeiling', () => {
  void it('doubles from the base and stops at the cap', () => {
    const ceilings = [1, 2, 3, 4, 5, 6].map((failures) => backoffCeiling(failures, 100, 1000));
    assert.deepEqual(ceilings, [100, 200, 400, 800, 1000, 1000]);
  });

  void it('is zero before any failure and stays capped after very many', () => {
    assert.equal(backoffCeiling(0, 100, 1000), 0);
    assert.equal(backoffCeiling(5000, 100, 1000), 1000);
  });
});

void describe('Backoff', () => {
  void it('defaults to a 100 ms base and a 60 s cap', () => {
    assert.equal(DEFAULT_BACKOFF_BASE_MS, 100);
    assert.equal(DEFAULT_BACKOFF_MAX_MS, 60_000);
    const backoff = new Backoff({ random: top });
    assert.equal(backoff.next('k'), 99);
    for (let i = 0; i < 20; i++) backoff.next('k');
    assert.equal(backoff.next('k'), 59_999);
  });

  void it('grows with each failure of a key and starts over after reset', () => {
    const backoff = new Backoff({ baseMs: 10, maxMs: 10_000, random: () => 0.5 });
    const delays = [1, 2, 3, 4].map(() => backoff.next('k'));
    assert.deepEqual(delays, [5, 10, 20, 40]);
    assert.equal(backoff.failures('k'), 4);
    backoff.reset('k');
    assert.equal(backoff.failures('k'), 0);
    assert.equal(backoff.size, 0);
    assert.equal(backoff.next('k'), 5);
  });

  void it('counts failures per key', () => {
    const backoff = new Backoff({ baseMs: 10, random: () => 0.5 });
    backoff.next('a');
    backoff.next('a');
    assert.equal(backoff.next('b'), 5);
    assert.equal(backoff.failures('a'), 2);
    assert.equal(backoff.size, 2);
  });

  void it('draws the delay with full jitter from the random source', () => {
    const draws = [0, 0.25, 0.999];
    const backoff = new Backoff({ baseMs: 1000, maxMs: 1000, random: () => draws.shift() ?? 0 });
    assert.deepEqual([backoff.next('k'), backoff.next('k'), backoff.next('k')], [0, 250, 999]);
  });

  void it('keeps every delay a whole number within [0, ceiling)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 80 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (baseMs, extra, failures, draw) => {
          const maxMs = baseMs + extra;
          const backoff = new Backoff({ baseMs, maxMs, random: () => draw });
          let delay = 0;
          for (let i = 0; i < failures; i++) delay = backoff.next('k');
          assert.ok(Number.isInteger(delay));
          assert.ok(delay >= 0 && delay <= maxMs);
          assert.ok(delay < backoffCeiling(failures, baseMs, maxMs) || delay === 0);
        },
      ),
    );
  });

  void it('rejects settings that would spin or never retry', () => {
    assert.throws(() => new Backoff({ baseMs: 0 }), RangeError);
    assert.throws(() => new Backoff({ baseMs: Number.NaN }), RangeError);
    assert.throws(() => new Backoff({ baseMs: 100, maxMs: 50 }), RangeError);
    assert.throws(() => new Backoff({ maxMs: Number.POSITIVE_INFINITY }), RangeError);
  });
});
