/**
 * `--remote-kubeconfig` changed while nsync runs (docs/multicluster.md "When the file changes",
 * docs/adr/0028), against real clusters: the shared control plane is the source cluster ("home");
 * two more are the targets "east" (in the file from the start, reached as a ServiceAccount whose
 * token is rotated) and "west" (added, then removed). The file is rewritten the way the kubelet
 * updates a mounted Secret: a new directory, then an atomic rename of the `..data` symlink.
 */
import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLUSTER_LABEL } from '../src/app/remote/registration.ts';
import type { RemoteCluster } from '../src/app/remote/cluster.ts';
import { kubed } from '../src/rules/markers.ts';
import { startControlPlane, type Cluster, type ControlPlane } from '../tools/controlplane/harness.ts';
import {
  b64,
  createNamespaces,
  createObject,
  eventsAbout,
  eventually,
  patchObject,
  sharedCluster,
  uniqueName,
} from './support/cluster.ts';
import { hasValue, secretWithValue, valueIn } from './support/secret-values.ts';
import { startNsync, type RunningNsync } from './support/nsync.ts';
import { applyManifests, targetSideManifests } from './support/target-side.ts';

const CONVERGE = { timeoutMs: 60_000, intervalMs: 200 };

const home = sharedCluster();
const prefix = uniqueName('rk');
const source = `${prefix}-src`;
/** nsync's own namespace on home: registrations live there, and the file's Warning Events. */
const own = `${prefix}-nsync`;
/** The Pod a refused file is reported on: this nsync's identity (no $POD_NAME in tests). */
const identity = `${hostname()}-${String(process.pid)}`;
let east: ControlPlane;
let west: ControlPlane;
let nsync: RunningNsync;
/** The mounted Secret's directory, as the kubelet lays it out; nsync reads `<dir>/kubeconfig`. */
let mount: string;
let generation = 0;
/** Every token and credential file handed to nsync here: none may appear in its log. */
const secrets: string[] = [];

/** deploy/target's namespace and ServiceAccount in east: nsync's shipped identity there. */
const TARGET_SIDE = 'nsync-remote';

/**
 * A token of a ServiceAccount in deploy/target's namespace holding exactly deploy/target's rights
 * (cluster-wide: the file's contexts name no namespace). Another name than the shipped one is
 * bound to the same ClusterRoles: the identity a rotation moves to.
 */
async function eastServiceAccount(name: string): Promise<string> {
  if (name !== TARGET_SIDE)
    await applyManifests(
      east,
      targetSideManifests('cluster-wide')
        .filter((object) => object.kind === 'ClusterRoleBinding')
        .map((binding) => ({
          ...binding,
          metadata: { name: `${binding.metadata.name}-${name}` },
          subjects: [{ kind: 'ServiceAccount', name, namespace: TARGET_SIDE }],
        })),
    );
  const { token } = await east.serviceAccountIdentity(TARGET_SIDE, name);
  secrets.push(token);
  return token;
}

interface Context {
  readonly name: string;
  readonly cluster: Cluster;
  readonly token: string;
}

/** A kubeconfig with these contexts (CA inline, as a Secret holds it). */
function kubeconfigText(contexts: readonly Context[]): string {
  const lines = ['apiVersion: v1', 'kind: Config', 'clusters:'];
  for (const { name, cluster } of contexts)
    lines.push(
      `- name: ${name}`,
      '  cluster:',
      `    server: ${cluster.server}`,
      `    certificate-authority-data: ${b64(readFileSync(cluster.caFile, 'utf8'))}`,
    );
  lines.push('users:');
  for (const { name, token } of contexts) lines.push(`- name: ${name}`, '  user:', `    token: ${token}`);
  lines.push('contexts:');
  for (const { name } of contexts)
    lines.push(`- name: ${name}`, '  context:', `    cluster: ${name}`, `    user: ${name}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Replaces the file as the kubelet's atomic writer does: the new content in a new timestamped
 * directory, a `..data_tmp` symlink to it renamed over `..data`, the old directory removed.
 * `kubeconfig` itself is a symlink through `..data`, so nsync's path never changes.
 */
function kubeletWrite(text: string): void {
  generation += 1;
  const version = `..${String(generation).padStart(4, '0')}_${String(Date.now())}`;
  mkdirSync(join(mount, version));
  writeFileSync(join(mount, version, 'kubeconfig'), text, { mode: 0o600 });
  symlinkSync(version, join(mount, '..data_tmp'));
  renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
  if (current === undefined) symlinkSync(join('..data', 'kubeconfig'), join(mount, 'kubeconfig'));
  else rmSync(join(mount, current), { recursive: true });
  current = version;
}
/** The directory `..data` points at now. */
let current: string | undefined;

async function setSourceValue(value: string): Promise<void> {
  await patchObject(home, `/api/v1/namespaces/${source}/secrets/cert`, { data: { value: b64(value) } });
}

async function metric(name: string, cluster?: string): Promise<number | undefined> {
  const text = await nsync.metrics.registry.getSingleMetricAsString(name);
  const head = cluster === undefined ? `${name} ` : `${name}{cluster="${cluster}"} `;
  const line = text.split('\n').find((entry) => entry.startsWith(head));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

/**
 * The running pipeline of that cluster. Compared by identity with assert.ok only: a failing
 * assert.equal would print the whole object graph (caches, sockets), which takes the process down.
 */
function pipeline(name: string): RemoteCluster | undefined {
  return nsync.controller.remotes.find((remote) => remote.name === name);
}

/** A remote queue with nothing left: a key that reached every pipeline has been handled there. */
function queueIdle(name: string) {
  return (): true | undefined => {
    const queue = pipeline(name)?.queue;
    return queue !== undefined && queue.depth() === 0 && queue.inFlight() === 0 ? true : undefined;
  };
}

let eastToken: string;
let westContext: Context;

before(async () => {
  [east, west] = await Promise.all([
    startControlPlane({ controllerManager: false }),
    startControlPlane({ controllerManager: false }),
  ]);
  await createNamespaces(home, [{ name: source }, { name: own }]);
  await createNamespaces(east, [{ name: source }]);
  await createNamespaces(west, [{ name: source }]);
  await applyManifests(east, targetSideManifests('cluster-wide'));
  eastToken = await eastServiceAccount(TARGET_SIDE);
  westContext = { name: 'west', cluster: west, token: west.admin.token };
  secrets.push(west.admin.token);
  mount = mkdtempSync(join(tmpdir(), `${prefix}-mount-`));
  kubeletWrite(kubeconfigText([{ name: 'east', cluster: east, token: eastToken }]));
  nsync = await startNsync(
    home,
    [`${prefix}-*`],
    [
      '--cluster-name=home',
      `--remote-kubeconfig=${join(mount, 'kubeconfig')}`,
      '--remote-kubeconfig-check-period=500ms',
      '--registered-clusters',
      `--own-namespace=${own}`,
    ],
  );
  await createObject(
    home,
    'secrets',
    source,
    secretWithValue('cert', 'v1', { [kubed.syncContexts]: 'east, west' }),
  );
  await eventually('east copy', hasValue(east, source, 'cert', 'v1'), CONVERGE);
});

after(async () => {
  await nsync.stop();
  await Promise.all([east.stop(), west.stop()]);
  rmSync(mount, { recursive: true, force: true });
});

test('a rotated token (old ServiceAccount deleted) is picked up from the swapped file, without a restart', async () => {
  const before = pipeline('east');
  const oldToken = eastToken;
  eastToken = await eastServiceAccount('nsync-remote-2');
  kubeletWrite(kubeconfigText([{ name: 'east', cluster: east, token: eastToken }]));
  const deleted = await east.api(
    'DELETE',
    `/api/v1/namespaces/${TARGET_SIDE}/serviceaccounts/${TARGET_SIDE}`,
  );
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  await eventually(
    'the old token to be refused',
    async () => ((await east.apiAs(oldToken, 'GET', '/api/v1/namespaces')).status === 401 ? true : undefined),
    CONVERGE,
  );
  await setSourceValue('v2');
  await eventually('east updated with the new token', hasValue(east, source, 'cert', 'v2'), CONVERGE);
  assert.ok(pipeline('east') !== before, 'the east pipeline was rebuilt');
});

test('a context added starts its pipeline (a registration of that server gives way); the unchanged context is left alone', async () => {
  // west registered as a cluster of its own while no context reaches it: it runs.
  await createObject(home, 'secrets', own, {
    metadata: { name: 'cluster-west', labels: { [CLUSTER_LABEL]: 'west-reg' } },
    type: 'Opaque',
    data: {
      server: b64(west.server),
      token: b64(west.admin.token),
      'ca.crt': b64(readFileSync(west.caFile, 'utf8')),
    },
  });
  await eventually(
    'west-reg running',
    () => (pipeline('west-reg') === undefined ? undefined : true),
    CONVERGE,
  );
  const eastBefore = pipeline('east');
  kubeletWrite(kubeconfigText([{ name: 'east', cluster: east, token: eastToken }, westContext]));
  await eventually('west copy', hasValue(west, source, 'cert', 'v2'), CONVERGE);
  assert.ok(pipeline('east') === eastBefore, 'east kept its pipeline: no reconnect, no relist');
  // A context wins over a registration of the same server, as at start.
  assert.ok(pipeline('west-reg') === undefined, 'west-reg stopped: the context took its server');
  const refused = await eventually(
    'ClusterRegistrationInvalid on the registration',
    async () =>
      (await eventsAbout(home, own, 'cluster-west')).find(
        (event) => event.reason === 'ClusterRegistrationInvalid' && event.note.includes('context "west"'),
      ),
    CONVERGE,
  );
  assert.equal(refused.type, 'Warning');
  await eventually(
    'west up',
    async () => ((await metric('nsync_remote_cluster_up', 'west')) === 1 ? true : undefined),
    CONVERGE,
  );
});

test('an unusable file (bad YAML, two contexts for one server) keeps every pipeline, is reported on the Pod and counted', async () => {
  const eastBefore = pipeline('east');
  const westBefore = pipeline('west');
  const errorsBefore = (await metric('nsync_remote_kubeconfig_reload_errors_total')) ?? 0;
  const cases: [string, RegExp][] = [
    [`clusters: [\n  token: ${eastToken}\n  - {`, /is not valid YAML/],
    [
      kubeconfigText([
        { name: 'east', cluster: east, token: eastToken },
        westContext,
        { name: 'east-again', cluster: east, token: eastToken },
      ]),
      /contexts "east" and "east-again" reach the same API server/,
    ],
  ];
  let value = 2;
  for (const [text, expected] of cases) {
    kubeletWrite(text);
    const event = await eventually(
      `RemoteKubeconfigInvalid matching ${String(expected)}`,
      async () =>
        (await eventsAbout(home, own, identity)).find(
          (entry) => entry.reason === 'RemoteKubeconfigInvalid' && expected.test(entry.note),
        ),
      CONVERGE,
    );
    assert.equal(event.type, 'Warning');
    for (const secret of secrets) assert.ok(!event.note.includes(secret), 'a token in the Event');
    value += 1;
    await setSourceValue(`v${String(value)}`);
    await eventually('east still served', hasValue(east, source, 'cert', `v${String(value)}`), CONVERGE);
    await eventually('west still served', hasValue(west, source, 'cert', `v${String(value)}`), CONVERGE);
    assert.ok(pipeline('east') === eastBefore, 'east kept its pipeline');
    assert.ok(pipeline('west') === westBefore, 'west kept its pipeline');
  }
  assert.ok(
    ((await metric('nsync_remote_kubeconfig_reload_errors_total')) ?? 0) >= errorsBefore + cases.length,
  );
});

test('a context removed stops its pipeline and its metric series; its copy is left; the registration it blocked runs', async () => {
  const eastBefore = pipeline('east');
  kubeletWrite(kubeconfigText([{ name: 'east', cluster: east, token: eastToken }]));
  await eventually(
    'west series removed',
    async () => ((await metric('nsync_remote_cluster_up', 'west')) === undefined ? true : undefined),
    CONVERGE,
  );
  const left = await valueIn(west, source, 'cert');
  await setSourceValue('v9');
  await eventually('east updated', hasValue(east, source, 'cert', 'v9'), CONVERGE);
  await eventually("east's queue idle", queueIdle('east'), CONVERGE);
  assert.equal(await valueIn(west, source, 'cert'), left, 'nothing writes to west any more; its copy stays');
  assert.ok(pipeline('west') === undefined, 'the west pipeline stopped');
  assert.ok(pipeline('east') === eastBefore, 'east (unchanged) kept its pipeline');
  await eventually(
    'west-reg running again',
    () => (pipeline('west-reg') === undefined ? undefined : true),
    CONVERGE,
  );
  const success = await metric('nsync_remote_kubeconfig_last_reload_success_timestamp_seconds');
  assert.ok(success !== undefined && success > 0);
});

test('no token given to nsync appears in its log', () => {
  assert.ok(nsync.logs.some((line) => line.includes('remote kubeconfig refused')));
  const text = nsync.logs.join('\n');
  for (const secret of secrets) {
    assert.ok(!text.includes(secret), 'a token was logged');
    assert.ok(!text.includes(b64(secret)), 'a token was logged base64-encoded');
  }
  assert.ok(secrets.length >= 3);
});
