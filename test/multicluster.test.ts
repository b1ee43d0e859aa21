/**
 * kubed's sync-contexts against real clusters (docs/multicluster.md, docs/adr/0018): the shared
 * control plane is the source cluster ("home"); two more control planes are the targets "east"
 * (its context names a namespace) and "west" (it does not: copies go to the source's namespace).
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { kubed, owned } from '../src/rules/markers.ts';
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
import { gone, hasValue, valueIn } from './support/secret-values.ts';
import { startNsync, type RunningNsync } from './support/nsync.ts';
import { applyManifests, targetSideManifests } from './support/target-side.ts';

const CONVERGE = { timeoutMs: 150_000, intervalMs: 250 };

const home = sharedCluster();
const prefix = uniqueName('mc');
const source = `${prefix}-src`;
const eastNamespace = `${prefix}-east`;
const laterNamespace = `${prefix}-later`;
let east: ControlPlane;
let west: ControlPlane;
let kubeconfig: string;
let nsync: RunningNsync;

/** The identity nsync uses in east: the shipped target-side ServiceAccount (deploy/target). */
let eastIdentity: { user: string; token: string };
function eastUser(): { user: string; token: string } {
  return eastIdentity;
}

/** Applies exactly the shipped target-side rights in east (nothing else is granted to nsync there). */
async function grantTargetRights(): Promise<void> {
  await applyManifests(east, targetSideManifests({ namespace: eastNamespace }));
  eastIdentity = await east.serviceAccountIdentity('nsync-remote', 'nsync-remote');
}

async function bindTargetRole(): Promise<void> {
  const binding = targetSideManifests({ namespace: eastNamespace }).filter(
    (object) => object.kind === 'RoleBinding',
  );
  assert.equal(binding.length, 1);
  await applyManifests(east, binding);
}

/** A kubeconfig of the target clusters, as an operator mounts it for kubed or nsync. */
function remoteKubeconfig(dir: string): string {
  const entry = (name: string, cluster: Cluster, namespace?: string): string[] => [
    name,
    cluster.server,
    cluster.caFile,
    cluster.admin.token,
    namespace ?? '',
  ];
  const entries = [entry('east', east, eastNamespace), entry('west', west)];
  // east: a user with exactly the target-side rights of a context that names a namespace.
  const restricted = entries[0];
  if (restricted !== undefined) restricted[3] = eastUser().token;
  const lines = ['apiVersion: v1', 'kind: Config', 'clusters:'];
  for (const [name, server, ca] of entries)
    lines.push(`- name: ${name}`, '  cluster:', `    server: ${server}`, `    certificate-authority: ${ca}`);
  lines.push('users:');
  for (const [name, , , token] of entries) lines.push(`- name: ${name}`, '  user:', `    token: ${token}`);
  lines.push('contexts:');
  for (const [name, , , , namespace] of entries) {
    lines.push(`- name: ${name}`, '  context:', `    cluster: ${name}`, `    user: ${name}`);
    if (namespace !== '') lines.push(`    namespace: ${namespace}`);
  }
  const path = join(dir, `remote-${prefix}.kubeconfig`);
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  return path;
}

function startHomeNsync(): Promise<RunningNsync> {
  return startNsync(
    home,
    [`${prefix}-*`],
    ['--cluster-name=home', `--remote-kubeconfig=${kubeconfig}`, '--resync-period=20s'],
  );
}

function sourceSecret(name: string, value: string, annotations: Record<string, string>): object {
  return {
    metadata: { name, annotations, labels: { team: 'blue' } },
    type: 'Opaque',
    data: { value: b64(value) },
  };
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
  await createNamespaces(home, [{ name: source }]);
  await createNamespaces(east, [{ name: eastNamespace }]);
  await grantTargetRights();
  kubeconfig = remoteKubeconfig(east.dir);
  await createNamespaces(west, [{ name: source }]);
  nsync = await startHomeNsync();
});

after(async () => {
  await nsync.stop();
  await Promise.all([east.stop(), west.stop()]);
});

test('sync-contexts copies into the context namespace (east) and the source namespace (west), marked with the source cluster, and follows changes', async () => {
  await createObject(
    home,
    'secrets',
    source,
    sourceSecret('cert', 'v1', { [kubed.syncContexts]: 'east, west' }),
  );
  await eventually('east copy', hasValue(east, eastNamespace, 'cert', 'v1'), CONVERGE);
  await eventually('west copy', hasValue(west, source, 'cert', 'v1'), CONVERGE);
  const copy = await getObject(east, 'secrets', eastNamespace, 'cert');
  const labels = copy?.metadata.labels ?? {};
  const annotations = copy?.metadata.annotations ?? {};
  assert.equal(labels[kubed.originCluster], 'home');
  assert.equal(labels[kubed.originNamespace], source);
  assert.equal(labels['team'], 'blue');
  assert.equal(annotations[owned.sourceCluster], 'home');
  assert.equal(labels[owned.managedByLabel], owned.managedByValue);
  // Served: no UnsupportedFeature report for sync-contexts any more (from this nsync: another test
  // file may run an nsync with the chart's unconfined arguments on the shared cluster meanwhile).
  await nsync.idle();
  const identity = `${hostname()}-${String(process.pid)}`;
  const events = (await eventsAbout(home, source, 'cert')).filter(
    (event) => event.reportingInstance === identity,
  );
  assert.ok(!events.some((event) => event.reason === 'UnsupportedFeature'), JSON.stringify(events));

  await patchObject(home, `/api/v1/namespaces/${source}/secrets/cert`, { data: { value: b64('v2') } });
  await eventually('east update', hasValue(east, eastNamespace, 'cert', 'v2'), CONVERGE);
  await eventually('west update', hasValue(west, source, 'cert', 'v2'), CONVERGE);
});

test('an object nsync does not own in a target cluster is left untouched and reported on the source', async () => {
  await createObject(west, 'secrets', source, {
    metadata: { name: 'taken' },
    data: { value: b64('theirs') },
  });
  await createObject(
    home,
    'secrets',
    source,
    sourceSecret('taken', 'ours', { [kubed.syncContexts]: 'west' }),
  );
  await eventually(
    'a conflict Event naming the cluster',
    async () =>
      (await eventsAbout(home, source, 'taken')).find(
        (event) => event.reason === 'RemoteConflictWithUnownedObject' && event.note.includes('west'),
      ),
    CONVERGE,
  );
  assert.equal(await valueIn(west, source, 'taken'), 'theirs');
  const object = await getObject(west, 'secrets', source, 'taken');
  assert.equal(object?.metadata.labels?.[owned.managedByLabel], undefined);
});

test('a copy kubed left in a target cluster is adopted in place (same UID) when nsync replaces kubed', async () => {
  // kubed ran until now: its source and its copy exist before nsync starts. (A copy whose source
  // does not exist is an orphan, and a running nsync would rightly delete it.)
  await nsync.stop();
  const left = await createObject(east, 'secrets', eastNamespace, {
    metadata: {
      name: 'legacy',
      labels: {
        [kubed.originName]: 'legacy',
        [kubed.originNamespace]: source,
        [kubed.originCluster]: 'home',
      },
      annotations: { [kubed.origin]: JSON.stringify({ name: 'legacy', namespace: source }) },
    },
    data: { value: b64('old') },
  });
  await createObject(
    home,
    'secrets',
    source,
    sourceSecret('legacy', 'new', { [kubed.syncContexts]: 'east' }),
  );
  nsync = await startHomeNsync();
  await eventually('adopted copy updated', hasValue(east, eastNamespace, 'legacy', 'new'), CONVERGE);
  const adopted = await getObject(east, 'secrets', eastNamespace, 'legacy');
  const adoptedLabels = adopted?.metadata.labels ?? {};
  assert.equal(adopted?.metadata.uid, left.metadata.uid);
  assert.equal(adoptedLabels[owned.managedByLabel], owned.managedByValue);
});

test('a context dropped from sync-contexts loses its copy; the other keeps it', async () => {
  await patchObject(home, `/api/v1/namespaces/${source}/secrets/cert`, {
    metadata: { annotations: { [kubed.syncContexts]: 'east' } },
  });
  await eventually('west copy deleted', gone(west, source, 'cert'), CONVERGE);
  assert.equal(await valueIn(east, eastNamespace, 'cert'), 'v2');
});

test('a namespace created later in the target cluster gets its copy', async () => {
  await createNamespaces(home, [{ name: laterNamespace }]);
  await createObject(
    home,
    'secrets',
    laterNamespace,
    sourceSecret('late', 'x', { [kubed.syncContexts]: 'west' }),
  );
  await nsync.idle();
  assert.equal(await getObject(west, 'secrets', laterNamespace, 'late'), undefined);
  await createNamespaces(west, [{ name: laterNamespace }]);
  await eventually('copy in the new namespace', hasValue(west, laterNamespace, 'late', 'x'), CONVERGE);
});

test('a target cluster that is down delays neither the local cluster nor the other target, and converges when back', async () => {
  await patchObject(home, `/api/v1/namespaces/${source}/secrets/cert`, {
    metadata: { annotations: { [kubed.syncContexts]: 'east,west' } },
  });
  await eventually('west copy back', hasValue(west, source, 'cert', 'v2'), CONVERGE);
  await east.stopApiServer();
  try {
    await eventually(
      'east reported down',
      async () => ((await upMetric('east')) === 0 ? true : undefined),
      CONVERGE,
    );
    assert.equal(await upMetric('west'), 1);
    await patchObject(home, `/api/v1/namespaces/${source}/secrets/cert`, { data: { value: b64('v3') } });
    // A local push made while east is down.
    await createNamespaces(home, [{ name: `${prefix}-local` }]);
    await createObject(home, 'secrets', source, sourceSecret('here', 'local', { [kubed.sync]: '' }));
    await eventually(
      'local mirror while east is down',
      async () => (await getObject(home, 'secrets', `${prefix}-local`, 'here')) ?? undefined,
      { timeoutMs: 30_000 },
    );
    await eventually('west updated while east is down', hasValue(west, source, 'cert', 'v3'), {
      timeoutMs: 30_000,
    });
    assert.deepEqual(nsync.controller.readiness().ok, true);
    assert.equal(await valueIn(west, source, 'cert'), 'v3');
  } finally {
    await east.startApiServer();
  }
  await eventually('east converges once back', hasValue(east, eastNamespace, 'cert', 'v3'), CONVERGE);
  await eventually(
    'east reported up',
    async () => ((await upMetric('east')) === 1 ? true : undefined),
    CONVERGE,
  );
});

test('east works with namespaced rights only, and revoked credentials there delay nothing else', async () => {
  const wide = await east.apiAs(eastUser().token, 'GET', '/api/v1/secrets');
  assert.equal(wide.status, 403, 'no cluster-wide Secret list in east');
  assert.equal(await valueIn(east, eastNamespace, 'cert'), 'v3');

  const revoked = await east.api(
    'DELETE',
    `/apis/rbac.authorization.k8s.io/v1/namespaces/${eastNamespace}/rolebindings/nsync-remote-mirrors`,
  );
  assert.equal(revoked.status, 200);
  try {
    await patchObject(home, `/api/v1/namespaces/${source}/secrets/cert`, { data: { value: b64('v4') } });
    await eventually('west updated while east refuses', hasValue(west, source, 'cert', 'v4'), {
      timeoutMs: 30_000,
    });
    await eventually(
      'a write failure Event naming east',
      async () =>
        (await eventsAbout(home, source, 'cert')).find(
          (event) => event.reason === 'RemoteMirrorWriteFailed' && event.note.includes('east'),
        ),
      CONVERGE,
    );
    assert.equal(await valueIn(east, eastNamespace, 'cert'), 'v3');
    assert.equal(nsync.controller.readiness().ok, true);
  } finally {
    await bindTargetRole();
  }
  await eventually(
    'east converges once the rights are back',
    hasValue(east, eastNamespace, 'cert', 'v4'),
    CONVERGE,
  );
});

test('deleting the source deletes its copies in every target cluster, also when nsync was down meanwhile', async () => {
  const answer = await home.api('DELETE', `/api/v1/namespaces/${source}/secrets/cert`);
  assert.equal(answer.status, 200);
  await eventually('east copy deleted', gone(east, eastNamespace, 'cert'), CONVERGE);
  await eventually('west copy deleted', gone(west, source, 'cert'), CONVERGE);

  await nsync.stop();
  assert.equal((await home.api('DELETE', `/api/v1/namespaces/${source}/secrets/legacy`)).status, 200);
  nsync = await startHomeNsync();
  await eventually(
    'copy of a source deleted while nsync was down',
    gone(east, eastNamespace, 'legacy'),
    CONVERGE,
  );
  // Nothing unowned was touched.
  assert.equal(await valueIn(west, source, 'taken'), 'theirs');
});
