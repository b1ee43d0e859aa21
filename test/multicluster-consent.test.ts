/**
 * Who consented to a copy that crosses clusters, each party acting with its OWN least-privilege
 * token (docs/multicluster.md "Who consented, and how it is tested"; ADRs 10, 21, 22). The shared
 * control plane is "west", where nsync runs with --registered-clusters and --target-consent; one
 * more control plane is "east", registered by a Secret in nsync's namespace, where nsync holds
 * only the shipped target-side rights (deploy/target, bound cluster-wide as its rolebinding.yaml
 * says for a registration that names no namespace).
 *
 * The parties: the operator (west's admin: the registration and its accept-from); the source team
 * (a Role over Secrets and Mirrors in its own namespace of west); the target team (a Role over
 * Secrets in its own namespace of east); east's platform admin (may annotate Namespaces there).
 * Events are read by the source team itself and counted only when THIS nsync wrote them
 * (reportingInstance): other files run an nsync on the same shared cluster.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { after, before, test } from 'node:test';
import type { ClusterStatusV1, MirrorStatusV1 } from '../src/api/types.ts';
import { ACCEPT_FROM_ANNOTATION, native, owned } from '../src/rules/markers.ts';
import { objectKey } from '../src/app/objects.ts';
import { CLUSTER_LABEL } from '../src/app/remote/registration.ts';
import { installCrds } from '../tools/controlplane/crds.ts';
import { startControlPlane, type Cluster, type ControlPlane } from '../tools/controlplane/harness.ts';
import {
  b64,
  createNamespaces,
  eventually,
  getObject,
  patchObject,
  sharedCluster,
  uniqueName,
} from './support/cluster.ts';
import { createIdentity } from './support/rbac.ts';
import { gone, hasValue, secretWithValue, valueIn } from './support/secret-values.ts';
import { allIdle, remoteListed, startNsync, type RunningNsync } from './support/nsync.ts';
import { applyManifests, targetSideManifests } from './support/target-side.ts';

/** Well below --resync-period: every change here must arrive by its own trigger, not by a resync. */
const CONVERGE = { timeoutMs: 120_000, intervalMs: 250 };
const RBAC = '/apis/rbac.authorization.k8s.io/v1';
const NSYNC_API = '/apis/nsync.dev/v1alpha1';
/**
 * A Secret value no other text contains, so the last test can prove none reached nsync's log or
 * its Events.
 */
function secret(name: string): string {
  return `${name}-${prefix}-value`;
}
/** Every token in this file: none may reach nsync's log. */
const tokens: string[] = [];

/** The Events of this nsync (it runs in this process): another file's nsync writes others. */
const THIS_NSYNC = `${hostname()}-${String(process.pid)}`;

const west = sharedCluster();
const prefix = uniqueName('consent');
/** The source team's namespace in west. */
const src = `${prefix}-src`;
/** nsync's own namespace in west: where the registrations live. */
const own = `${prefix}-nsync`;
/** The target team's namespace in east. */
const teamA = `${prefix}-team-a`;
/** Another team in east: it keeps getting changes while team-a refuses. */
const teamB = `${prefix}-team-b`;
/** A namespace in east whose platform admin has not consented (yet) to anything. */
const teamC = `${prefix}-team-c`;
const registrationPath = `/api/v1/namespaces/${own}/secrets/cluster-east`;
const mirrorPath = `${NSYNC_API}/namespaces/${src}/mirrors/by-mirror`;

let east: ControlPlane;
let nsync: RunningNsync;
/** The source team's token (west). */
let sourceTeam: string;
/** The target team's token (east, team-a). */
let targetTeam: string;
/** East's platform admin's token: may read and annotate Namespaces, nothing else. */
let platformAdmin: string;

/** Applies deploy/target in east and returns a token of its ServiceAccount: nsync's identity there. */
async function installTargetSide(): Promise<string> {
  // A registration that names no namespace: nsync watches its copies in east cluster-wide.
  await applyManifests(east, targetSideManifests('cluster-wide'));
  const { token } = await east.serviceAccountIdentity('nsync-remote', 'nsync-remote');
  tokens.push(token);
  return token;
}

/**
 * A ServiceAccount of `namespace` bound to a Role of its own there with `rules`, or (cluster-wide)
 * to a ClusterRole: returns its token. The admin grants; the party then acts with the token alone.
 */
async function party(
  cluster: Cluster,
  namespace: string,
  name: string,
  rules: object[],
  scope: 'namespace' | 'cluster',
): Promise<string> {
  const roleRef = { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name };
  const subjects = [{ kind: 'ServiceAccount', name, namespace }];
  if (scope === 'namespace') {
    await createIdentity(cluster, 'roles', namespace, { metadata: { name }, rules });
    await createIdentity(cluster, 'rolebindings', namespace, { metadata: { name }, roleRef, subjects });
  } else {
    const clusterName = `${prefix}-${name}`;
    for (const [collection, body] of [
      ['clusterroles', { metadata: { name: clusterName }, rules }],
      [
        'clusterrolebindings',
        {
          metadata: { name: clusterName },
          roleRef: { ...roleRef, kind: 'ClusterRole', name: clusterName },
          subjects,
        },
      ],
    ] as const) {
      const answer = await cluster.api('POST', `${RBAC}/${collection}`, body);
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
    }
  }
  const { token } = await cluster.serviceAccountIdentity(namespace, name);
  tokens.push(token);
  return token;
}

/** The registration of east (token form): nsync's identity there, and whose pushes east accepts. */
function registration(token: string, acceptFrom: string): object {
  return {
    metadata: {
      name: 'cluster-east',
      labels: { [CLUSTER_LABEL]: 'east' },
      annotations: { [ACCEPT_FROM_ANNOTATION]: acceptFrom },
    },
    type: 'Opaque',
    data: {
      server: b64(east.server),
      token: b64(token),
      'ca.crt': b64(readFileSync(east.caFile, 'utf8')),
    },
  };
}

/** A call with a party's token that must succeed (2xx); returns the body. */
async function as<T = unknown>(
  cluster: Cluster,
  token: string,
  method: string,
  path: string,
  body?: object,
): Promise<T> {
  const contentType = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
  const answer = await cluster.apiAs<T>(token, method, path, body, contentType);
  assert.ok(
    answer.status >= 200 && answer.status < 300,
    `${method} ${path}: ${String(answer.status)} ${JSON.stringify(answer.body)}`,
  );
  return answer.body;
}

/** The HTTP status of a call with a party's token (for the ones that must be forbidden). */
async function statusOf(
  cluster: Cluster,
  token: string,
  method: string,
  path: string,
  body?: object,
): Promise<number> {
  const contentType = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
  return (await cluster.apiAs(token, method, path, body, contentType)).status;
}

interface SeenEvent {
  readonly reason: string;
  readonly type: string;
  readonly note: string;
}

/** This nsync's Events about one object in the source team's namespace, as the source team reads them. */
async function eventsSeenBySourceTeam(name: string): Promise<SeenEvent[]> {
  const list = await as<{
    items: {
      reason: string;
      type: string;
      note?: string;
      reportingInstance?: string;
      regarding?: { name?: string };
    }[];
  }>(west, sourceTeam, 'GET', `/apis/events.k8s.io/v1/namespaces/${src}/events`);
  return list.items
    .filter((event) => event.regarding?.name === name && event.reportingInstance === THIS_NSYNC)
    .map((event) => ({ reason: event.reason, type: event.type, note: event.note ?? '' }));
}

/** A poll for `eventually`: this nsync's first Event of `reason` about `name` whose note matches. */
function eventOf(name: string, reason: string, note: RegExp) {
  return async (): Promise<SeenEvent | undefined> =>
    (await eventsSeenBySourceTeam(name)).find((event) => event.reason === reason && note.test(event.note));
}

/** How often east's pipeline was started so far (by its log line). */
function eastStarts(): number {
  return nsync.logs.filter(
    (line) => line.includes('registered cluster started') && line.includes('"cluster":"east"'),
  ).length;
}

/** Waits until east's pipeline has been (re)built `times` times in all and its caches are listed. */
async function eastRunning(times: number): Promise<void> {
  await eventually(
    `east's pipeline started ${String(times)} time(s), its caches listed`,
    () =>
      eastStarts() >= times &&
      nsync.controller.remotes.some((remote) => remote.name === 'east' && remoteListed(remote))
        ? true
        : undefined,
    CONVERGE,
  );
}

/** A source Secret's value, changed by the source team with its token. */
async function sourceTeamSets(name: string, value: string): Promise<void> {
  await as(west, sourceTeam, 'PATCH', `/api/v1/namespaces/${src}/secrets/${name}`, {
    data: { value: b64(value) },
  });
}

before(async () => {
  east = await startControlPlane({ controllerManager: false });
  await installCrds(west);
  await createNamespaces(west, [{ name: src }, { name: own }]);
  await createNamespaces(east, [{ name: teamA }, { name: teamB }, { name: teamC }]);
  const nsyncInEast = await installTargetSide();

  sourceTeam = await party(
    west,
    src,
    'source-team',
    [
      {
        apiGroups: [''],
        resources: ['secrets'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      },
      {
        apiGroups: ['nsync.dev'],
        resources: ['mirrors'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      },
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['get', 'list', 'watch'] },
    ],
    'namespace',
  );
  targetTeam = await party(
    east,
    teamA,
    'target-team',
    [
      {
        apiGroups: [''],
        resources: ['secrets'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      },
    ],
    'namespace',
  );
  platformAdmin = await party(
    east,
    'default',
    'platform-admin',
    [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch', 'patch'] }],
    'cluster',
  );
  // East's platform admin consents for team-a and team-b (nsync runs with --target-consent);
  // team-c has not consented.
  for (const namespace of [teamA, teamB])
    await as(east, platformAdmin, 'PATCH', `/api/v1/namespaces/${namespace}`, {
      metadata: { annotations: { [ACCEPT_FROM_ANNOTATION]: src } },
    });

  // The operator registers east; it accepts pushes from some other namespace, not the source team's.
  const created = await west.api(
    'POST',
    `/api/v1/namespaces/${own}/secrets`,
    registration(nsyncInEast, `${prefix}-elsewhere`),
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  nsync = await startNsync(
    west,
    [`${prefix}-*`],
    [
      '--cluster-name=west',
      '--registered-clusters',
      `--own-namespace=${own}`,
      '--target-consent',
      '--resync-period=10m',
    ],
  );
  await eastRunning(1);
});

after(async () => {
  await nsync.stop();
  await east.stop();
});

test("the source team's annotation and Mirror reach east only once the operator's accept-from admits its namespace", async () => {
  await as(
    west,
    sourceTeam,
    'POST',
    `/api/v1/namespaces/${src}/secrets`,
    secretWithValue('pushed', secret('v1'), {
      [native.pushToClusters]: 'east',
      [native.pushTo]: `${teamA}, ${teamB}`,
    }),
  );
  await as(
    west,
    sourceTeam,
    'POST',
    `/api/v1/namespaces/${src}/secrets`,
    secretWithValue('by-mirror', secret('m1')),
  );
  await as(west, sourceTeam, 'POST', `${NSYNC_API}/namespaces/${src}/mirrors`, {
    apiVersion: 'nsync.dev/v1alpha1',
    kind: 'Mirror',
    metadata: { name: 'by-mirror', namespace: src },
    spec: {
      source: { kind: 'Secret', name: 'by-mirror' },
      targets: { namespaces: [teamA] },
      clusters: { names: ['east'] },
    },
  });

  const onAnnotation = await eventually(
    'RemoteClusterConsentMissing about the annotated source',
    eventOf('pushed', 'RemoteClusterConsentMissing', /push-to-clusters/),
    CONVERGE,
  );
  assert.equal(onAnnotation.type, 'Warning');
  await eventually(
    'RemoteClusterConsentMissing about the Mirror, on its source',
    eventOf('by-mirror', 'RemoteClusterConsentMissing', new RegExp(`Mirror/${src}/by-mirror`)),
    CONVERGE,
  );
  const refused = await eventually(
    "the Mirror's status says east did not accept it",
    async () =>
      (await as<{ status?: MirrorStatusV1 }>(west, sourceTeam, 'GET', mirrorPath)).status?.clusters?.find(
        (entry: ClusterStatusV1) => entry.name === 'east',
      ),
    CONVERGE,
  );
  assert.equal(refused.accepted, false);
  await allIdle(nsync);
  for (const [namespace, name] of [
    [teamA, 'pushed'],
    [teamB, 'pushed'],
    [teamA, 'by-mirror'],
  ] as const)
    assert.equal(
      await getObject(east, 'secrets', namespace, name),
      undefined,
      `nothing in ${namespace}/${name}`,
    );

  // The operator (west's admin, who owns nsync's namespace) admits the source team's namespace.
  const before = eastStarts();
  await patchObject(west, registrationPath, {
    metadata: { annotations: { [ACCEPT_FROM_ANNOTATION]: `${prefix}-elsewhere, ${src}` } },
  });
  await eventually('team-a copy', hasValue(east, teamA, 'pushed', secret('v1')), CONVERGE);
  await eventually('team-b copy', hasValue(east, teamB, 'pushed', secret('v1')), CONVERGE);
  await eventually("the Mirror's copy", hasValue(east, teamA, 'by-mirror', secret('m1')), CONVERGE);
  assert.ok(eastStarts() > before, 'the accept-from change rebuilt east, no restart');
  const copy = await getObject(east, 'secrets', teamA, 'pushed');
  assert.ok(
    (copy?.metadata.managedFields ?? []).some((entry) => entry.manager === 'nsync'),
    'written by nsync, with its deploy/target identity',
  );
});

test("the source team may not create a ClusterMirror, nor read, change or forge a registration in nsync's namespace", async () => {
  const acceptedBefore = (await getObject(west, 'secrets', own, 'cluster-east'))?.metadata.annotations?.[
    ACCEPT_FROM_ANNOTATION
  ];
  const clusterMirror = {
    apiVersion: 'nsync.dev/v1alpha1',
    kind: 'ClusterMirror',
    metadata: { name: `${prefix}-forged` },
    spec: {
      source: { kind: 'Secret', namespace: src, name: 'pushed' },
      targets: { namespaces: [teamC] },
      clusters: { names: ['east'] },
    },
  };
  assert.equal(await statusOf(west, sourceTeam, 'POST', `${NSYNC_API}/clustermirrors`, clusterMirror), 403);
  assert.equal(await statusOf(west, sourceTeam, 'GET', registrationPath), 403);
  assert.equal(await statusOf(west, sourceTeam, 'GET', `/api/v1/namespaces/${own}/secrets`), 403);
  assert.equal(
    await statusOf(west, sourceTeam, 'PATCH', registrationPath, {
      metadata: { annotations: { [ACCEPT_FROM_ANNOTATION]: '*' } },
    }),
    403,
  );
  assert.equal(await statusOf(west, sourceTeam, 'DELETE', registrationPath), 403);
  const forged = {
    ...registration('forged', '*'),
    metadata: { name: 'cluster-forged', labels: { [CLUSTER_LABEL]: 'forged' } },
  };
  assert.equal(await statusOf(west, sourceTeam, 'POST', `/api/v1/namespaces/${own}/secrets`, forged), 403);
  // The same token does write in its own namespace: the 403s are about where, not a broken token.
  assert.equal(await statusOf(west, sourceTeam, 'GET', `/api/v1/namespaces/${src}/secrets/pushed`), 200);
  const registered = await getObject(west, 'secrets', own, 'cluster-east');
  assert.equal(
    registered?.metadata.annotations?.[ACCEPT_FROM_ANNOTATION],
    acceptedBefore,
    'consent unchanged',
  );
  assert.equal(await getObject(west, 'secrets', own, 'cluster-forged'), undefined);
  assert.equal((await west.api('GET', `${NSYNC_API}/clustermirrors/${prefix}-forged`)).status, 404);
});

test("the target team refuses nsync's copy in east: later changes skip it, its rewrite stays, other namespaces still get them", async () => {
  const copyPath = `/api/v1/namespaces/${teamA}/secrets/pushed`;
  await as(east, targetTeam, 'PATCH', copyPath, { metadata: { annotations: { [owned.refuse]: 'true' } } });
  // The source changes only once nsync has seen the refusal: this tests the refusal, not a race
  // between two teams' writes.
  await eventually(
    "the refusal in nsync's cache of east",
    () =>
      nsync.controller.remotes
        .find((remote) => remote.name === 'east')
        ?.mirrors.Secret.get(objectKey(teamA, 'pushed'))?.annotations[owned.refuse] === 'true'
        ? true
        : undefined,
    CONVERGE,
  );
  await sourceTeamSets('pushed', secret('v2'));
  await eventually('team-b gets the change', hasValue(east, teamB, 'pushed', secret('v2')), CONVERGE);
  const skipped = await eventually(
    'the refusal reported on the source in west',
    eventOf('pushed', 'MirrorRefused', new RegExp(`${teamA}/pushed carries ${owned.refuse}`)),
    CONVERGE,
  );
  assert.match(skipped.note, /^Cluster east: /);
  await allIdle(nsync);
  assert.equal(await valueIn(east, teamA, 'pushed'), secret('v1'), 'the refused copy is not updated');

  // The target team rewrites its object; a later change of the source passes it by again.
  await as(east, targetTeam, 'PATCH', copyPath, { data: { value: b64(secret('ours')) } });
  await sourceTeamSets('pushed', secret('v3'));
  await eventually('team-b gets the next change', hasValue(east, teamB, 'pushed', secret('v3')), CONVERGE);
  await allIdle(nsync);
  assert.equal(await valueIn(east, teamA, 'pushed'), secret('ours'), "the team's rewrite is not reverted");
  assert.equal(
    await valueIn(east, teamA, 'by-mirror'),
    secret('m1'),
    "the Mirror's copy beside it is untouched",
  );
});

test('the target team deletes the refused object: the refusal is withdrawn and nsync copies the current content again', async () => {
  const current = await valueIn(west, src, 'pushed');
  assert.ok(current !== undefined);
  assert.notEqual(await valueIn(east, teamA, 'pushed'), current, 'the refused object holds its own content');
  assert.equal(await statusOf(east, targetTeam, 'DELETE', `/api/v1/namespaces/${teamA}/secrets/pushed`), 200);
  await eventually(
    "the copy re-created with the source's current content",
    hasValue(east, teamA, 'pushed', current),
    CONVERGE,
  );
  const copy = await getObject(east, 'secrets', teamA, 'pushed');
  assert.equal(copy?.metadata.annotations?.[owned.refuse], undefined, 'a fresh copy, not refused');
  await sourceTeamSets('pushed', secret('v4'));
  await eventually(
    'managed again: the next change arrives',
    hasValue(east, teamA, 'pushed', secret('v4')),
    CONVERGE,
  );
});

test("--target-consent in east: a namespace its platform admin has not annotated gets nothing; the admin's accept-from lets the copy in, withdrawing it deletes the copy", async () => {
  await sourceTeamSets('pushed', secret('v5'));
  await as(west, sourceTeam, 'PATCH', `/api/v1/namespaces/${src}/secrets/pushed`, {
    metadata: { annotations: { [native.pushTo]: `${teamA}, ${teamB}, ${teamC}` } },
  });
  const skipped = await eventually(
    'target consent missing, reported on the source in west',
    eventOf(
      'pushed',
      'TargetConsentMissing',
      new RegExp(`Namespace ${teamC} does not accept mirrors from ${src}`),
    ),
    CONVERGE,
  );
  assert.match(skipped.note, /^Cluster east: /);
  await eventually('team-a is served meanwhile', hasValue(east, teamA, 'pushed', secret('v5')), CONVERGE);
  await allIdle(nsync);
  assert.equal(
    await getObject(east, 'secrets', teamC, 'pushed'),
    undefined,
    "nothing without the namespace's consent",
  );

  // A team with Secret rights cannot consent for a namespace: that is the platform admin's word.
  const consent = { metadata: { annotations: { [ACCEPT_FROM_ANNOTATION]: src } } };
  assert.equal(await statusOf(east, targetTeam, 'PATCH', `/api/v1/namespaces/${teamC}`, consent), 403);
  assert.equal(await statusOf(east, targetTeam, 'PATCH', `/api/v1/namespaces/${teamA}`, consent), 403);
  await as(east, platformAdmin, 'PATCH', `/api/v1/namespaces/${teamC}`, consent);
  await eventually(
    'team-c copy once its namespace consents',
    hasValue(east, teamC, 'pushed', secret('v5')),
    CONVERGE,
  );

  await as(east, platformAdmin, 'PATCH', `/api/v1/namespaces/${teamC}`, {
    metadata: { annotations: { [ACCEPT_FROM_ANNOTATION]: `!${src}` } },
  });
  await eventually('team-c copy deleted once consent is withdrawn', gone(east, teamC, 'pushed'), CONVERGE);
  assert.equal(await valueIn(east, teamA, 'pushed'), secret('v5'), 'the other namespaces keep theirs');
});

test("no Secret value reaches nsync's log or its Events, and no token its log", async () => {
  const log = nsync.logs.join('\n');
  assert.ok(nsync.logs.length > 0);
  const answer = await west.api<{ items: { note?: string; reportingInstance?: string }[] }>(
    'GET',
    `/apis/events.k8s.io/v1/namespaces/${src}/events`,
  );
  const notes = answer.body.items
    .filter((event) => event.reportingInstance === THIS_NSYNC)
    .map((event) => event.note ?? '');
  assert.ok(notes.length >= 4, 'the Events above were read');
  for (const value of ['v1', 'v2', 'v3', 'v4', 'v5', 'm1', 'ours'].map(secret)) {
    for (const text of [value, b64(value)]) {
      assert.ok(!log.includes(text), 'a Secret value was logged');
      assert.ok(!notes.some((note) => note.includes(text)), 'a Secret value is in an Event');
    }
  }
  assert.equal(tokens.length, 4, "nsync's identity in east and the three parties");
  for (const token of tokens) {
    assert.ok(!log.includes(token), 'a token was logged');
    assert.ok(!log.includes(b64(token)), 'a token was logged base64-encoded');
  }
});
