/**
 * A write the API server refuses for good (here: RBAC forbids one namespace) is retried with
 * backoff, reported as a Warning Event on the source, and does not hold up the other mirrors.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { parseConfig } from '../src/app/config.ts';
import { startController } from './support/nsync.ts';
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
const rbac = '/apis/rbac.authorization.k8s.io/v1';

test('a write refused by RBAC: Warning Event on the source, other mirrors unaffected', async () => {
  const prefix = `wf${randomBytes(2).toString('hex')}`;
  const [src = '', allowed = '', forbidden = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-src` },
    { name: `${prefix}-allowed` },
    { name: `${prefix}-forbidden` },
  ]);
  const identity = await cluster.serviceAccountIdentity(src, 'nsync');
  const subjects = [{ kind: 'ServiceAccount', name: 'nsync', namespace: src }];
  const read = `${prefix}-read`;
  await cluster.api('POST', `${rbac}/clusterroles`, {
    metadata: { name: read },
    rules: [
      {
        apiGroups: [''],
        resources: ['secrets', 'configmaps', 'namespaces'],
        verbs: ['get', 'list', 'watch'],
      },
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
    ],
  });
  await cluster.api('POST', `${rbac}/clusterrolebindings`, {
    metadata: { name: read },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: read },
    subjects,
  });
  await cluster.api('POST', `${rbac}/namespaces/${allowed}/roles`, {
    metadata: { name: 'write' },
    rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['create', 'update', 'patch', 'delete'] }],
  });
  await cluster.api('POST', `${rbac}/namespaces/${allowed}/rolebindings`, {
    metadata: { name: 'write' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'write' },
    subjects,
  });
  const config = parseConfig(
    [
      `--kubeconfig=${identity.kubeconfigPath}`,
      '--leader-elect=false',
      '--listen=127.0.0.1:0',
      `--exclude-namespaces=*,!${prefix}-*`,
      '--kinds=secrets',
    ],
    {},
  );
  const nsync = await startController(config, identity.kubeconfigPath);
  try {
    await createObject(cluster, 'secrets', src, {
      metadata: { name: 'spread', annotations: { 'nsync.dev/push-to': `${allowed},${forbidden}` } },
      data: { k: b64('v') },
    });
    await eventually('the mirror where writing is allowed', () =>
      getObject(cluster, 'secrets', allowed, 'spread'),
    );
    const event = await eventually('a MirrorWriteFailed Event on the source', async () =>
      (await eventsAbout(cluster, src, 'spread')).find((found) => found.reason === 'MirrorWriteFailed'),
    );
    assert.equal(event.type, 'Warning');
    assert.match(event.note, new RegExp(`create ${forbidden}/spread failed \\(forbidden\\)`));
    assert.equal(await getObject(cluster, 'secrets', forbidden, 'spread'), undefined);
    const retries = await nsync.metrics.retries.get();
    assert.ok((retries.values[0]?.value ?? 0) >= 1, 'the failed write was retried with backoff');
  } finally {
    await nsync.stop();
    await cluster.api('DELETE', `${rbac}/clusterrolebindings/${read}`);
    await cluster.api('DELETE', `${rbac}/clusterroles/${read}`);
  }
});
