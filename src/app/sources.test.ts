import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { ObjectMeta } from '../plan/model.ts';
import { kubed, native, reflector, replicator } from '../rules/markers.ts';
import { isSource } from './sources.ts';

/** docs/dialects.md: the annotations that ask something of an object as a source, in each dialect. */
const SOURCE_KEYS = [
  native.pushTo,
  native.pushToSelector,
  native.pushToClusters,
  native.pushToClustersSelector,
  native.pullAllowed,
  native.pullAllowedSelector,
  reflector.allowed,
  replicator.replicateTo,
  replicator.replicateToMatching,
  replicator.allowed,
  kubed.sync,
  kubed.syncContexts,
];

function withAnnotations(annotations: Record<string, string>): ObjectMeta {
  return {
    kind: 'Secret',
    namespace: 'team-a',
    name: 'db',
    uid: 'uid',
    resourceVersion: '1',
    labels: {},
    annotations,
    ownerReferences: [],
    contentForeign: false,
    deleting: false,
  };
}

test('an object is a source exactly when one of its own annotations is a source key of some dialect', () => {
  const key = fc.oneof(
    fc.constantFrom(...SOURCE_KEYS, 'nsync.dev/source', 'nsync.dev/content-hash'),
    fc.string(),
  );
  fc.assert(
    fc.property(fc.dictionary(key, fc.string(), { maxKeys: 6 }), (annotations) => {
      const expected = SOURCE_KEYS.some((sourceKey) => Object.hasOwn(annotations, sourceKey));
      assert.equal(isSource(withAnnotations(annotations)), expected);
    }),
    { numRuns: 2000 },
  );
});

test("keys inherited from a prototype are not the object's annotations", () => {
  const inherited = Object.create({ 'nsync.dev/push-to': 'team-*' }) as Record<string, string>;
  assert.equal(isSource(withAnnotations(inherited)), false);
  assert.equal(isSource(withAnnotations({ 'replicator.v1.mittwald.de/replicate-to': 'b' })), true);
  assert.equal(isSource(withAnnotations({ 'nsync.dev/source': 'platform/db' })), false);
});
