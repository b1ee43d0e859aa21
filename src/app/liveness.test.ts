import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assessLiveness } from './controller.ts';

const MINUTE = 60_000;
const watch = (lastProgressAt: number, synced = true) => ({ resource: 'secrets', synced, lastProgressAt });

test('an idle loop is alive however long it has been idle', () => {
  assert.equal(
    assessLiveness(60 * MINUTE, { busy: false, lastProgressAt: 0 }, [watch(59 * MINUTE)]).ok,
    true,
  );
});

test('a loop with keys but no progress for more than 5 minutes is stuck', () => {
  const health = assessLiveness(10 * MINUTE, { busy: true, lastProgressAt: 4 * MINUTE }, [
    watch(10 * MINUTE),
  ]);
  assert.equal(health.ok, false);
  assert.match(health.detail, /work loop made no progress for 360 s/);
  assert.equal(assessLiveness(10 * MINUTE, { busy: true, lastProgressAt: 6 * MINUTE }, []).ok, true);
});

test('a synced watch silent for more than 15 minutes is stuck; one still listing is not judged', () => {
  const health = assessLiveness(20 * MINUTE, { busy: false, lastProgressAt: 0 }, [watch(4 * MINUTE)]);
  assert.equal(health.ok, false);
  assert.match(health.detail, /no watch progress on secrets/);
  assert.equal(assessLiveness(20 * MINUTE, { busy: false, lastProgressAt: 0 }, [watch(0, false)]).ok, true);
});
