/**
 * ClusterMirror and Mirror served by the controller (docs/api.md): mirrors made and removed by
 * the same pipeline as the annotations, status as a ledger (written only when it changes), a
 * team's Mirror made with the team's own token, a mirror claimed by a resource and by
 * annotations, `nsync explain` for a resource, and nsync on a cluster without the CRDs.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import type { MirrorResourceV1 } from '../src/api/index.ts';
import { startControlPlane } from '../tools/controlplane/harness.ts';
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
import { installCrds } from '../tools/controlplane/crds.ts';
import { allKeys } from '../src/app/triggers.ts';
import { startNsync, type RunningNsync } from './support/nsync.ts';
import { sampleValue, Teardown } from './faults/helpers.ts';

const cluster = sharedCluster();
const prefix = `ap${randomBytes(2).toString('hex')}`;
const platform = `${prefix}-platform`;
const teamA = `${prefix}-team-a`;
const teamB = `${prefix}-team-b`;
const skipped = `${prefix}-skip`;
const bin = fileURLToPath(new URL('../bin/nsync.js', import.meta.url));
const API = '/apis/nsync.dev/v1alpha1';
const teardown = new Teardown();
let nsync: RunningNsync;

type Resource = MirrorResourceV1 & { metadata: { resourceVersion: string; generation: number } };

async function getResource(path: string): Promise<Resource> {
  const answer = await cluster.api<Resource>('GET', path);
  assert.equal(answer.status, 200, `GET ${path}`);
  return answer.body;
}

/**
 * Resolves once every key was reconciled `rounds` more times on average (resyncs every 2 s make
 * them come): progress, not a clock.
 */
async function resyncsPass(running: RunningNsync, rounds: number): Promise<void> {
  const total = async (): Promise<number> =>
    sampleValue(await running.metrics.registry.metrics(), 'nsync_reconcile_total');
  const keys = allKeys(running.controller.cache).size + running.controller.resources.sourceKeys().length;
  const count = rounds * keys;
  const start = await total();
  await eventually(`${String(count)} more reconciles`, async () =>
    (await total()) >= start + count ? true : undefined,
  );
  await running.idle();
}

/** Status writes nsync made so far (nsync_writes_total{verb="status"}). */
async function statusWrites(running: RunningNsync): Promise<number> {
  return sampleValue(await running.metrics.registry.metrics(), 'nsync_writes_total', { verb: 'status' });
}

/** Polls until the resource's Ready condition has `status` for its current generation. */
async function readyIs(path: string, status: 'True' | 'False'): Promise<Resource> {
  return eventually(`${path} Ready=${status}`, async () => {
    const resource = await getResource(path);
    const ready = resource.status?.conditions?.find((condition) => condition.type === 'Ready');
    return ready?.status === status && ready.observedGeneration === resource.metadata.generation
      ? resource
      : undefined;
  });
}

before(async () => {
  await installCrds(cluster);
  await createNamespaces(cluster, [
    { name: platform },
    { name: teamA, labels: { [`${prefix}-tier`]: 'apps' } },
    { name: teamB, labels: { [`${prefix}-tier`]: 'apps' } },
    { name: skipped, labels: { [`${prefix}-tier`]: 'apps' } },
  ]);
  nsync = teardown.add(await startNsync(cluster, [`${prefix}-*`], ['--resync-period=2s']), (started) =>
    started.stop(),
  );
});

after(() => teardown.run());

test('a ClusterMirror pushes its source, reports a ledger, follows the source, and its deletion removes the mirrors', async () => {
  await createObject(cluster, 'secrets', platform, {
    metadata: { name: 'wildcard-tls', labels: { team: 'platform' } },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': b64('cert-1'), 'tls.key': b64('key-1') },
  });
  const path = `${API}/clustermirrors/${prefix}-wildcard`;
  const created = await cluster.api('POST', `${API}/clustermirrors`, {
    apiVersion: 'nsync.dev/v1alpha1',
    kind: 'ClusterMirror',
    metadata: { name: `${prefix}-wildcard` },
    spec: {
      source: { kind: 'Secret', namespace: platform, name: 'wildcard-tls' },
      targets: {
        namespaces: [`${prefix}-*`, `!${skipped}`],
        namespaceSelector: { matchLabels: { [`${prefix}-tier`]: 'apps' } },
      },
      copyLabels: true,
    },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  for (const namespace of [teamA, teamB]) {
    const mirror = await eventually(`the mirror in ${namespace}`, () =>
      getObject(cluster, 'secrets', namespace, 'wildcard-tls'),
    );
    assert.equal(mirror.data?.['tls.crt'], b64('cert-1'));
    assert.equal(mirror.metadata.labels?.['team'], 'platform', 'copyLabels');
  }
  const ready = await readyIs(path, 'True');
  assert.equal(ready.status?.selected, 2);
  assert.equal(ready.status.inSync, 2);
  assert.equal(ready.status.problemCount, 0);
  assert.equal(await getObject(cluster, 'secrets', skipped, 'wildcard-tls'), undefined);

  // Idle: resyncs every 2 s, no status write (not even one the API server would find unchanged).
  await nsync.idle();
  const settled = await statusWrites(nsync);
  await resyncsPass(nsync, 3);
  assert.equal(await statusWrites(nsync), settled, 'no status write while nothing changes');

  // A renewal reaches every mirror and the ledger's source version.
  const renewed = await patchObject(cluster, `/api/v1/namespaces/${platform}/secrets/wildcard-tls`, {
    data: { 'tls.crt': b64('cert-2') },
  });
  await eventually('the renewal in both mirrors', async () => {
    const both = await Promise.all(
      [teamA, teamB].map((ns) => getObject(cluster, 'secrets', ns, 'wildcard-tls')),
    );
    return both.every((mirror) => mirror?.data?.['tls.crt'] === b64('cert-2')) ? true : undefined;
  });
  await eventually('the ledger to name the renewed version', async () =>
    (await getResource(path)).status?.sourceResourceVersion === renewed.metadata.resourceVersion
      ? true
      : undefined,
  );

  // explain, for the resource.
  const { stdout } = await promisify(execFile)(process.execPath, [
    bin,
    'explain',
    `clustermirror/${prefix}-wildcard`,
    `--kubeconfig=${cluster.admin.kubeconfigPath}`,
    `--exclude-namespaces=*,!${prefix}-*`,
  ]);
  assert.match(stdout, new RegExp(`ClusterMirror/${prefix}-wildcard pushes Secret ${platform}/wildcard-tls`));
  assert.match(stdout.split('\n').find((row) => row.startsWith(`${teamA} `)) ?? '', /in-sync/);

  assert.equal((await cluster.api('DELETE', path)).status, 200);
  for (const namespace of [teamA, teamB]) {
    await eventually(`the mirror in ${namespace} to go`, async () =>
      (await getObject(cluster, 'secrets', namespace, 'wildcard-tls')) === undefined ? true : undefined,
    );
  }
});

test('a team’s Mirror, made with the team’s own token, pushes a source of its namespace; annotations claiming the same name keep it and both are told', async () => {
  // The team: full rights on ConfigMaps and Mirrors in its own namespace, nothing else.
  const identity = await cluster.serviceAccountIdentity(teamA, 'owner');
  const rbac = `/apis/rbac.authorization.k8s.io/v1/namespaces/${teamA}`;
  assert.equal(
    (
      await cluster.api('POST', `${rbac}/roles`, {
        metadata: { name: 'owner' },
        rules: [
          {
            apiGroups: [''],
            resources: ['configmaps'],
            verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'],
          },
          {
            apiGroups: ['nsync.dev'],
            resources: ['mirrors'],
            verbs: ['get', 'list', 'create', 'update', 'delete'],
          },
        ],
      })
    ).status,
    201,
  );
  assert.equal(
    (
      await cluster.api('POST', `${rbac}/rolebindings`, {
        metadata: { name: 'owner' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'owner' },
        subjects: [{ kind: 'ServiceAccount', name: 'owner', namespace: teamA }],
      })
    ).status,
    201,
  );
  const asTeam = async (method: string, path: string, body?: unknown) => {
    const answer = await eventually(`${method} ${path} as the team`, async () => {
      const tried = await cluster.apiAs<{ metadata?: { uid?: string } }>(identity.token, method, path, body);
      return tried.status === 403 ? undefined : tried;
    });
    assert.ok(
      answer.status < 300,
      `${method} ${path}: ${String(answer.status)} ${JSON.stringify(answer.body)}`,
    );
    return answer.body;
  };
  await asTeam('POST', `/api/v1/namespaces/${teamA}/configmaps`, {
    metadata: { name: 'ca-bundle', annotations: { 'nsync.dev/push-to': skipped } },
    data: { 'ca.crt': 'bundle' },
  });
  const mirrorPath = `${API}/namespaces/${teamA}/mirrors/ca-bundle`;
  await asTeam('POST', `${API}/namespaces/${teamA}/mirrors`, {
    apiVersion: 'nsync.dev/v1alpha1',
    kind: 'Mirror',
    metadata: { name: 'ca-bundle' },
    spec: { source: { kind: 'ConfigMap', name: 'ca-bundle' }, targets: { namespaces: [teamB, skipped] } },
  });
  await eventually('the Mirror’s mirror in team-b', () =>
    getObject(cluster, 'configmaps', teamB, 'ca-bundle'),
  );
  // In `skipped` the source's own annotation (push-to) also wants it: one mirror, made once.
  const conflicted = await eventually('the Mirror’s status to list the claim in skip', async () => {
    const resource = await getResource(mirrorPath);
    return resource.status?.problems?.some((problem) => problem.namespace === skipped) === true
      ? resource
      : undefined;
  });
  assert.equal(conflicted.status?.conflicts, 1);
  assert.equal(conflicted.status.inSync, 1);
  const onMirror = await eventually('a MirrorClaimedTwice Event on the Mirror', async () =>
    (await eventsAbout(cluster, teamA, 'ca-bundle')).find((event) => event.reason === 'MirrorClaimedTwice'),
  );
  assert.match(onMirror.note, /native annotations/);
  assert.ok(await getObject(cluster, 'configmaps', skipped, 'ca-bundle'));
  // The team cannot name a source in another namespace: the API server refuses it.
  const elsewhere = await cluster.apiAs(identity.token, 'POST', `${API}/namespaces/${teamA}/mirrors`, {
    apiVersion: 'nsync.dev/v1alpha1',
    kind: 'Mirror',
    metadata: { name: 'stolen' },
    spec: { source: { kind: 'ConfigMap', namespace: platform, name: 'x' }, targets: { namespaces: [teamA] } },
  });
  assert.equal(elsewhere.status, 422);
});

test('nsync runs on a cluster without the CRDs, serves them once installed, and keeps status through an API server restart', async () => {
  const own = await startControlPlane();
  const local = new Teardown();
  local.add(own, (plane) => plane.stop());
  try {
    await createNamespaces(own, [{ name: 'src' }, { name: 'dst' }]);
    await createObject(own, 'configmaps', 'src', {
      metadata: { name: 'plain', annotations: { 'nsync.dev/push-to': 'dst' } },
      data: { k: 'v' },
    });
    const first = local.add(await startNsync(own, ['src', 'dst']), (started) => started.stop());
    await eventually('the annotation mirror without CRDs', () =>
      getObject(own, 'configmaps', 'dst', 'plain'),
    );
    const said = first.logs.filter((line) => line.includes('CRDs are not installed'));
    assert.equal(said.length, 1, 'one log line');
    await first.stop();

    await installCrds(own);
    const second = local.add(await startNsync(own, ['src', 'dst'], ['--resync-period=2s']), (started) =>
      started.stop(),
    );
    const path = `${API}/clustermirrors/plain-copy`;
    assert.equal(
      (
        await own.api('POST', `${API}/clustermirrors`, {
          apiVersion: 'nsync.dev/v1alpha1',
          kind: 'ClusterMirror',
          metadata: { name: 'plain-copy' },
          spec: {
            source: { kind: 'ConfigMap', namespace: 'src', name: 'plain' },
            targets: { namespaces: ['dst'], name: 'plain-copy' },
          },
        })
      ).status,
      201,
    );
    const before = await eventually('Ready after install', async () => {
      const answer = await own.api<Resource>('GET', path);
      const ready = answer.body.status?.conditions?.find((condition) => condition.type === 'Ready');
      return ready?.status === 'True' ? answer.body : undefined;
    });
    await own.restartApiServer();
    await eventually('nsync to read through the restarted API server', async () =>
      (await own.api('GET', '/readyz')).status === 200 ? true : undefined,
    );
    // Resyncs run every 2 s; after several, the status is the same object, never rewritten.
    await second.idle();
    const writes = await statusWrites(second);
    await resyncsPass(second, 3);
    assert.equal(await statusWrites(second), writes, 'no status write after the restart');
    const afterRestart = await own.api<Resource>('GET', path);
    assert.equal(afterRestart.body.metadata.resourceVersion, before.metadata.resourceVersion);
    assert.deepEqual(afterRestart.body.status, before.status);
  } finally {
    await local.run();
  }
});
