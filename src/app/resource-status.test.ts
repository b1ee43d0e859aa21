import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replacing } from './resource-status.ts';

test('a status field the desired status no longer has is sent as null; the others as they are', () => {
  const current = { conditions: [], clusters: [{ name: 'edge' }], sourceResourceVersion: '7', selected: 1 };
  const desired = { conditions: [], selected: 0 };
  assert.deepEqual(replacing(current, desired), {
    conditions: [],
    selected: 0,
    clusters: null,
    sourceResourceVersion: null,
  });
  assert.deepEqual(replacing(undefined, desired), desired);
});
