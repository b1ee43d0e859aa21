/**
 * The seed document's reflector example, verbatim: the Secret cert-manager creates from that
 * Certificate (secretTemplate annotations applied) gets mirrors in dev, staging and prod, and
 * nowhere else. These namespaces have fixed names, so only this file uses them.
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
  sharedCluster,
} from './support/cluster.ts';

const cluster = sharedCluster();
const NAMESPACES = ['cert-manager', 'dev', 'staging', 'prod', 'qa', 'sandbox'];
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
  for (const namespace of ['qa', 'sandbox', 'default']) {
    assert.equal(
      await getObject(cluster, 'secrets', namespace, 'source-tls'),
      undefined,
      `nothing in ${namespace}`,
    );
  }
});
