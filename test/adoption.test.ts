/**
 * Migration: mirrors the old controllers left in the cluster are adopted when nsync starts —
 * nothing re-created (UIDs survive), nothing duplicated, nothing that should stay deleted — and
 * kept up to date from then on.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { startNsync } from './support/nsync.ts';
import {
  b64,
  createNamespaces,
  createObject,
  eventsAbout,
  eventually,
  getObject,
  sharedCluster,
} from './support/cluster.ts';

const cluster = sharedCluster();

test('mirrors reflector created are adopted: same UIDs, brought up to date, nothing duplicated', async () => {
  const prefix = `ad${randomBytes(2).toString('hex')}`;
  const [src = '', a = '', b = '', gone = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-src` },
    { name: `${prefix}-a` },
    { name: `${prefix}-b` },
    { name: `${prefix}-gone` },
  ]);
  const reflectorMirror = (namespace: string, value: string): Promise<{ metadata: { uid: string } }> =>
    createObject(cluster, 'secrets', namespace, {
      metadata: {
        name: 'shared-tls',
        annotations: {
          'reflector.v1.k8s.emberstack.com/reflects': `${src}/shared-tls`,
          'reflector.v1.k8s.emberstack.com/auto-reflects': 'True',
          'reflector.v1.k8s.emberstack.com/reflected-version': '12345',
          'reflector.v1.k8s.emberstack.com/reflected-at': '"2025-01-01T00:00:00.0000000+00:00"',
        },
      },
      data: { k: b64(value) },
    });
  await createObject(cluster, 'secrets', src, {
    metadata: {
      name: 'shared-tls',
      annotations: {
        'reflector.v1.k8s.emberstack.com/reflection-allowed': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-auto-enabled': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-allowed-namespaces': `${a},${b}`,
      },
    },
    data: { k: b64('current') },
  });
  // One mirror up to date, one stale, one in a namespace the source no longer allows.
  const upToDate = await reflectorMirror(a, 'current');
  const stale = await reflectorMirror(b, 'old');
  await reflectorMirror(gone, 'current');

  const nsync = await startNsync(cluster, [`${prefix}-*`]);
  try {
    const updated = await eventually('the stale mirror to be brought up to date', async () => {
      const secret = await getObject(cluster, 'secrets', b, 'shared-tls');
      return secret?.data?.['k'] === b64('current') ? secret : undefined;
    });
    assert.equal(updated.metadata.uid, stale.metadata.uid, 'updated in place, not re-created');
    await eventually('the mirror that no longer qualifies to be deleted', async () =>
      (await getObject(cluster, 'secrets', gone, 'shared-tls')) === undefined ? true : undefined,
    );
    const kept = await eventually('the up-to-date mirror to carry nsync’s markers', async () => {
      const secret = await getObject(cluster, 'secrets', a, 'shared-tls');
      return secret?.metadata.labels?.['app.kubernetes.io/managed-by'] === 'nsync' ? secret : undefined;
    });
    assert.equal(kept.metadata.uid, upToDate.metadata.uid);
    const listed = await cluster.api<{ items: unknown[] }>('GET', `/api/v1/namespaces/${b}/secrets`);
    assert.equal(listed.body.items.length, 1, 'no duplicate mirror');
  } finally {
    await nsync.stop();
  }
});

test('two sources that want the same target: the first writer keeps it, the other gets a Warning naming both', async () => {
  const prefix = `cf${randomBytes(2).toString('hex')}`;
  const [one = '', two = '', target = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-one` },
    { name: `${prefix}-two` },
    { name: `${prefix}-target` },
  ]);
  const nsync = await startNsync(cluster, [`${prefix}-*`]);
  try {
    await createObject(cluster, 'secrets', one, {
      metadata: { name: 'contested', annotations: { 'nsync.dev/push-to': target } },
      data: { from: b64('one') },
    });
    const mirror = await eventually('the first source’s mirror', () =>
      getObject(cluster, 'secrets', target, 'contested'),
    );
    await createObject(cluster, 'secrets', two, {
      metadata: { name: 'contested', annotations: { 'nsync.dev/push-to': target } },
      data: { from: b64('two') },
    });
    const events = await eventually('a ConflictWithOtherSource Event on the second source', async () => {
      const found = await eventsAbout(cluster, two, 'contested');
      return found.find((event) => event.reason === 'ConflictWithOtherSource');
    });
    assert.equal(events.type, 'Warning');
    assert.ok(
      events.note.includes(`${one}/contested`) && events.note.includes(`${two}/contested`),
      events.note,
    );
    const after = await getObject(cluster, 'secrets', target, 'contested');
    assert.equal(
      after?.metadata.resourceVersion,
      mirror.metadata.resourceVersion,
      'no flapping: the mirror was not rewritten',
    );
    assert.equal(after.data?.['from'], b64('one'));
  } finally {
    await nsync.stop();
  }
});

test('pull targets reflector filled are taken over: their source keys follow the source again', async () => {
  const prefix = `ap${randomBytes(2).toString('hex')}`;
  const [src = '', t = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-src` },
    { name: `${prefix}-t` },
  ]);
  await createObject(cluster, 'secrets', src, {
    metadata: {
      name: 'origin',
      annotations: {
        'reflector.v1.k8s.emberstack.com/reflection-allowed': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-allowed-namespaces': t,
      },
    },
    data: { k: b64('current') },
  });
  // As reflector leaves a `reflects` target: its copy of the source (here an older one), marked
  // with reflected-version; plus a key someone added since.
  const target = await createObject(cluster, 'secrets', t, {
    metadata: {
      name: 'copy',
      annotations: {
        'reflector.v1.k8s.emberstack.com/reflects': `${src}/origin`,
        'reflector.v1.k8s.emberstack.com/reflected-version': '12345',
      },
    },
    data: { k: b64('old'), added: b64('mine') },
  });
  const nsync = await startNsync(cluster, [`${prefix}-*`]);
  try {
    const filled = await eventually('the reflector-filled key to follow the source', async () => {
      const secret = await getObject(cluster, 'secrets', t, 'copy');
      return secret?.data?.['k'] === b64('current') ? secret : undefined;
    });
    assert.equal(filled.metadata.uid, target.metadata.uid);
    assert.equal(filled.data?.['added'], b64('mine'), 'a key the source does not have is left alone');
  } finally {
    await nsync.stop();
  }
});
