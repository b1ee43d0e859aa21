/**
 * The harness itself, against the real binaries: every other integration test stands on it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startControlPlane } from '../tools/controlplane/harness.ts';
import { loadKubeConfig, Transport } from '../src/kube/transport.ts';
import { ListWatch } from '../src/kube/listwatch.ts';
import { SECRETS, type RawObject } from '../src/kube/resources.ts';
import { ApiError } from '../src/kube/errors.ts';
import { createNamespaces, eventually, sharedCluster, uniqueName } from './support/cluster.ts';

const cluster = sharedCluster();
const buildScript = new URL('../tools/controlplane/build.sh', import.meta.url).pathname;

test('the API server is the release asked for: NSYNC_KUBE_VERSION, else the newest pinned', async () => {
  const pinned = execFileSync('bash', [buildScript, '--list'], { encoding: 'utf8' }).trim().split('\n');
  assert.ok(pinned.length >= 1, 'at least one release is pinned');
  const requested = process.env['NSYNC_KUBE_VERSION'];
  const expected = requested
    ? pinned.find((version) => `${version}.`.startsWith(`v${requested.replace(/^v/, '')}.`))
    : pinned[0];
  assert.ok(expected, `${requested ?? ''} is one of the pinned releases ${pinned.join(', ')}`);
  const version = await cluster.api<{ gitVersion?: string; major?: string; minor?: string }>(
    'GET',
    '/version',
  );
  assert.equal(version.status, 200);
  assert.equal(version.body.gitVersion, expected);
  assert.equal(`v${version.body.major ?? ''}.${version.body.minor ?? ''}.`, expected.replace(/\d+$/, ''));
  assert.equal(cluster.version, expected, 'the harness reports the release it runs');
});

test('etcd is the minor the release is built against (its go.etcd.io/etcd/client/v3)', () => {
  const minor = /^v1\.(\d+)\./.exec(cluster.version)?.[1] ?? '';
  const wrapper = readFileSync(
    new URL(`../tools/controlplane/kubernetes/1.${minor}/go.mod`, import.meta.url),
    'utf8',
  );
  const client = /^\s*go\.etcd\.io\/etcd\/client\/v3 v(\d+\.\d+)\./m.exec(wrapper)?.[1];
  assert.ok(client, `the 1.${minor} wrapper names its etcd client`);
  assert.ok(
    cluster.etcdVersion.startsWith(`${client}.`),
    `etcd ${cluster.etcdVersion} runs under Kubernetes ${cluster.version}, built against etcd ${client}`,
  );
});

test('build.sh refuses a release that is not pinned, naming the pinned ones and how to pin', () => {
  for (const [version, says] of [
    ['1.2', /1\.2 is not pinned; pinned: v1\.\d+\.\d+/],
    ['v1.34.999', /v1\.34\.999 is not pinned; 1\.34 is pinned at v1\.34\.\d+[\s\S]*pin\.sh v1\.34\.999/],
    ['latest', /'latest' is not a Kubernetes version/],
  ] as const) {
    const run = spawnSync('bash', [buildScript, version], { encoding: 'utf8' });
    assert.equal(run.status, 2, `exit code for ${version}`);
    assert.match(run.stderr, says);
    assert.equal(run.stdout, '', 'prints no directory');
  }
});

test('a Secret can be created, listed and watched', async () => {
  const [ns = ''] = await createNamespaces(cluster, [{ name: uniqueName('cp-crud') }]);
  const transport = await Transport.create(loadKubeConfig({ kubeconfig: cluster.admin.kubeconfigPath }));
  const seen = new Map<string, RawObject>();
  const listWatch = new ListWatch({
    transport,
    resource: SECRETS,
    metadataOnly: true,
    sink: {
      convert: (raw) => raw,
      relisted: (items) => {
        for (const item of items) seen.set(`${item.metadata.namespace ?? ''}/${item.metadata.name}`, item);
      },
      event: (type, object) => {
        const key = `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
        if (type === 'DELETED') seen.delete(key);
        else seen.set(key, object);
      },
    },
  });
  const stop = new AbortController();
  const running = listWatch.run(stop.signal);
  try {
    await listWatch.synced();
    const created = await cluster.api('POST', `/api/v1/namespaces/${ns}/secrets`, {
      metadata: { name: 'hello', labels: { test: 'crud' } },
      stringData: { greeting: 'hi' },
    });
    assert.equal(created.status, 201);
    const watched = await eventually('the watch to deliver the Secret', () => seen.get(`${ns}/hello`));
    assert.equal(watched.metadata.labels?.['test'], 'crud');
    assert.equal(watched.data, undefined, 'a metadata-only watch carries no data');
    const listed = await cluster.api<{ items: RawObject[] }>('GET', `/api/v1/namespaces/${ns}/secrets`);
    assert.deepEqual(
      listed.body.items.map((item) => item.metadata.name),
      ['hello'],
    );
    assert.equal(listed.body.items[0]?.data?.['greeting'], Buffer.from('hi').toString('base64'));
    assert.equal((await cluster.api('DELETE', `/api/v1/namespaces/${ns}/secrets/hello`)).status, 200);
    await eventually('the watch to deliver the deletion', () => (seen.has(`${ns}/hello`) ? undefined : true));
  } finally {
    stop.abort();
    await running;
    transport.close();
  }
});

test('a deleted namespace really disappears (kube-controller-manager runs)', async () => {
  const [ns = ''] = await createNamespaces(cluster, [{ name: uniqueName('cp-gone') }]);
  await cluster.api('POST', `/api/v1/namespaces/${ns}/configmaps`, {
    metadata: { name: 'c' },
    data: { a: 'b' },
  });
  assert.equal((await cluster.api('DELETE', `/api/v1/namespaces/${ns}`)).status, 200);
  await eventually(
    'the namespace to be gone',
    async () => ((await cluster.api('GET', `/api/v1/namespaces/${ns}`)).status === 404 ? true : undefined),
    { timeoutMs: 60_000 },
  );
});

test('an identity without RBAC is refused; bound to a Role it succeeds', async () => {
  const [ns = ''] = await createNamespaces(cluster, [{ name: uniqueName('cp-rbac') }]);
  const identity = await cluster.serviceAccountIdentity(ns, 'limited');
  const transport = await Transport.create(loadKubeConfig({ kubeconfig: identity.kubeconfigPath }));
  const listSecrets = async (): Promise<number> => {
    try {
      return (await transport.json({ method: 'GET', path: `/api/v1/namespaces/${ns}/secrets` })).status;
    } catch (error) {
      if (error instanceof ApiError) return error.status;
      throw error;
    }
  };
  try {
    assert.equal(await listSecrets(), 403);
    await cluster.api('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
      metadata: { name: 'read-secrets' },
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }],
    });
    await cluster.api('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
      metadata: { name: 'read-secrets' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-secrets' },
      subjects: [{ kind: 'ServiceAccount', name: 'limited', namespace: ns }],
    });
    await eventually('the RoleBinding to take effect', async () =>
      (await listSecrets()) === 200 ? true : undefined,
    );
    const user = cluster.users[0];
    assert.ok(user);
    const userTransport = await Transport.create(loadKubeConfig({ kubeconfig: user.kubeconfigPath }));
    try {
      await assert.rejects(
        userTransport.json({ method: 'GET', path: `/api/v1/namespaces/${ns}/secrets` }),
        (error: unknown) => error instanceof ApiError && error.status === 403,
      );
    } finally {
      userTransport.close();
    }
  } finally {
    transport.close();
  }
});

test('a watch is re-established after the API server and etcd restart in place', async () => {
  const own = await startControlPlane({ controllerManager: false });
  const transport = await Transport.create(loadKubeConfig({ kubeconfig: own.admin.kubeconfigPath }));
  const names = new Set<string>();
  const restarts: string[] = [];
  const listWatch = new ListWatch({
    transport,
    resource: SECRETS,
    metadataOnly: true,
    backoffMs: () => 100,
    onRestart: (reason) => restarts.push(reason),
    sink: {
      convert: (raw) => raw,
      relisted: (items) => {
        names.clear();
        for (const item of items) names.add(item.metadata.name);
      },
      event: (type, object) => {
        if (type === 'DELETED') names.delete(object.metadata.name);
        else names.add(object.metadata.name);
      },
    },
  });
  const stop = new AbortController();
  const running = listWatch.run(stop.signal);
  try {
    await listWatch.synced();
    await own.api('POST', '/api/v1/namespaces/default/secrets', { metadata: { name: 'before' } });
    await eventually('the first Secret', () => (names.has('before') ? true : undefined));

    const serverBefore = own.server;
    await own.restartApiServer();
    assert.equal(own.server, serverBefore, 'same port after restart');
    await own.api('POST', '/api/v1/namespaces/default/secrets', { metadata: { name: 'after-apiserver' } });
    await eventually('a Secret created after the API server restart', () =>
      names.has('after-apiserver') ? true : undefined,
    );

    await own.restartEtcd();
    await own.api('POST', '/api/v1/namespaces/default/secrets', { metadata: { name: 'after-etcd' } });
    await eventually('a Secret created after the etcd restart', () =>
      names.has('after-etcd') ? true : undefined,
    );
    assert.ok(names.has('before'), 'data survived both restarts');
    assert.ok(restarts.length >= 1, 'the watch noticed the restart');
  } finally {
    stop.abort();
    await running;
    transport.close();
    await own.stop();
  }
});

test('a component that exits at start fails the start at once, with the end of its log', async () => {
  await assert.rejects(
    startControlPlane({ controllerManager: false, apiserverFlags: ['--no-such-flag-for-the-harness'] }),
    (error: unknown) =>
      error instanceof Error &&
      /^kube-apiserver exited \(exit code \d+\) before it was ready/.test(error.message) &&
      error.message.includes('no-such-flag-for-the-harness'),
  );
});
