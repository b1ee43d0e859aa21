/**
 * The replicator and kubed dialects, their mirrors adopted where those tools left them, and the
 * operator guardrails, on the real control plane.
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
  patchObject,
  sharedCluster,
} from './support/cluster.ts';

const cluster = sharedCluster();

async function gone(namespace: string, name: string, what: string): Promise<void> {
  await eventually(what, async () =>
    (await getObject(cluster, 'secrets', namespace, name)) === undefined ? true : undefined,
  );
}

test('replicator push: anchored regexes, label selectors, labels copied, removed keys removed, deletion', async () => {
  const prefix = `rp${randomBytes(2).toString('hex')}`;
  const [src = '', byName = '', byLabel = '', lookalike = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-src` },
    { name: `${prefix}-team-1` },
    { name: `${prefix}-other`, labels: { replicate: 'yes' } },
    { name: `${prefix}-team-1x` },
  ]);
  const nsync = await startNsync(cluster, [`${prefix}-*`]);
  try {
    await createObject(cluster, 'secrets', src, {
      metadata: {
        name: 'pushed',
        labels: { app: 'db' },
        annotations: {
          'replicator.v1.mittwald.de/replicate-to': `${prefix}-team-[0-9]`,
          'replicator.v1.mittwald.de/replicate-to-matching': 'replicate=yes',
        },
      },
      data: { a: b64('1'), b: b64('2') },
    });
    for (const namespace of [byName, byLabel]) {
      const replica = await eventually(`the replica in ${namespace}`, () =>
        getObject(cluster, 'secrets', namespace, 'pushed'),
      );
      assert.equal(replica.metadata.labels?.['app'], 'db', 'replicator copies labels');
      assert.equal(replica.metadata.annotations?.['replicator.v1.mittwald.de/replicated-keys'], 'a,b');
    }
    await nsync.idle();
    assert.equal(
      await getObject(cluster, 'secrets', lookalike, 'pushed'),
      undefined,
      'regexes match whole names',
    );
    await patchObject(cluster, `/api/v1/namespaces/${src}/secrets/pushed`, { data: { b: null } });
    await eventually('the removed key to go from the replica', async () => {
      const replica = await getObject(cluster, 'secrets', byName, 'pushed');
      return replica?.data?.['b'] === undefined && replica?.data?.['a'] === b64('1') ? true : undefined;
    });
    assert.equal((await cluster.api('DELETE', `/api/v1/namespaces/${src}/secrets/pushed`)).status, 200);
    await gone(byName, 'pushed', 'the replica to go with its source');
    await gone(byLabel, 'pushed', 'the other replica to go with its source');
  } finally {
    await nsync.stop();
  }
});

test('replicas and copies replicator and kubed left are adopted: UIDs survive, data is brought up to date', async () => {
  const prefix = `ao${randomBytes(2).toString('hex')}`;
  const [src = '', team = '', labelled = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-src` },
    { name: `${prefix}-team` },
    { name: `${prefix}-kubed`, labels: { sync: 'yes' } },
  ]);
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'rep', annotations: { 'replicator.v1.mittwald.de/replicate-to': `${prefix}-team` } },
    data: { k: b64('new') },
  });
  await createObject(cluster, 'configmaps', src, {
    metadata: { name: 'kub', annotations: { 'kubed.appscode.com/sync': 'sync=yes' } },
    data: { k: 'new' },
  });
  // Exactly what the old controllers leave: a replicator replica names no source; a kubed copy does.
  const replica = await createObject(cluster, 'secrets', team, {
    metadata: {
      name: 'rep',
      annotations: {
        'replicator.v1.mittwald.de/replicated-at': '2025-01-01T00:00:00Z',
        'replicator.v1.mittwald.de/replicated-from-version': '42',
        'replicator.v1.mittwald.de/replicated-keys': 'k',
      },
    },
    data: { k: b64('old') },
  });
  const copy = await createObject(cluster, 'configmaps', labelled, {
    metadata: {
      name: 'kub',
      labels: { 'kubed.appscode.com/origin.name': 'kub', 'kubed.appscode.com/origin.namespace': src },
      annotations: {
        'kubed.appscode.com/origin': JSON.stringify({
          name: 'kub',
          namespace: src,
          uid: 'old',
          resourceVersion: '1',
        }),
      },
    },
    data: { k: 'old' },
  });
  // Replicator's replicas name no source: adopting them is the operator's explicit choice.
  const nsync = await startNsync(cluster, [`${prefix}-*`], ['--adopt-replicator-replicas=true']);
  try {
    const adoptedReplica = await eventually('the replica to be updated', async () => {
      const secret = await getObject(cluster, 'secrets', team, 'rep');
      return secret?.data?.['k'] === b64('new') ? secret : undefined;
    });
    assert.equal(adoptedReplica.metadata.uid, replica.metadata.uid, 'replica updated in place');
    const adoptedCopy = await eventually('the kubed copy to be updated', async () => {
      const configMap = await getObject(cluster, 'configmaps', labelled, 'kub');
      return configMap?.data?.['k'] === 'new' ? configMap : undefined;
    });
    assert.equal(adoptedCopy.metadata.uid, copy.metadata.uid, 'copy updated in place');
  } finally {
    await nsync.stop();
  }
});

test('kubed sync-contexts is answered with an Event; the in-cluster part still applies', async () => {
  const prefix = `kc${randomBytes(2).toString('hex')}`;
  const [src = '', all = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-src` },
    { name: `${prefix}-all` },
  ]);
  const nsync = await startNsync(cluster, [`${prefix}-*`]);
  try {
    await createObject(cluster, 'configmaps', src, {
      metadata: {
        name: 'everywhere',
        annotations: { 'kubed.appscode.com/sync': '', 'kubed.appscode.com/sync-contexts': 'east,west' },
      },
      data: { k: 'v' },
    });
    await eventually('the in-cluster copy', () => getObject(cluster, 'configmaps', all, 'everywhere'));
    const event = await eventually('an UnsupportedFeature Event', async () =>
      (await eventsAbout(cluster, src, 'everywhere')).find((found) => found.reason === 'UnsupportedFeature'),
    );
    assert.match(event.note, /sync-contexts/);
  } finally {
    await nsync.stop();
  }
});

test('guardrails: disabled dialects and kinds, and namespaces that opt out, get nothing', async () => {
  const prefix = `gr${randomBytes(2).toString('hex')}`;
  const [src = '', open = '', optedOut = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-src` },
    { name: `${prefix}-open` },
    { name: `${prefix}-out`, labels: { 'nsync.dev/opt-out': 'true' } },
  ]);
  const nsync = await startNsync(cluster, [`${prefix}-*`], ['--dialects=native', '--kinds=secrets']);
  try {
    await createObject(cluster, 'secrets', src, {
      metadata: {
        name: 'by-reflector',
        annotations: {
          'reflector.v1.k8s.emberstack.com/reflection-allowed': 'true',
          'reflector.v1.k8s.emberstack.com/reflection-auto-enabled': 'true',
        },
      },
      data: { k: b64('v') },
    });
    await createObject(cluster, 'configmaps', src, {
      metadata: { name: 'a-configmap', annotations: { 'nsync.dev/push-to': '*' } },
      data: { k: 'v' },
    });
    await createObject(cluster, 'secrets', src, {
      metadata: { name: 'native', annotations: { 'nsync.dev/push-to': '*' } },
      data: { k: b64('v') },
    });
    // The native Secret reaching the open namespace proves nsync has processed this source set.
    await eventually('the native mirror in the open namespace', () =>
      getObject(cluster, 'secrets', open, 'native'),
    );
    await nsync.idle();
    assert.equal(
      await getObject(cluster, 'secrets', optedOut, 'native'),
      undefined,
      'the opted-out namespace refuses',
    );
    assert.equal(
      await getObject(cluster, 'secrets', open, 'by-reflector'),
      undefined,
      'reflector is disabled',
    );
    assert.equal(
      await getObject(cluster, 'configmaps', open, 'a-configmap'),
      undefined,
      'ConfigMaps are disabled',
    );
    // Opting out later removes the mirror nsync made.
    await patchObject(cluster, `/api/v1/namespaces/${open}`, {
      metadata: { labels: { 'nsync.dev/opt-out': 'true' } },
    });
    await gone(open, 'native', 'the mirror to go when its namespace opts out');
  } finally {
    await nsync.stop();
  }
});
