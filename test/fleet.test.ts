/**
 * The fleet, end to end (docs/multicluster.md "A fleet of registered clusters"; ADRs 21, 23, 26,
 * 27 together): the shared control plane is this cluster ("home", by --cluster-name) where nsync
 * runs with --registered-clusters; two more control planes are the targets "prod" and "staging",
 * each prepared with the target chart (deploy/chart/nsync-target, clusterWide) and REGISTERED by a
 * Secret in nsync's own namespace that carries its labels (env=…) and its accept-from. Sources use
 * the native selection (push-to-clusters, push-to-clusters-selector, spec.clusters). No kubeconfig
 * context is involved: every cluster here comes and goes through its registration Secret.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { ClusterStatusV1, MirrorStatusV1 } from '../src/api/types.ts';
import { ACCEPT_FROM_ANNOTATION, native } from '../src/rules/markers.ts';
import { CLUSTER_LABEL } from '../src/app/remote/registration.ts';
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
import { allIdle, remoteListed, startNsync, type RunningNsync } from './support/nsync.ts';

/** Well below --resync-period: every change here must arrive by its own trigger, not by a resync. */
const CONVERGE = { timeoutMs: 120_000, intervalMs: 250 };
const root = join(import.meta.dirname, '..');
const nsyncBin = join(root, 'bin', 'nsync.js');

const home = sharedCluster();
const prefix = uniqueName('fleet');
/** The source namespace both registrations accept from. */
const src = `${prefix}-src`;
/** A source namespace no registration accepts at first. */
const other = `${prefix}-other`;
/** nsync's own namespace on home: where the registrations live. */
const own = `${prefix}-nsync`;
const teamA = `${prefix}-team-a`;
/** Exists in prod only: a namespace glob is evaluated with each cluster's own namespaces. */
const teamB = `${prefix}-team-b`;
/** Where the target chart is installed in each target cluster, as its docs say. */
const IDENTITY_NAMESPACE = 'nsync-remote';
let prod: ControlPlane;
let staging: ControlPlane;
let nsync: RunningNsync;
/** The credential staging is registered with first (rotated later). */
let stagingToken: string;
/** Every token handed to nsync in this file: none may appear in its log. */
const tokens: string[] = [];

const RBAC = '/apis/rbac.authorization.k8s.io/v1';

/** The helm binary, built once per machine from the Go module proxy (tools/helm/build.sh). */
function helmBinary(): string {
  const dir = execFileSync('bash', [join(root, 'tools', 'helm', 'build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .at(-1);
  return join(dir ?? '', 'helm');
}

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
}

/** Where an object of the target chart is created. */
function collectionOf(object: Manifest): string {
  switch (object.kind) {
    case 'ServiceAccount':
      return `/api/v1/namespaces/${object.metadata.namespace ?? ''}/serviceaccounts`;
    case 'ClusterRole':
      return `${RBAC}/clusterroles`;
    case 'ClusterRoleBinding':
      return `${RBAC}/clusterrolebindings`;
    case 'RoleBinding':
      return `${RBAC}/namespaces/${object.metadata.namespace ?? ''}/rolebindings`;
    default:
      throw new Error(`the target chart rendered a ${object.kind}, which this test does not apply`);
  }
}

/**
 * Installs the target chart in a target cluster as an operator would (`helm install <release>
 * deploy/chart/nsync-target -n nsync-remote --set clusterWide=true`: rendered, then created) and
 * returns a token of its ServiceAccount: the least-privilege identity nsync gets there.
 */
async function installTargetChart(cluster: ControlPlane, release: string): Promise<string> {
  const rendered = execFileSync(
    helmBinary(),
    [
      'template',
      release,
      join(root, 'deploy', 'chart', 'nsync-target'),
      '--namespace',
      IDENTITY_NAMESPACE,
      '--set',
      'clusterWide=true',
    ],
    { encoding: 'utf8' },
  );
  let serviceAccount: string | undefined;
  for (const doc of parseAllDocuments(rendered)) {
    const object = doc.toJS() as Manifest | null;
    if (object === null) continue;
    if (object.kind === 'ServiceAccount') serviceAccount = object.metadata.name;
    const answer = await cluster.api('POST', collectionOf(object), object);
    assert.equal(
      answer.status,
      201,
      `${object.kind} ${object.metadata.name}: ${JSON.stringify(answer.body)}`,
    );
  }
  assert.ok(serviceAccount !== undefined, 'the chart renders a ServiceAccount');
  const identity = await cluster.serviceAccountIdentity(IDENTITY_NAMESPACE, serviceAccount);
  tokens.push(identity.token);
  return identity.token;
}

/** A registration Secret (token form) for a target cluster, with its labels and accept-from. */
function registration(
  cluster: Cluster,
  name: string,
  token: string,
  labels: Record<string, string>,
  acceptFrom: string | undefined,
): object {
  return {
    metadata: {
      name: `cluster-${name}`,
      labels: { [CLUSTER_LABEL]: name, ...labels },
      annotations: acceptFrom === undefined ? {} : { [ACCEPT_FROM_ANNOTATION]: acceptFrom },
    },
    type: 'Opaque',
    data: {
      server: b64(cluster.server),
      token: b64(token),
      'ca.crt': b64(readFileSync(cluster.caFile, 'utf8')),
    },
  };
}

function registrationPath(name: string): string {
  return `/api/v1/namespaces/${own}/secrets/cluster-${name}`;
}

/** How often a registered cluster's pipeline was started so far (by its log line). */
function starts(name: string): number {
  return nsync.logs.filter(
    (line) => line.includes('registered cluster started') && line.includes(`"cluster":"${name}"`),
  ).length;
}

/** The registered clusters running now, sorted. */
function running(): string[] {
  return nsync.controller.remotes.map((remote) => remote.name).sort();
}

/** Waits until a registration change has rebuilt the pipelines: `names` run, each with its cache synced. */
async function clustersRunning(names: readonly string[]): Promise<void> {
  await eventually(
    `clusters ${names.join(', ')} running`,
    () =>
      JSON.stringify(running()) === JSON.stringify([...names].sort()) &&
      nsync.controller.remotes.every(remoteListed)
        ? true
        : undefined,
    CONVERGE,
  );
}

async function clusterStatusesOf(path: string): Promise<readonly ClusterStatusV1[] | undefined> {
  const answer = await home.api<{ status?: MirrorStatusV1 }>('GET', path);
  return answer.body.status?.clusters;
}

before(async () => {
  [prod, staging] = await Promise.all([
    startControlPlane({ controllerManager: false }),
    startControlPlane({ controllerManager: false }),
  ]);
  await installCrds(home);
  // home has team-a only; prod has team-a and team-b; staging team-a only.
  await createNamespaces(home, [{ name: src }, { name: other }, { name: own }, { name: teamA }]);
  for (const [cluster, namespaces] of [
    [prod, [teamA, teamB]],
    [staging, [teamA]],
  ] as const) {
    await createNamespaces(cluster, [{ name: IDENTITY_NAMESPACE }, ...namespaces.map((name) => ({ name }))]);
  }
  let prodToken: string;
  [prodToken, stagingToken] = await Promise.all([
    installTargetChart(prod, 'nsync-remote'),
    installTargetChart(staging, 'nsync-remote'),
  ]);
  await createObject(home, 'secrets', own, registration(prod, 'prod', prodToken, { env: 'prod' }, src));
  await createObject(
    home,
    'secrets',
    own,
    registration(staging, 'staging', stagingToken, { env: 'staging' }, src),
  );
  nsync = await startNsync(
    home,
    [`${prefix}-*`],
    ['--cluster-name=home', '--registered-clusters', `--own-namespace=${own}`, '--resync-period=10m'],
  );
  await clustersRunning(['prod', 'staging']);
});

after(async () => {
  await nsync.stop();
  await Promise.all([prod.stop(), staging.stop()]);
});

test("a cluster label selector reaches only the prod cluster, with the namespace glob read against that cluster's namespaces", async () => {
  await createObject(
    home,
    'secrets',
    src,
    secretWithValue('sel', 'v1', {
      [native.pushToClustersSelector]: 'env=prod',
      [native.pushTo]: `${prefix}-team-*`,
    }),
  );
  await eventually('prod team-a copy', hasValue(prod, teamA, 'sel', 'v1'), CONVERGE);
  // team-b exists in prod only: the glob was evaluated with prod's namespaces.
  await eventually('prod team-b copy', hasValue(prod, teamB, 'sel', 'v1'), CONVERGE);
  await allIdle(nsync);
  assert.equal(await getObject(staging, 'secrets', teamA, 'sel'), undefined, 'staging is env=staging');
  assert.equal(await getObject(home, 'secrets', teamA, 'sel'), undefined, 'this cluster has no labels');
});

test('relabelling the registration Secrets moves the copies: the newly selected cluster gets them, the other loses them', async () => {
  await patchObject(home, registrationPath('prod'), { metadata: { labels: { env: 'retired' } } });
  await patchObject(home, registrationPath('staging'), { metadata: { labels: { env: 'prod' } } });
  await eventually('staging team-a copy', hasValue(staging, teamA, 'sel', 'v1'), CONVERGE);
  await eventually('prod team-a copy deleted', gone(prod, teamA, 'sel'), CONVERGE);
  await eventually('prod team-b copy deleted', gone(prod, teamB, 'sel'), CONVERGE);
  assert.ok(
    nsync.logs.some(
      (line) =>
        line.includes('registered cluster stopped') &&
        line.includes('"prod"') &&
        line.includes('registration changed'),
    ),
    'the relabel rebuilt the pipeline, no restart',
  );
});

test('an annotation from a namespace the registration does not accept is refused there until accept-from admits it', async () => {
  await createObject(
    home,
    'secrets',
    other,
    secretWithValue('ask', 'a1', { [native.pushToClusters]: 'staging', [native.pushTo]: teamA }),
  );
  const refusal = await eventually(
    'RemoteClusterConsentMissing on the source',
    async () =>
      (await eventsAbout(home, other, 'ask')).find((event) => event.reason === 'RemoteClusterConsentMissing'),
    CONVERGE,
  );
  assert.equal(refusal.type, 'Warning');
  assert.match(refusal.note, /push-to-clusters/);
  await allIdle(nsync);
  assert.equal(
    await getObject(staging, 'secrets', teamA, 'ask'),
    undefined,
    'nothing written without consent',
  );

  await patchObject(home, registrationPath('staging'), {
    metadata: { annotations: { [ACCEPT_FROM_ANNOTATION]: `${src}, ${other}` } },
  });
  await eventually('the copy once accepted', hasValue(staging, teamA, 'ask', 'a1'), CONVERGE);
});

test('a ClusterMirror reaches a cluster without accept-from and lists each selected cluster in status.clusters; a namespaced Mirror does not reach it', async () => {
  // prod accepts no source namespace from now on.
  const before = starts('prod');
  await patchObject(home, registrationPath('prod'), {
    metadata: { annotations: { [ACCEPT_FROM_ANNOTATION]: null } },
  });
  await eventually(
    'prod rebuilt without accept-from',
    () =>
      starts('prod') > before &&
      nsync.controller.remotes.some((remote) => remote.name === 'prod' && remoteListed(remote))
        ? true
        : undefined,
    CONVERGE,
  );
  await createObject(home, 'secrets', src, secretWithValue('by-operator', 'o1'));
  const clusterMirror = `/apis/nsync.dev/v1alpha1/clustermirrors/${prefix}-cm`;
  const created = await home.api('POST', '/apis/nsync.dev/v1alpha1/clustermirrors', {
    apiVersion: 'nsync.dev/v1alpha1',
    kind: 'ClusterMirror',
    metadata: { name: `${prefix}-cm` },
    spec: {
      source: { kind: 'Secret', namespace: src, name: 'by-operator' },
      targets: { namespaces: [teamA] },
      clusters: { names: ['home', 'prod', 'staging'] },
    },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await eventually('home copy of the ClusterMirror', hasValue(home, teamA, 'by-operator', 'o1'), CONVERGE);
  await eventually('prod copy of the ClusterMirror', hasValue(prod, teamA, 'by-operator', 'o1'), CONVERGE);
  await eventually(
    'staging copy of the ClusterMirror',
    hasValue(staging, teamA, 'by-operator', 'o1'),
    CONVERGE,
  );
  const statuses = await eventually(
    'status.clusters lists prod and staging in sync',
    async () => {
      const clusters = await clusterStatusesOf(clusterMirror);
      return clusters?.length === 2 && clusters.every((entry) => entry.inSync === 1) ? clusters : undefined;
    },
    CONVERGE,
  );
  assert.deepEqual(
    [...statuses].sort((a, b) => a.name.localeCompare(b.name)),
    ['prod', 'staging'].map((name) => ({
      name,
      accepted: true,
      selected: 1,
      inSync: 1,
      pending: 0,
      failed: 0,
      problemCount: 0,
    })),
  );

  // A Mirror is written by whoever may edit its namespace: prod has not consented to that.
  await createObject(home, 'secrets', other, secretWithValue('by-team', 't1'));
  const mirror = `/apis/nsync.dev/v1alpha1/namespaces/${other}/mirrors/${prefix}-m`;
  const made = await home.api('POST', `/apis/nsync.dev/v1alpha1/namespaces/${other}/mirrors`, {
    apiVersion: 'nsync.dev/v1alpha1',
    kind: 'Mirror',
    metadata: { name: `${prefix}-m`, namespace: other },
    spec: {
      source: { kind: 'Secret', name: 'by-team' },
      targets: { namespaces: [teamA] },
      clusters: { names: ['prod'] },
    },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const refusal = await eventually(
    'RemoteClusterConsentMissing about the Mirror',
    async () =>
      (await eventsAbout(home, other, 'by-team')).find(
        (event) => event.reason === 'RemoteClusterConsentMissing',
      ),
    CONVERGE,
  );
  assert.match(refusal.note, new RegExp(`Mirror/${other}/${prefix}-m`));
  const refused = await eventually(
    'the Mirror says prod did not accept it',
    async () => (await clusterStatusesOf(mirror))?.find((entry) => entry.name === 'prod'),
    CONVERGE,
  );
  assert.equal(refused.accepted, false);
  await allIdle(nsync);
  assert.equal(
    await getObject(prod, 'secrets', teamA, 'by-team'),
    undefined,
    'nothing written without consent',
  );
});

test('a credential rotated while a native source changes converges, without a restart', async () => {
  const newToken = await installTargetChart(staging, 'nsync-remote-2');
  const before = starts('staging');
  // The rotation and the source's changes race on purpose: whichever pipeline sees them, the last value wins.
  await Promise.all([
    patchObject(home, registrationPath('staging'), { data: { token: b64(newToken) } }),
    patchObject(home, `/api/v1/namespaces/${src}/secrets/sel`, { data: { value: b64('v2') } }),
  ]);
  // Revoke the old credential: its ServiceAccount is gone, so its token is refused from now on.
  const deleted = await staging.api(
    'DELETE',
    `/api/v1/namespaces/${IDENTITY_NAMESPACE}/serviceaccounts/nsync-remote`,
  );
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  await eventually(
    'the old token to be refused',
    async () =>
      (await staging.apiAs(stagingToken, 'GET', '/api/v1/namespaces')).status === 401 ? true : undefined,
    CONVERGE,
  );
  await patchObject(home, `/api/v1/namespaces/${src}/secrets/sel`, { data: { value: b64('v3') } });
  await eventually('staging copy updated', hasValue(staging, teamA, 'sel', 'v3'), CONVERGE);
  const copy = await getObject(staging, 'secrets', teamA, 'sel');
  const writers = (copy?.metadata.managedFields ?? []).map((entry) => entry.manager);
  assert.ok(writers.includes('nsync'), JSON.stringify(writers));
  assert.ok(starts('staging') > before, 'the rotation rebuilt the staging pipeline');
  // The new credential keeps working: a later change arrives too, and the other copy is intact.
  await patchObject(home, `/api/v1/namespaces/${src}/secrets/sel`, { data: { value: b64('v4') } });
  await eventually('staging copy updated again', hasValue(staging, teamA, 'sel', 'v4'), CONVERGE);
  assert.equal(await valueIn(staging, teamA, 'ask'), 'a1');
});

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `nsync explain` as an operator runs it, to its end (it must end by itself well within the limit). */
async function explain(args: readonly string[]): Promise<Outcome> {
  return promisify(execFile)(process.execPath, [nsyncBin, 'explain', ...args], { timeout: 120_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: unknown) => {
      const failed = error as { code: number | null; stdout: string; stderr: string };
      return { code: failed.code ?? -1, stdout: failed.stdout, stderr: failed.stderr };
    },
  );
}

/** The deployment's own flags: explain decides what it decides. */
function deploymentFlags(kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--exclude-namespaces=*,!${prefix}-*`,
    `--source-namespaces=${prefix}-*`,
    '--cluster-name=home',
    '--registered-clusters',
    `--own-namespace=${own}`,
  ];
}

interface ExplainedCluster {
  name: string;
  origin: string;
  status: string;
  reason: string | null;
  targets: { namespace: string; decision: string }[];
}

test('nsync explain reads the registrations and shows each registered cluster; a caller who may not read them is told so and still gets an answer', async () => {
  const json = await explain([
    'secret/by-operator',
    '-n',
    src,
    '-o',
    'json',
    ...deploymentFlags(home.admin.kubeconfigPath),
  ]);
  assert.equal(json.code, 0, json.stderr);
  const document = JSON.parse(json.stdout) as { clusters: ExplainedCluster[] };
  const clusters = [...document.clusters].sort((a, b) => a.name.localeCompare(b.name));
  assert.deepEqual(
    clusters.map((cluster) => [cluster.name, cluster.origin, cluster.status]),
    [
      ['prod', 'registered', 'planned'],
      ['staging', 'registered', 'planned'],
    ],
  );
  // Named by the ClusterMirror only (spec.clusters): planned there as the controller plans it.
  for (const cluster of clusters)
    assert.deepEqual(
      cluster.targets.filter((target) => target.namespace === teamA).map((target) => target.decision),
      ['in-sync'],
      cluster.name,
    );

  const table = await explain(['secret/sel', '-n', src, ...deploymentFlags(home.admin.kubeconfigPath)]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^Cluster home \(this cluster\):$/m);
  assert.match(
    table.stdout,
    new RegExp(`^Cluster staging \\(registered cluster, ${staging.server}\\):$`, 'm'),
  );
  assert.match(
    table.stdout,
    new RegExp(`^Cluster prod \\(registered cluster, ${prod.server}\\):\nNothing to do`, 'm'),
  );
  const stagingSection = table.stdout.slice(table.stdout.indexOf('Cluster staging'));
  assert.match(stagingSection, new RegExp(`${teamA}\\s+sel\\s+push\\s+in-sync`));

  // The Mirror in a namespace prod does not accept: explain says why, in prod's section.
  const refused = await explain([
    'secret/by-team',
    '-n',
    other,
    ...deploymentFlags(home.admin.kubeconfigPath),
  ]);
  assert.equal(refused.code, 0, refused.stderr);
  assert.match(
    refused.stdout,
    new RegExp(
      `^Cluster prod \\(registered cluster, [^)]*\\):\\nNot accepted here: .*accepts pushes from no namespace`,
      'm',
    ),
  );

  // Someone who may read ConfigMaps and Namespaces, not Secrets: no registration for them.
  const reader = `${prefix}-reader`;
  const role = await home.api('POST', `${RBAC}/clusterroles`, {
    metadata: { name: reader },
    rules: [
      { apiGroups: [''], resources: ['namespaces', 'configmaps'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['nsync.dev'], resources: ['clustermirrors', 'mirrors'], verbs: ['get', 'list', 'watch'] },
    ],
  });
  assert.equal(role.status, 201, JSON.stringify(role.body));
  const binding = await home.api('POST', `${RBAC}/clusterrolebindings`, {
    metadata: { name: reader },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: reader },
    subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: src }],
  });
  assert.equal(binding.status, 201, JSON.stringify(binding.body));
  const identity = await home.serviceAccountIdentity(src, 'reader');
  await createObject(home, 'configmaps', src, {
    metadata: {
      name: 'settings',
      annotations: { [native.pushToClusters]: 'staging', [native.pushTo]: teamA },
    },
    data: { mode: 'fleet' },
  });
  const limited = await explain([
    'configmap/settings',
    '-n',
    src,
    ...deploymentFlags(identity.kubeconfigPath),
  ]);
  assert.equal(limited.code, 0, limited.stderr);
  assert.match(limited.stderr, /may not list the cluster registrations/);
  assert.match(limited.stdout, /^Cluster home \(this cluster\):$/m);
  assert.doesNotMatch(limited.stdout, /registered cluster/);
  const admin = await explain([
    'configmap/settings',
    '-n',
    src,
    ...deploymentFlags(home.admin.kubeconfigPath),
  ]);
  assert.equal(admin.code, 0, admin.stderr);
  assert.doesNotMatch(admin.stderr, /registrations/);
  assert.match(admin.stdout, /^Cluster staging \(registered cluster, /m);
});

test("a deleted registration leaves the ClusterMirror's status.clusters; the other cluster keeps its entry and its copies", async () => {
  const clusterMirror = `/apis/nsync.dev/v1alpha1/clustermirrors/${prefix}-cm`;
  const answer = await home.api('DELETE', registrationPath('prod'));
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  await clustersRunning(['staging']);
  const statuses = await eventually(
    'status.clusters without prod',
    async () => {
      const clusters = await clusterStatusesOf(clusterMirror);
      return clusters !== undefined && !clusters.some((entry) => entry.name === 'prod')
        ? clusters
        : undefined;
    },
    CONVERGE,
  );
  assert.deepEqual(
    statuses.map((entry) => entry.name),
    ['staging'],
  );
  // Its copies stay in prod: nsync has no credentials for it any more (ADR 21).
  assert.equal(await valueIn(prod, teamA, 'by-operator'), 'o1');
  await patchObject(home, `/api/v1/namespaces/${src}/secrets/by-operator`, { data: { value: b64('o2') } });
  await eventually('staging still served', hasValue(staging, teamA, 'by-operator', 'o2'), CONVERGE);
  await eventually('the local copy too', hasValue(home, teamA, 'by-operator', 'o2'), CONVERGE);
  await allIdle(nsync);
  assert.equal(await valueIn(prod, teamA, 'by-operator'), 'o1', 'nothing writes to prod any more');
  assert.deepEqual(
    (await clusterStatusesOf(clusterMirror))?.map((entry) => entry.name),
    ['staging'],
    'no late write of the stopped pipeline brings prod back',
  );
});

test('no token given to nsync appears in its log', () => {
  assert.ok(nsync.logs.length > 0);
  const text = nsync.logs.join('\n');
  for (const token of tokens) {
    assert.ok(!text.includes(token), 'a token was logged');
    assert.ok(!text.includes(b64(token)), 'a token was logged base64-encoded');
  }
  assert.ok(tokens.length >= 3);
});
