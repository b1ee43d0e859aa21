/**
 * No escalation through nsync's Roles, RoleBindings and ServiceAccounts (docs/adr/0017). A tenant
 * may create and edit Roles, RoleBindings, ServiceAccounts, Secrets and ConfigMaps in its own
 * namespace, with any annotations; nsync runs with exactly the rights the chart grants it for
 * these kinds (no `escalate`, no `bind`) and trusts one platform namespace as their source. The
 * tenant tries, with its own token, every way of making nsync grant it something elsewhere: push
 * in every dialect, pull from a namespace that "consents", a rename onto another team's Role,
 * forged ownership markers, a ServiceAccount. The API server's authorizer is asked
 * (SubjectAccessReview) what the tenant may do in the other namespaces before and after.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../src/app/config.ts';
import { Teardown } from '../faults/helpers.ts';
import {
  b64,
  createNamespaces,
  createObject,
  eventsAbout,
  eventually,
  sharedCluster,
} from '../support/cluster.ts';
import { startController, type RunningNsync } from '../support/nsync.ts';
import {
  createIdentity,
  getIdentity,
  listIdentities,
  mayDo,
  serviceAccountUser,
  type Access,
} from '../support/rbac.ts';

const cluster = sharedCluster();
const prefix = `sr${randomBytes(2).toString('hex')}`;
const tenant = `${prefix}-tenant`;
const victim = `${prefix}-victim`;
const platform = `${prefix}-platform`;
const home = `${prefix}-nsync`;
const P = 'replicator.v1.mittwald.de/';
const R = 'reflector.v1.k8s.emberstack.com/';
const K = 'kubed.appscode.com/';
const RBAC_GROUP = 'rbac.authorization.k8s.io';
const CRUD = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
const teardown = new Teardown();
const tenantUser = serviceAccountUser(tenant, 'tenant');
let tenantToken = '';
let nsync: RunningNsync;

/**
 * nsync's ClusterRole as the chart renders it with every kind on (test/chart.test.ts checks the
 * chart): write rights on the five kinds, read namespaces, report Events. No escalate, no bind.
 */
const NSYNC_RULES = [
  { apiGroups: [''], resources: ['secrets', 'configmaps', 'serviceaccounts'], verbs: CRUD },
  { apiGroups: [RBAC_GROUP], resources: ['roles', 'rolebindings'], verbs: CRUD },
  { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
];

/** What the tenant must never be able to do outside its namespace. */
function forbidden(namespace: string): Access[] {
  return [
    { verb: 'get', resource: 'secrets', namespace, name: 'db' },
    { verb: 'list', resource: 'secrets', namespace },
    { verb: 'get', resource: 'configmaps', namespace },
    { verb: 'create', group: RBAC_GROUP, resource: 'rolebindings', namespace },
    { verb: 'create', group: RBAC_GROUP, resource: 'roles', namespace },
    { verb: 'update', group: RBAC_GROUP, resource: 'roles', namespace, name: 'victim-admin' },
    { verb: 'create', resource: 'serviceaccounts', namespace },
    { verb: 'create', resource: 'pods', namespace },
  ];
}

/** The accesses of `forbidden` the tenant has now, as words (empty = none). */
async function tenantGrants(): Promise<string[]> {
  const granted: string[] = [];
  for (const namespace of [victim, platform, home]) {
    for (const access of forbidden(namespace)) {
      if (await mayDo(cluster, tenantUser.user, tenantUser.groups, access)) {
        granted.push(
          `${access.verb} ${access.resource}${access.name ? `/${access.name}` : ''} in ${namespace}`,
        );
      }
    }
  }
  return granted;
}

/** Creates an identity-kind object as the tenant, in its namespace. */
function tenantCreates(plural: 'roles' | 'rolebindings' | 'serviceaccounts', body: object): Promise<unknown> {
  return createIdentity(cluster, plural, tenant, body, tenantToken);
}

/** The names of every Role, RoleBinding and ServiceAccount in a namespace. */
async function inventory(namespace: string): Promise<string[]> {
  const names: string[] = [];
  for (const plural of ['roles', 'rolebindings', 'serviceaccounts'] as const) {
    for (const object of await listIdentities(cluster, plural, namespace)) {
      names.push(`${plural}/${object.metadata.name}`);
    }
  }
  return names.sort();
}

before(async () => {
  await createNamespaces(cluster, [{ name: tenant }, { name: victim }, { name: platform }, { name: home }]);
  // The tenant: full rights on the five kinds in its own namespace, nothing elsewhere.
  await createIdentity(cluster, 'roles', tenant, {
    metadata: { name: 'tenant-admin' },
    rules: [
      { apiGroups: [''], resources: ['secrets', 'configmaps', 'serviceaccounts'], verbs: CRUD },
      { apiGroups: [RBAC_GROUP], resources: ['roles', 'rolebindings'], verbs: CRUD },
    ],
  });
  await createIdentity(cluster, 'rolebindings', tenant, {
    metadata: { name: 'tenant-admin' },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name: 'tenant-admin' },
    subjects: [{ kind: 'ServiceAccount', name: 'tenant', namespace: tenant }],
  });
  tenantToken = (await cluster.serviceAccountIdentity(tenant, 'tenant')).token;

  // The victim: a Secret, its own admin Role and binding, "consenting" to be pulled by the tenant.
  await createObject(cluster, 'secrets', victim, {
    metadata: { name: 'db' },
    data: { password: b64('s3cret') },
  });
  await createIdentity(cluster, 'roles', victim, {
    metadata: {
      name: 'victim-admin',
      annotations: { [`${P}replication-allowed`]: 'true', [`${P}replication-allowed-namespaces`]: tenant },
    },
    rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
  });
  await createIdentity(cluster, 'rolebindings', victim, {
    metadata: {
      name: 'victim-admins',
      annotations: { [`${P}replication-allowed`]: 'true', [`${P}replication-allowed-namespaces`]: tenant },
    },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name: 'victim-admin' },
    subjects: [{ kind: 'Group', apiGroup: RBAC_GROUP, name: 'victim-team' }],
  });

  // nsync with the chart's rights, as a ServiceAccount of its own.
  const role = `${prefix}-nsync`;
  await cluster.api('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    metadata: { name: role },
    rules: NSYNC_RULES,
  });
  teardown.add(role, async (name) => {
    await cluster.api('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}`);
    await cluster.api('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${name}`);
  });
  await cluster.api('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: role },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: role },
    subjects: [{ kind: 'ServiceAccount', name: 'nsync', namespace: home }],
  });
  const identity = await cluster.serviceAccountIdentity(home, 'nsync');
  await eventually('nsync’s and the tenant’s rights to take effect', async () => {
    const nsyncCan = await cluster.apiAs(identity.token, 'GET', '/apis/rbac.authorization.k8s.io/v1/roles');
    const tenantCan = await cluster.apiAs(
      tenantToken,
      'GET',
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${tenant}/roles`,
    );
    return nsyncCan.status === 200 && tenantCan.status === 200 ? true : undefined;
  });
  const config = parseConfig(
    [
      `--kubeconfig=${identity.kubeconfigPath}`,
      '--leader-elect=false',
      '--listen=127.0.0.1:0',
      `--exclude-namespaces=*,!${prefix}-*`,
      `--source-namespaces=${prefix}-*`,
      '--kinds=secrets,configmaps,roles,rolebindings,serviceaccounts',
      `--rbac-source-namespaces=${platform}`,
      `--own-namespace=${home}`,
      '--log-level=debug',
    ],
    {},
  );
  nsync = teardown.add(await startController(config, identity.kubeconfigPath), (started) => started.stop());
});

after(() => teardown.run());

test('nsync holds neither escalate nor bind: the API server caps what it can grant', async () => {
  const self = serviceAccountUser(home, 'nsync');
  for (const verb of ['escalate', 'bind']) {
    for (const resource of ['roles', 'clusterroles']) {
      const access = { verb, group: RBAC_GROUP, resource, namespace: victim };
      assert.equal(await mayDo(cluster, self.user, self.groups, access), false, `${verb} ${resource}`);
    }
  }
  // A trusted source that binds more than nsync holds (cluster-admin: every verb on everything) is
  // refused by the API server, not by nsync's judgement: the binding never exists. (Not `admin`:
  // an aggregated ClusterRole has no rules until the aggregation controller fills them, which
  // this control plane does not run.)
  await createIdentity(cluster, 'rolebindings', platform, {
    metadata: { name: 'platform-admins', annotations: { [`${P}replicate-to`]: victim } },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'Group', apiGroup: RBAC_GROUP, name: 'auditors' }],
  });
  const failed = await eventually('a MirrorWriteFailed Event on the admin binding', async () => {
    const events = await eventsAbout(cluster, platform, 'platform-admins');
    return events.find((event) => event.reason === 'MirrorWriteFailed');
  });
  assert.match(failed.note, /forbidden/);
  assert.equal(await getIdentity(cluster, 'rolebindings', victim, 'platform-admins'), undefined);
  assert.equal(
    await mayDo(cluster, 'someone', ['auditors'], { verb: 'create', resource: 'pods', namespace: victim }),
    false,
  );
  await cluster.api(
    'DELETE',
    `/apis/rbac.authorization.k8s.io/v1/namespaces/${platform}/rolebindings/platform-admins`,
  );
});

test('a tenant who edits Roles and RoleBindings in its namespace gains no right elsewhere through nsync: push, pull, rename, forged markers, every dialect', async () => {
  assert.deepEqual(await tenantGrants(), [], 'before: the tenant has no right outside its namespace');
  const before = await inventory(victim);

  // A control: the trusted platform namespace does push a Role and a binding into the victim's
  // namespace — so nsync, with exactly these rights, could carry the tenant's too.
  await createIdentity(cluster, 'roles', platform, {
    metadata: { name: 'platform-reader', annotations: { [`${P}replicate-to`]: victim } },
    rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }],
  });
  await createIdentity(cluster, 'rolebindings', platform, {
    metadata: { name: 'platform-readers', annotations: { 'nsync.dev/push-to': `${victim},${tenant}` } },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name: 'platform-reader' },
    subjects: [{ kind: 'Group', apiGroup: RBAC_GROUP, name: 'auditors' }],
  });

  const steal = [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }];
  const selfSubject = [{ kind: 'ServiceAccount', name: 'tenant', namespace: tenant }];
  const toVictim = {
    [`${P}replicate-to`]: victim,
    [`${P}replicate-to-matching`]: `kubernetes.io/metadata.name=${victim}`,
    'nsync.dev/push-to': victim,
  };
  // Push, replicator and native, by name and by selector.
  await tenantCreates('roles', { metadata: { name: 'steal', annotations: toVictim }, rules: steal });
  await tenantCreates('rolebindings', {
    metadata: { name: 'steal', annotations: toVictim },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name: 'steal' },
    subjects: selfSubject,
  });
  // reflector and kubed never served these kinds; their annotations must do nothing either.
  for (const [name, annotations] of [
    [
      'steal-reflector',
      {
        [`${R}reflection-allowed`]: 'true',
        [`${R}reflection-auto-enabled`]: 'true',
        [`${R}reflection-allowed-namespaces`]: victim,
      },
    ],
    ['steal-kubed', { [`${K}sync`]: '' }],
  ] as const) {
    await tenantCreates('roles', { metadata: { name, annotations }, rules: steal });
    await tenantCreates('rolebindings', {
      metadata: { name, annotations },
      roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name },
      subjects: selfSubject,
    });
  }
  // Rename onto the victim's own Role and binding.
  await tenantCreates('roles', {
    metadata: {
      name: 'rename',
      annotations: { 'nsync.dev/push-to': victim, 'nsync.dev/target-name': 'victim-admin' },
    },
    rules: steal,
  });
  await tenantCreates('rolebindings', {
    metadata: {
      name: 'rename',
      annotations: { [`${P}replicate-to`]: victim, 'nsync.dev/target-name': 'victim-admins' },
    },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name: 'steal' },
    subjects: selfSubject,
  });
  // A ServiceAccount pushed into the victim's namespace.
  await tenantCreates('serviceaccounts', {
    metadata: { name: 'ci', annotations: toVictim },
    imagePullSecrets: [{ name: 'db' }],
  });
  // Pull from the victim, whose annotations "consent" — but it is no trusted namespace — and from
  // the platform, which does not consent.
  await tenantCreates('rolebindings', {
    metadata: { name: 'pull-victim', annotations: { [`${P}replicate-from`]: `${victim}/victim-admins` } },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name: 'steal' },
    subjects: [],
  });
  await tenantCreates('roles', {
    metadata: {
      name: 'pull-platform',
      annotations: { 'nsync.dev/pull-from': `${platform}/platform-reader` },
    },
    rules: [],
  });
  // Forged markers: a binding in the tenant's namespace posing as the platform binding's mirror,
  // with the tenant as subject and a push of its own (a chain).
  await tenantCreates('rolebindings', {
    metadata: {
      name: 'forged',
      labels: { 'app.kubernetes.io/managed-by': 'nsync' },
      annotations: {
        'nsync.dev/source': `${platform}/platform-readers`,
        [`${R}reflects`]: `${platform}/platform-readers`,
        [`${R}auto-reflects`]: 'True',
        [`${P}replicate-to`]: victim,
      },
    },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name: 'steal' },
    subjects: selfSubject,
  });

  // The control arrives (the binding after its Role), and nsync has done all it will do.
  const mirrored = await eventually('the platform binding in the victim namespace', () =>
    getIdentity(cluster, 'rolebindings', victim, 'platform-readers'),
  );
  assert.deepEqual(mirrored.subjects, [{ kind: 'Group', apiGroup: RBAC_GROUP, name: 'auditors' }]);
  await eventually('the forged binding in the tenant namespace to be handled', async () => {
    const forged = await getIdentity(cluster, 'rolebindings', tenant, 'forged');
    return forged === undefined || forged.subjects?.[0]?.name === 'auditors' ? true : undefined;
  });
  await nsync.idle();

  // Nothing of the tenant's reached the victim; the victim's own objects are as they were.
  assert.deepEqual(
    await inventory(victim),
    [...before, 'rolebindings/platform-readers', 'roles/platform-reader'].sort(),
  );
  const victimRole = await getIdentity(cluster, 'roles', victim, 'victim-admin');
  assert.deepEqual(victimRole?.rules, [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }]);
  const victimBinding = await getIdentity(cluster, 'rolebindings', victim, 'victim-admins');
  assert.deepEqual(victimBinding?.subjects, [{ kind: 'Group', apiGroup: RBAC_GROUP, name: 'victim-team' }]);
  // Nothing was pulled into the tenant's namespace either.
  assert.deepEqual((await getIdentity(cluster, 'rolebindings', tenant, 'pull-victim'))?.subjects ?? [], []);
  assert.deepEqual((await getIdentity(cluster, 'roles', tenant, 'pull-platform'))?.rules ?? [], []);

  assert.deepEqual(await tenantGrants(), [], 'after: still no right outside its namespace');
});
