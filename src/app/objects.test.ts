import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RawObject } from '../kube/resources.ts';
import {
  contentWrittenByOthers,
  parseSourceQueueKey,
  sourceQueueKey,
  targetOf,
  toObjectMeta,
} from './objects.ts';

const raw = (metadata: Partial<RawObject['metadata']>): RawObject => ({
  metadata: { name: 'n', namespace: 'ns', uid: 'u', resourceVersion: '1', ...metadata },
});

test('an unrelated object keeps only its identity: memory does not grow with its metadata', () => {
  const meta = toObjectMeta(
    'Secret',
    raw({ labels: { owner: 'helm', name: 'release' }, annotations: { big: 'x'.repeat(10_000) } }),
  );
  assert.deepEqual(meta.labels, {});
  assert.deepEqual(meta.annotations, {});
  assert.equal(meta.uid, 'u');
});

test('a relevant object keeps labels and annotations, but never kubectl’s last-applied (it holds data)', () => {
  const meta = toObjectMeta(
    'Secret',
    raw({
      annotations: {
        'nsync.dev/push-to': '*',
        'kubectl.kubernetes.io/last-applied-configuration': '{"data":{}}',
      },
      labels: { team: 'a' },
    }),
  );
  assert.deepEqual(meta.annotations, { 'nsync.dev/push-to': '*' });
  assert.deepEqual(meta.labels, { team: 'a' });
});

test('content written by another manager is seen in managedFields; metadata-only edits are not', () => {
  assert.equal(contentWrittenByOthers(undefined), false);
  assert.equal(contentWrittenByOthers([{ manager: 'nsync', fieldsV1: { 'f:data': {} } }]), false);
  assert.equal(contentWrittenByOthers([{ manager: 'kubectl-edit', fieldsV1: { 'f:data': {} } }]), true);
  assert.equal(contentWrittenByOthers([{ manager: 'kubectl', fieldsV1: { 'f:type': {} } }]), true);
  assert.equal(
    contentWrittenByOthers([
      { manager: 'kubectl-annotate', fieldsV1: { 'f:metadata': { 'f:annotations': {} } } },
    ]),
    false,
  );
  const mirror = toObjectMeta(
    'Secret',
    raw({
      labels: { 'app.kubernetes.io/managed-by': 'nsync' },
      managedFields: [{ manager: 'kubectl-edit', fieldsV1: { 'f:data': {} } }],
    }),
  );
  assert.equal(mirror.contentForeign, true);
});

test('a key list deferred to managedFields is read from nsync’s own entry, and only then', () => {
  const managedFields = [
    { manager: 'nsync', fieldsV1: { 'f:data': { 'f:a': {}, 'f:b': {} }, 'f:binaryData': { 'f:c': {} } } },
    { manager: 'kubectl-edit', fieldsV1: { 'f:data': { 'f:own': {} } } },
  ];
  const deferred = toObjectMeta(
    'ConfigMap',
    raw({
      annotations: { 'nsync.dev/copied-keys': "(3 keys, listed in nsync's managedFields)" },
      managedFields,
    }),
  );
  assert.deepEqual(deferred.writtenKeys, ['a', 'b', 'c']);
  const listed = toObjectMeta(
    'ConfigMap',
    raw({ annotations: { 'nsync.dev/copied-keys': 'a,b,c' }, managedFields }),
  );
  assert.equal(listed.writtenKeys, undefined, 'a listed record keeps no copy of managedFields');
});

test('queue keys round-trip and reject malformed input', () => {
  assert.deepEqual(parseSourceQueueKey(sourceQueueKey('ConfigMap', 'a', 'b')), {
    kind: 'ConfigMap',
    namespace: 'a',
    name: 'b',
  });
  assert.equal(parseSourceQueueKey('Pod/a/b'), undefined);
  assert.equal(parseSourceQueueKey('Secret/a'), undefined);
  assert.equal(parseSourceQueueKey('Secret/a/b/c'), undefined);
});

test('a pull target is parsed once per object version, and an object without annotations not at all', () => {
  const annotations = { 'nsync.dev/pull-from': 'platform/registry' };
  const first = targetOf('Secret', annotations);
  assert.deepEqual(first.pull?.source, { namespace: 'platform', name: 'registry' });
  assert.equal(targetOf('Secret', annotations), first, 'the same version gives the same parse');
  assert.notEqual(targetOf('Secret', { ...annotations }), first, 'a new version is parsed anew');
  assert.deepEqual(targetOf('Secret', {}), { pull: undefined, problems: [] });
});
