/**
 * Registered clusters against real clusters (docs/multicluster.md "Registered clusters",
 * docs/adr/0021): the shared control plane is the source cluster ("home"), where nsync runs with
 * --registered-clusters; two more control planes are targets, "east" registered by server + token +
 * CA (confined to one namespace, reached as a least-privilege ServiceAccount) and "west" by a
 * kubeconfig. Sources name them with kubed's sync-contexts, which reads a registered cluster's name
 * as it reads a context's.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLUSTER_LABEL } from '../src/app/remote/registration.ts';
import { kubed } from '../src/rules/markers.ts';
import { startControlPlane, type Cluster, type ControlPlane } from '../tools/controlplane/harness.ts';
import {
  b64,
  createNamespaces,
  createObject,
  eventsAbout,
  eventually,
  getObject,
  patchObject,
  sharedCluster,
  uniqueName,
} from './support/cluster.ts';
import { hasValue, valueIn } from './support/secret-values.ts';
import { startNsync, type RunningNsync } from './support/nsync.ts';

const CONVERGE = { timeoutMs: 150_000, intervalMs: 250 };

const home = sharedCluster();
const prefix = uniqueName('reg');
const source = `${prefix}-src`;
/** nsync's own namespace on home: where the registrations live. */
const own = `${prefix}-nsync`;
/** east's registration confines it to this namespace. */
const eastNamespace = `${prefix}-apps`;
/** In east: the ServiceAccounts nsync uses there (the second one after the rotation). */
const eastIdentityNamespace = 'nsync-remote';
let east: ControlPlane;
let west: ControlPlane;
let nsync: RunningNsync;
/** Every token handed to nsync in this file: none may appear in its log. */
const tokens: string[] = [];
let eastToken: string;

const RBAC = '/apis/rbac.authorization.k8s.io/v1';

/** The shipped target-side rights (deploy/target) for one ServiceAccount in east, in east's target namespace. */
async function grantEast(serviceAccount: string): Promise<string> {
  const subject = [{ kind: 'ServiceAccount', name: serviceAccount, namespace: eastIdentityNamespace }];
  const bindings: [string, object][] = [
    [
      `${RBAC}/clusterrolebindings`,
      {
        metadata: { name: `${serviceAccount}-namespaces` },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'nsync-remote-namespaces',
        },
        subjects: subject,
      },
    ],
    [
      `${RBAC}/namespaces/${eastNamespace}/rolebindings`,
      {
        metadata: { name: `${serviceAccount}-mirrors` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'nsync-remote-mirrors' },
        subjects: subject,
      },
    ],
  ];
  for (const [path, body] of bindings) {
    const answer = await east.api('POST', path, body);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
  }
  const identity = await east.serviceAccountIdentity(eastIdentityNamespace, serviceAccount);
  tokens.push(identity.token);
  return identity.token;
}

async function createEastRoles(): Promise<void> {
  const roles = [
    { name: 'nsync-remote-namespaces', resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
    {
      name: 'nsync-remote-mirrors',
      resources: ['secrets', 'configmaps'],
      verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
    },
  ];
  for (const role of roles) {
    const answer = await east.api('POST', `${RBAC}/clusterroles`, {
      metadata: { name: role.name },
      rules: [{ apiGroups: [''], resources: role.resources, verbs: role.verbs }],
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
  }
}

function caOf(cluster: Cluster): string {
  return readFileSync(cluster.caFile, 'utf8');
}

/** A registration Secret in nsync's namespace: the data as given (plain text), labelled with the cluster name. */
function registration(
  name: string,
  cluster: string,
  data: Record<string, string>,
  labels: Record<string, string> = {},
): object {
  return {
    metadata: { name, labels: { [CLUSTER_LABEL]: cluster, ...labels } },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([key, value]) => [key, b64(value)])),
  };
}

/** west's registration: a kubeconfig whose current-context reaches west as its admin (CA inline). */
function westKubeconfig(): string {
  tokens.push(west.admin.token);
  return [
    'apiVersion: v1',
    'kind: Config',
    'current-context: west',
    'clusters:',
    '- name: west',
    '  cluster:',
    `    server: ${west.server}`,
    `    certificate-authority-data: ${b64(caOf(west))}`,
    'users:',
    '- name: west',
    '  user:',
    `    token: ${west.admin.token}`,
    'contexts:',
    '- name: west',
    '  context:',
    '    cluster: west',
    '    user: west',
    '',
  ].join('\n');
}

async function setSourceValue(value: string): Promise<void> {
  await patchObject(home, `/api/v1/namespaces/${source}/secrets/cert`, { data: { value: b64(value) } });
}

async function upMetric(cluster: string): Promise<number | undefined> {
  const text = await nsync.metrics.registry.getSingleMetricAsString('nsync_remote_cluster_up');
  const line = text
    .split('\n')
    .find((entry) => entry.startsWith(`nsync_remote_cluster_up{cluster="${cluster}"}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

before(async () => {
  [east, west] = await Promise.all([
    startControlPlane({ controllerManager: false }),
    startControlPlane({ controllerManager: false }),
  ]);
  await createNamespaces(home, [{ name: source }, { name: own }]);
  await createNamespaces(east, [{ name: eastNamespace }, { name: eastIdentityNamespace }]);
  await createNamespaces(west, [{ name: source }]);
  await createEastRoles();
  eastToken = await grantEast('nsync-remote');
  nsync = await startNsync(
    home,
    [`${prefix}-*`],
    ['--cluster-name=home', '--registered-clusters', `--own-namespace=${own}`, '--resync-period=20s'],
  );
});

after(async () => {
  await nsync.stop();
  await Promise.all([east.stop(), west.stop()]);
});

test('clusters registered by server + token + CA (confined to a namespace) and by a kubeconfig receive copies, without a restart', async () => {
  await createObject(
    home,
    'secrets',
    own,
    registration(
      'cluster-east',
      'east',
      { server: east.server, token: eastToken, 'ca.crt': caOf(east), namespace: eastNamespace },
      { env: 'prod' },
    ),
  );
  await createObject(
    home,
    'secrets',
    own,
    registration('cluster-west', 'west', { kubeconfig: westKubeconfig() }),
  );
  // Both running before the source names them (else its first reconcile rightly reports them unknown).
  await eventually(
    'both registrations running',
    () => (nsync.controller.remotes.length === 2 ? true : undefined),
    CONVERGE,
  );
  await createObject(home, 'secrets', source, {
    metadata: { name: 'cert', annotations: { [kubed.syncContexts]: 'east, west' } },
    type: 'Opaque',
    data: { value: b64('v1') },
  });
  await eventually(
    'east copy (its registered namespace)',
    hasValue(east, eastNamespace, 'cert', 'v1'),
    CONVERGE,
  );
  await eventually('west copy (the source namespace)', hasValue(west, source, 'cert', 'v1'), CONVERGE);
  const copy = await getObject(east, 'secrets', eastNamespace, 'cert');
  const labels = copy?.metadata.labels ?? {};
  assert.equal(labels[kubed.originCluster], 'home');
  assert.equal(labels[kubed.originNamespace], source);
  await eventually('east up', async () => ((await upMetric('east')) === 1 ? true : undefined), CONVERGE);
  await eventually('west up', async () => ((await upMetric('west')) === 1 ? true : undefined), CONVERGE);
  // The source names registered clusters: nothing is reported unsupported about them.
  await nsync.idle();
  // This nsync's own Events: another test file may run an nsync without remote clusters on the
  // shared control plane meanwhile, which rightly says sync-contexts is not enabled there.
  const identity = `${hostname()}-${String(process.pid)}`;
  const events = await eventsAbout(home, source, 'cert');
  assert.deepEqual(
    events.filter((event) => event.type === 'Warning' && event.reportingInstance === identity),
    [],
  );
});

test('a rotated credential (new ServiceAccount, old one deleted) is picked up: copies keep flowing, no restart', async () => {
  const oldToken = eastToken;
  const newToken = await grantEast('nsync-remote-2');
  await patchObject(home, `/api/v1/namespaces/${own}/secrets/cluster-east`, {
    data: { token: b64(newToken) },
  });
  // Revoke the old credential: its ServiceAccount is gone, so its token is refused from now on.
  const deleted = await east.api(
    'DELETE',
    `/api/v1/namespaces/${eastIdentityNamespace}/serviceaccounts/nsync-remote`,
  );
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  await eventually(
    'the old token to be refused',
    async () => ((await east.apiAs(oldToken, 'GET', '/api/v1/namespaces')).status === 401 ? true : undefined),
    CONVERGE,
  );
  await setSourceValue('v2');
  await eventually(
    'east updated with the new credential',
    hasValue(east, eastNamespace, 'cert', 'v2'),
    CONVERGE,
  );
  await eventually('west updated', hasValue(west, source, 'cert', 'v2'), CONVERGE);
  const copy = await getObject(east, 'secrets', eastNamespace, 'cert');
  const writers = (copy?.metadata.managedFields ?? []).map((entry) => entry.manager);
  assert.ok(writers.includes('nsync'), JSON.stringify(writers));
  assert.ok(
    nsync.logs.some(
      (line) => line.includes('registered cluster stopped') && line.includes('registration changed'),
    ),
    'the east pipeline was rebuilt',
  );
  await eventually(
    'east up again',
    async () => ((await upMetric('east')) === 1 ? true : undefined),
    CONVERGE,
  );
});

test('an invalid registration gets ClusterRegistrationInvalid, runs nothing, and the other clusters keep working', async () => {
  const marker = join(east.dir, `exec-ran-${prefix}`);
  const execToken = `exec-token-${prefix}`;
  tokens.push(execToken);
  const execKubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    'current-context: bad',
    'clusters:',
    '- name: bad',
    '  cluster:',
    '    server: https://127.0.0.1:1',
    'users:',
    '- name: bad',
    '  user:',
    '    exec:',
    '      apiVersion: client.authentication.k8s.io/v1',
    '      command: /bin/sh',
    `      args: ["-c", "touch ${marker}; echo '{\\"apiVersion\\":\\"client.authentication.k8s.io/v1\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"${execToken}\\"}}'"]`,
    '      interactiveMode: Never',
    'contexts:',
    '- name: bad',
    '  context:',
    '    cluster: bad',
    '    user: bad',
    '',
  ].join('\n');
  await createObject(
    home,
    'secrets',
    own,
    registration('cluster-plugin', 'plugin', { kubeconfig: execKubeconfig }),
  );
  // This very cluster, registered as a target.
  await createObject(
    home,
    'secrets',
    own,
    registration('cluster-self', 'self', {
      server: home.server,
      token: home.admin.token,
      'ca.crt': caOf(home),
    }),
  );
  tokens.push(home.admin.token);
  for (const [name, expected] of [
    ['cluster-plugin', /uses exec, which a kubeconfig in a Secret may not/],
    ['cluster-self', /already reached as this cluster/],
  ] as const) {
    const event = await eventually(
      `ClusterRegistrationInvalid on ${name}`,
      async () =>
        (await eventsAbout(home, own, name)).find((entry) => entry.reason === 'ClusterRegistrationInvalid'),
      CONVERGE,
    );
    assert.equal(event.type, 'Warning');
    assert.match(event.note, expected);
  }
  assert.equal(existsSync(marker), false, 'the exec plugin of a registration must never run');
  await setSourceValue('v3');
  await eventually('east still served', hasValue(east, eastNamespace, 'cert', 'v3'), CONVERGE);
  await eventually('west still served', hasValue(west, source, 'cert', 'v3'), CONVERGE);
  assert.equal(await upMetric('plugin'), undefined);
  assert.equal(await upMetric('self'), undefined);
});

test('a deleted registration stops writes there and drops its metric series; its copies stay', async () => {
  const answer = await home.api('DELETE', `/api/v1/namespaces/${own}/secrets/cluster-west`);
  assert.equal(answer.status, 200);
  await eventually(
    'west series removed',
    async () => ((await upMetric('west')) === undefined ? true : undefined),
    CONVERGE,
  );
  await setSourceValue('v4');
  await eventually('east updated', hasValue(east, eastNamespace, 'cert', 'v4'), CONVERGE);
  // The key reached every remote queue at once: once east's queue is idle too, a west pipeline
  // would have written v4 by now. (Only the remote queue matters here; the local one may be busy
  // with its periodic resync on a loaded machine.)
  await eventually(
    "east's queue idle",
    () => {
      const queue = nsync.controller.remotes.find((remote) => remote.name === 'east')?.queue;
      return queue !== undefined && queue.depth() === 0 && queue.inFlight() === 0 ? true : undefined;
    },
    CONVERGE,
  );
  assert.equal(
    await valueIn(west, source, 'cert'),
    'v3',
    'nothing writes to west any more; its copy is left',
  );
  assert.ok(nsync.controller.remotes.every((remote) => remote.name !== 'west'));
  // The source still names west: the local pipeline reports that no such cluster is there now.
  await eventually(
    'the source told west is unknown',
    async () =>
      (await eventsAbout(home, source, 'cert')).find(
        (event) => event.reason === 'UnsupportedFeature' && event.note.includes('"west"'),
      ),
    CONVERGE,
  );
});

test('no token given to nsync appears in its log', () => {
  assert.ok(nsync.logs.length > 0);
  const text = nsync.logs.join('\n');
  for (const token of tokens) {
    assert.ok(!text.includes(token), 'a token was logged');
    assert.ok(!text.includes(b64(token)), 'a token was logged base64-encoded');
  }
  assert.ok(tokens.length >= 4);
});
