/**
 * Native cluster selection against real clusters (docs/multicluster.md "The native way",
 * docs/adr/0022): the shared control plane is this cluster ("home", by --cluster-name); two more
 * control planes are the kubeconfig contexts "edge-a" (admin, cluster-wide) and "edge-b" (its
 * context confines it to one namespace). Contexts have no labels and accept every source
 * namespace; label selectors over clusters and accept-from are unit-tested (src/rules/clusters.test.ts,
 * src/app/remote/cluster.test.ts), since only registered clusters carry them.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { MirrorStatusV1 } from '../src/api/types.ts';
import { kubed, native, owned } from '../src/rules/markers.ts';
import { installCrds } from '../tools/controlplane/crds.ts';
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
import { gone, hasValue, secretWithValue, valueIn } from './support/secret-values.ts';
import { startNsync, type RunningNsync } from './support/nsync.ts';

const CONVERGE = { timeoutMs: 150_000, intervalMs: 250 };

const home = sharedCluster();
const prefix = uniqueName('mcn');
const src = `${prefix}-src`;
const teamA = `${prefix}-team-a`;
const teamB = `${prefix}-team-b`;
const teamC = `${prefix}-team-c`;
let edgeA: ControlPlane;
let edgeB: ControlPlane;
let nsync: RunningNsync;

/** A kubeconfig with the contexts edge-a (no namespace) and edge-b (confined to team-a). */
function remoteKubeconfig(dir: string): string {
  const entries: [string, Cluster, string | undefined][] = [
    ['edge-a', edgeA, undefined],
    ['edge-b', edgeB, teamA],
  ];
  const lines = ['apiVersion: v1', 'kind: Config', 'clusters:'];
  for (const [name, cluster] of entries)
    lines.push(
      `- name: ${name}`,
      '  cluster:',
      `    server: ${cluster.server}`,
      `    certificate-authority: ${cluster.caFile}`,
    );
  lines.push('users:');
  for (const [name, cluster] of entries)
    lines.push(`- name: ${name}`, '  user:', `    token: ${cluster.admin.token}`);
  lines.push('contexts:');
  for (const [name, , namespace] of entries) {
    lines.push(`- name: ${name}`, '  context:', `    cluster: ${name}`, `    user: ${name}`);
    if (namespace !== undefined) lines.push(`    namespace: ${namespace}`);
  }
  const path = join(dir, `remote-${prefix}.kubeconfig`);
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  return path;
}

/** Waits until the local queue and every remote queue have nothing left to do. */
async function allIdle(): Promise<void> {
  await nsync.idle();
  await eventually('remote queues idle', () =>
    nsync.controller.remotes.every((remote) => remote.queue.depth() === 0 && remote.queue.inFlight() === 0)
      ? true
      : undefined,
  );
}

before(async () => {
  [edgeA, edgeB] = await Promise.all([
    startControlPlane({ controllerManager: false }),
    startControlPlane({ controllerManager: false }),
  ]);
  await installCrds(home);
  // Local labels differ from the remote ones: a remote selector must read the remote labels.
  await createNamespaces(home, [{ name: src }, { name: teamA }, { name: teamB, labels: { tier: 'gold' } }]);
  await createNamespaces(edgeA, [{ name: src }, { name: teamA, labels: { tier: 'gold' } }, { name: teamB }]);
  await createNamespaces(edgeB, [
    { name: teamA, labels: { tier: 'gold' } },
    { name: teamB, labels: { tier: 'gold' } },
  ]);
  const kubeconfig = remoteKubeconfig(edgeA.dir);
  nsync = await startNsync(
    home,
    [`${prefix}-*`],
    ['--cluster-name=home', `--remote-kubeconfig=${kubeconfig}`, '--resync-period=20s'],
  );
});

after(async () => {
  await nsync.stop();
  await Promise.all([edgeA.stop(), edgeB.stop()]);
});

test('push-to-clusters reaches the clusters its glob selects, with namespace globs and selector read against each remote cluster', async () => {
  await createObject(
    home,
    'secrets',
    src,
    secretWithValue('glob', 'v1', {
      [native.pushToClusters]: 'edge-*',
      [native.pushTo]: `${prefix}-team-*`,
      [native.pushToSelector]: 'tier=gold',
    }),
  );
  await eventually('edge-a team-a copy', hasValue(edgeA, teamA, 'glob', 'v1'), CONVERGE);
  await eventually('edge-b team-a copy', hasValue(edgeB, teamA, 'glob', 'v1'), CONVERGE);
  const copy = await getObject(edgeA, 'secrets', teamA, 'glob');
  const labels = copy?.metadata.labels ?? {};
  assert.equal(copy?.metadata.annotations?.[owned.sourceCluster], 'home');
  assert.equal(labels[kubed.originCluster], 'home');
  assert.equal(labels[owned.managedByLabel], owned.managedByValue);
  await allIdle();
  // edge-a's team-b lacks the label there (home's has it); edge-b is confined to team-a; home is
  // not selected by "edge-*".
  assert.equal(await getObject(edgeA, 'secrets', teamB, 'glob'), undefined);
  assert.equal(await getObject(edgeB, 'secrets', teamB, 'glob'), undefined);
  assert.equal(await getObject(home, 'secrets', teamB, 'glob'), undefined);
  // The operator's exclusions (every namespace but this test's) are no news for the namespaces the
  // rule does not select: no Warning per remote namespace.
  const identity = `${hostname()}-${String(process.pid)}`;
  const events = (await eventsAbout(home, src, 'glob')).filter(
    (event) => event.reportingInstance === identity,
  );
  assert.ok(!events.some((event) => event.reason === 'RemoteMirrorSkipped'), JSON.stringify(events));

  await patchObject(home, `/api/v1/namespaces/${src}/secrets/glob`, { data: { value: b64('v2') } });
  await eventually('edge-a update', hasValue(edgeA, teamA, 'glob', 'v2'), CONVERGE);
  await eventually('edge-b update', hasValue(edgeB, teamA, 'glob', 'v2'), CONVERGE);
});

test('a namespace created later in a selected cluster gets its copy', async () => {
  await createNamespaces(edgeA, [{ name: teamC, labels: { tier: 'gold' } }]);
  await eventually('copy in the new namespace', hasValue(edgeA, teamC, 'glob', 'v2'), CONVERGE);
});

test('a cluster leaving the selection loses its copies; the other keeps them', async () => {
  await patchObject(home, `/api/v1/namespaces/${src}/secrets/glob`, {
    metadata: { annotations: { [native.pushToClusters]: 'edge-*, !edge-b' } },
  });
  await eventually('edge-b copy deleted', gone(edgeB, teamA, 'glob'), CONVERGE);
  assert.equal(await valueIn(edgeA, teamA, 'glob'), 'v2');
  assert.equal(await valueIn(edgeA, teamC, 'glob'), 'v2');
});

test('"*" includes this cluster; leaving it deletes the local mirror and keeps the remote ones', async () => {
  await createObject(
    home,
    'secrets',
    src,
    secretWithValue('everywhere', 'x', { [native.pushToClusters]: '*', [native.pushTo]: teamA }),
  );
  await eventually('home copy', hasValue(home, teamA, 'everywhere', 'x'), CONVERGE);
  await eventually('edge-a copy', hasValue(edgeA, teamA, 'everywhere', 'x'), CONVERGE);
  await eventually('edge-b copy', hasValue(edgeB, teamA, 'everywhere', 'x'), CONVERGE);
  const local = await getObject(home, 'secrets', teamA, 'everywhere');
  assert.equal(
    local?.metadata.annotations?.[owned.sourceCluster],
    undefined,
    'a local mirror names no cluster',
  );

  await patchObject(home, `/api/v1/namespaces/${src}/secrets/everywhere`, {
    metadata: { annotations: { [native.pushToClusters]: 'edge-*' } },
  });
  await eventually('home copy deleted', gone(home, teamA, 'everywhere'), CONVERGE);
  await allIdle();
  assert.equal(await valueIn(edgeA, teamA, 'everywhere'), 'x');
  assert.equal(await valueIn(edgeB, teamA, 'everywhere'), 'x');
});

test("a ClusterMirror with spec.clusters copies into the source's own namespace of the cluster it names, beside the source's annotations for another cluster, says per cluster how it stands, and its deletion removes the copy", async () => {
  // The annotations push to edge-b only, the ClusterMirror to edge-a only: each cluster serves
  // exactly the rule that selects it.
  await createObject(
    home,
    'secrets',
    src,
    secretWithValue('by-resource', 'r', { [native.pushToClusters]: 'edge-b', [native.pushTo]: teamA }),
  );
  const path = `/apis/nsync.dev/v1alpha1/clustermirrors/${prefix}-cm`;
  const created = await home.api('POST', '/apis/nsync.dev/v1alpha1/clustermirrors', {
    apiVersion: 'nsync.dev/v1alpha1',
    kind: 'ClusterMirror',
    metadata: { name: `${prefix}-cm` },
    spec: {
      source: { kind: 'Secret', namespace: src, name: 'by-resource' },
      targets: { namespaces: [src] },
      clusters: { names: ['edge-a'] },
    },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await eventually('edge-a copy of the ClusterMirror', hasValue(edgeA, src, 'by-resource', 'r'), CONVERGE);
  await eventually('edge-b copy of the annotations', hasValue(edgeB, teamA, 'by-resource', 'r'), CONVERGE);
  const status = await eventually(
    'status.clusters of the ClusterMirror',
    async () => {
      const answer = await home.api<{ status?: MirrorStatusV1 }>('GET', path);
      const clusters = answer.body.status?.clusters;
      const ready = answer.body.status?.conditions?.find((condition) => condition.type === 'Ready');
      // Both parts of one write by this nsync (another test file's nsync may write it meanwhile).
      return clusters?.[0]?.inSync === 1 && /edge-a: 1 of 1 in sync/.test(ready?.message ?? '')
        ? answer.body.status
        : undefined;
    },
    CONVERGE,
  );
  assert.deepEqual(status.clusters, [
    { name: 'edge-a', accepted: true, selected: 1, inSync: 1, pending: 0, failed: 0, problemCount: 0 },
  ]);
  assert.equal(status.selected, 0, 'this cluster is not selected');
  const readyCondition = status.conditions?.find((condition) => condition.type === 'Ready');
  assert.ok(readyCondition !== undefined);
  assert.equal(readyCondition.status, 'True');
  assert.match(readyCondition.message, /edge-a: 1 of 1 in sync/);
  await allIdle();
  // The annotations' rule (edge-b only) reaches neither edge-a's team-a nor this cluster.
  assert.equal(await getObject(edgeA, 'secrets', teamA, 'by-resource'), undefined);
  assert.equal(await getObject(home, 'secrets', teamA, 'by-resource'), undefined);

  // Naming no cluster any more (this cluster's team-a instead): edge-a loses its copy, and
  // status.clusters goes (a merge patch keeps what it does not name: nsync must send it as null).
  await patchObject(home, path, { spec: { clusters: null, targets: { namespaces: [teamA] } } });
  await eventually(
    'copy removed when edge-a leaves the selection',
    gone(edgeA, src, 'by-resource'),
    CONVERGE,
  );
  await eventually(
    'status.clusters removed',
    async () => {
      const answer = await home.api<{ status?: MirrorStatusV1 }>('GET', path);
      return answer.body.status !== undefined && answer.body.status.clusters === undefined ? true : undefined;
    },
    CONVERGE,
  );

  assert.equal((await home.api('DELETE', path)).status, 200);
  assert.equal(await valueIn(edgeB, teamA, 'by-resource'), 'r');
});

test('deleting the source deletes its copies in every cluster', async () => {
  assert.equal((await home.api('DELETE', `/api/v1/namespaces/${src}/secrets/glob`)).status, 200);
  assert.equal((await home.api('DELETE', `/api/v1/namespaces/${src}/secrets/everywhere`)).status, 200);
  await eventually('edge-a team-a copy deleted', gone(edgeA, teamA, 'glob'), CONVERGE);
  await eventually('edge-a team-c copy deleted', gone(edgeA, teamC, 'glob'), CONVERGE);
  await eventually('edge-a "*" copy deleted', gone(edgeA, teamA, 'everywhere'), CONVERGE);
  await eventually('edge-b "*" copy deleted', gone(edgeB, teamA, 'everywhere'), CONVERGE);
});
