/**
 * The seed document's reflector example, verbatim: the Secret cert-manager creates from that
 * Certificate (secretTemplate annotations applied) gets mirrors in dev, staging and prod, and
 * nowhere else; and the seed's kubed and replicator examples. These namespaces have fixed names,
 * so only this file uses them. The tests run in order: the reflector and replicator examples both
 * use cert-manager/source-tls.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startNsync, type RunningNsync } from './support/nsync.ts';
import {
  b64,
  createNamespaces,
  createObject,
  eventually,
  getObject,
  patchObject,
  sharedCluster,
} from './support/cluster.ts';

const cluster = sharedCluster();
const NAMESPACES = ['cert-manager', 'dev', 'staging', 'prod', 'qa', 'sandbox', 'test', 'prod-1', 'prod-x'];
let nsync: RunningNsync;

before(async () => {
  await createNamespaces(
    cluster,
    NAMESPACES.map((name) => ({ name })),
  );
  nsync = await startNsync(cluster, NAMESPACES);
});

after(async () => {
  await nsync.stop();
});

test('the seed reflector example gives mirrors in dev, staging and prod and nowhere else', async () => {
  // Certificate "source" (spec.secretName: source-tls) with the seed's secretTemplate.annotations,
  // as cert-manager writes the issued Secret.
  await createObject(cluster, 'secrets', 'cert-manager', {
    metadata: {
      name: 'source-tls',
      annotations: {
        'reflector.v1.k8s.emberstack.com/reflection-allowed': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-allowed-namespaces': 'dev,staging,prod',
        'reflector.v1.k8s.emberstack.com/reflection-auto-enabled': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-auto-namespaces': 'dev,staging,prod',
        'cert-manager.io/alt-names': '',
        'cert-manager.io/certificate-name': 'source',
        'cert-manager.io/common-name': 'source',
        'cert-manager.io/issuer-group': 'cert-manager.io',
        'cert-manager.io/issuer-kind': 'Issuer',
        'cert-manager.io/issuer-name': 'source-ca',
      },
      labels: { 'controller.cert-manager.io/fao': 'true' },
    },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64('certificate'), 'tls.key': b64('key'), 'ca.crt': b64('ca') },
  });
  for (const namespace of ['dev', 'staging', 'prod']) {
    const mirror = await eventually(`the mirror in ${namespace}`, () =>
      getObject(cluster, 'secrets', namespace, 'source-tls'),
    );
    assert.equal(mirror.type, 'kubernetes.io/tls');
    assert.equal(mirror.data?.['tls.crt'], b64('certificate'));
    assert.equal(
      mirror.metadata.annotations?.['reflector.v1.k8s.emberstack.com/reflects'],
      'cert-manager/source-tls',
    );
    assert.equal(
      (mirror.metadata.annotations ?? {})['reflector.v1.k8s.emberstack.com/auto-reflects'],
      'True',
    );
  }
  await nsync.idle();
  for (const namespace of ['qa', 'sandbox', 'default']) {
    assert.equal(
      await getObject(cluster, 'secrets', namespace, 'source-tls'),
      undefined,
      `nothing in ${namespace}`,
    );
  }
});

test('the seed kubed example: a copy in the labelled sandbox namespace only', async () => {
  await patchObject(cluster, '/api/v1/namespaces/sandbox', {
    metadata: { labels: { 'cert-manager-tls': 'sandbox' } },
  });
  await createObject(cluster, 'secrets', 'cert-manager', {
    metadata: {
      name: 'sandbox-tls',
      annotations: {
        'kubed.appscode.com/sync': 'cert-manager-tls=sandbox',
        'cert-manager.io/certificate-name': 'sandbox',
      },
    },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64('sandbox-cert'), 'tls.key': b64('sandbox-key') },
  });
  const copy = await eventually('the copy in sandbox', () =>
    getObject(cluster, 'secrets', 'sandbox', 'sandbox-tls'),
  );
  assert.equal(copy.type, 'kubernetes.io/tls');
  assert.equal(copy.metadata.labels?.['kubed.appscode.com/origin.namespace'], 'cert-manager');
  assert.equal(copy.metadata.labels['kubed.appscode.com/origin.name'], 'sandbox-tls');
  assert.equal(
    (copy.metadata.annotations ?? {})['cert-manager.io/certificate-name'],
    'sandbox',
    'kubed copies annotations',
  );
  assert.equal(
    (copy.metadata.annotations ?? {})['kubed.appscode.com/sync'],
    undefined,
    'but not the sync keys',
  );
  await nsync.idle();
  for (const namespace of ['dev', 'qa', 'test']) {
    assert.equal(
      await getObject(cluster, 'secrets', namespace, 'sandbox-tls'),
      undefined,
      `nothing in ${namespace}`,
    );
  }
  // The label goes: the copy goes.
  await patchObject(cluster, '/api/v1/namespaces/sandbox', {
    metadata: { labels: { 'cert-manager-tls': null } },
  });
  await eventually('the copy to be deleted when the namespace stops qualifying', async () =>
    (await getObject(cluster, 'secrets', 'sandbox', 'sandbox-tls')) === undefined ? true : undefined,
  );
});

test('the seed replicator pull example: an empty TLS placeholder is filled, and filled again after re-applying it', async () => {
  // The reflector example's source-tls goes first (and its mirrors with it).
  assert.equal(
    (await cluster.api('DELETE', '/api/v1/namespaces/cert-manager/secrets/source-tls')).status,
    200,
  );
  await eventually('the reflector mirrors to go', async () =>
    (await getObject(cluster, 'secrets', 'dev', 'source-tls')) === undefined ? true : undefined,
  );
  await createObject(cluster, 'secrets', 'cert-manager', {
    metadata: {
      name: 'source-tls',
      annotations: {
        'replicator.v1.mittwald.de/replication-allowed': 'true',
        'replicator.v1.mittwald.de/replication-allowed-namespaces': 'dev,test,prod-[0-9]*',
      },
    },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64('replicated-cert'), 'tls.key': b64('replicated-key') },
  });
  const placeholder = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: 'tls-secret-replica',
      namespace: 'prod-1',
      annotations: { 'replicator.v1.mittwald.de/replicate-from': 'cert-manager/source-tls' },
    },
    type: 'kubernetes.io/tls',
    data: { 'tls.key': '', 'tls.crt': '' },
  };
  await createObject(cluster, 'secrets', 'prod-1', placeholder);
  const filled = (what: string): Promise<unknown> =>
    eventually(what, async () => {
      const secret = await getObject(cluster, 'secrets', 'prod-1', 'tls-secret-replica');
      return secret?.data?.['tls.crt'] === b64('replicated-cert') &&
        secret.data['tls.key'] === b64('replicated-key')
        ? true
        : undefined;
    });
  await filled('the placeholder to be filled');
  // kubectl apply of the same manifest again empties it; nsync must refill it.
  const applied = await cluster.api(
    'PATCH',
    '/api/v1/namespaces/prod-1/secrets/tls-secret-replica?fieldManager=kubectl-client-side-apply',
    { data: { 'tls.key': '', 'tls.crt': '' } },
    'application/merge-patch+json',
  );
  assert.equal(applied.status, 200);
  await filled('the re-applied placeholder to be filled again');

  // The same annotation in a namespace the source does not allow stays empty.
  await createObject(cluster, 'secrets', 'prod-x', {
    ...placeholder,
    metadata: { ...placeholder.metadata, namespace: 'prod-x' },
  });
  const refused = await eventually('an Event on the refused target', async () => {
    const events = await cluster.api<{ items: { reason: string; regarding?: { name?: string } }[] }>(
      'GET',
      '/apis/events.k8s.io/v1/namespaces/prod-x/events',
    );
    return events.body.items.find((event) => event.reason === 'PullNotAllowed');
  });
  assert.equal(refused.regarding?.name, 'tls-secret-replica');
  assert.equal((await getObject(cluster, 'secrets', 'prod-x', 'tls-secret-replica'))?.data?.['tls.crt'], '');
});
