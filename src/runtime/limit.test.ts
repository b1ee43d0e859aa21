import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Limiter } from './limit.ts';

test('never runs more than `concurrency` tasks at once, and runs them all', async () => {
  const limiter = new Limiter(3);
  let inFlight = 0;
  let peak = 0;
  const gates: (() => void)[] = [];
  const tasks = Array.from({ length: 10 }, (_, i) =>
    limiter.run(async () => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise<void>((resolve) => gates.push(resolve));
      inFlight -= 1;
      return i;
    }),
  );
  while (gates.length > 0 || limiter.active > 0) {
    await new Promise((resolve) => setImmediate(resolve));
    gates.shift()?.();
  }
  assert.deepEqual(await Promise.all(tasks), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(peak, 3);
});

test('a failing task frees its slot and rejects only its own promise', async () => {
  const limiter = new Limiter(1);
  const failed = limiter.run(() => Promise.reject(new Error('boom')));
  const next = limiter.run(() => Promise.resolve('ok'));
  await assert.rejects(failed, /boom/);
  assert.equal(await next, 'ok');
});

test('rejects a concurrency that is not a whole number of at least 1', () => {
  assert.throws(() => new Limiter(0), RangeError);
  assert.throws(() => new Limiter(1.5), RangeError);
});
