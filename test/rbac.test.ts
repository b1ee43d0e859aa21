/**
 * Roles, RoleBindings and ServiceAccounts, as kubernetes-replicator replicates them
 * (dialects.md §2 and §5), on the real control plane: a Role's rules, a RoleBinding's subjects and
 * roleRef, a ServiceAccount's imagePullSecrets — pushed and pulled, only from the namespaces the
 * operator trusts (`--rbac-source-namespaces`, docs/adr/0017). The tenant's side of it (no
 * escalation) is test/security/rbac-tenant.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { sampleValue } from './faults/helpers.ts';
import { createNamespaces, eventsAbout, eventually, patchObject, sharedCluster } from './support/cluster.ts';
import { startNsync, type RunningNsync } from './support/nsync.ts';
import {
  createIdentity,
  getIdentity,
  identityPath,
  listIdentities,
  type IdentityObject,
  type IdentityPlural,
} from './support/rbac.ts';

const cluster = sharedCluster();
const P = 'replicator.v1.mittwald.de/';
const RBAC_GROUP = 'rbac.authorization.k8s.io';
const READ_SECRETS = [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }];

/** A fresh set of namespaces for one test: `<prefix>-platform` is the trusted one. */
async function namespacesFor(test: string, names: readonly string[]): Promise<string> {
  const prefix = `${test}${randomBytes(2).toString('hex')}`;
  await createNamespaces(cluster, [
    { name: `${prefix}-platform` },
    ...names.map((name) => ({ name: `${prefix}-${name}` })),
  ]);
  return prefix;
}

/** nsync for one test's namespaces, with the identity kinds on and the platform namespace trusted. */
function startFor(prefix: string, extra: readonly string[] = []): Promise<RunningNsync> {
  return startNsync(
    cluster,
    [`${prefix}-*`],
    ['--kinds=roles,rolebindings,serviceaccounts', `--rbac-source-namespaces=${prefix}-platform`, ...extra],
  );
}

/** Waits until an object exists and passes `check`; returns it. */
function present(
  plural: IdentityPlural,
  namespace: string,
  name: string,
  check: (object: IdentityObject) => boolean = () => true,
): Promise<IdentityObject> {
  return eventually(`${plural} ${namespace}/${name}`, async () => {
    const object = await getIdentity(cluster, plural, namespace, name);
    return object !== undefined && check(object) ? object : undefined;
  });
}

/** Waits until an object is gone. */
function absent(plural: IdentityPlural, namespace: string, name: string): Promise<boolean> {
  return eventually(`${plural} ${namespace}/${name} to be deleted`, async () =>
    (await getIdentity(cluster, plural, namespace, name)) === undefined ? true : undefined,
  );
}

const verbsOf = (object: IdentityObject): string =>
  (object.rules ?? []).map((rule) => [...rule.verbs].sort().join(',')).join(';');

test('push: rules, subjects with roleRef, and imagePullSecrets reach the selected namespaces, follow updates, and go with the source (replicator and native)', async () => {
  const prefix = await namespacesFor('rb', ['a', 'b', 'c']);
  const [platform, a, b, c] = ['platform', 'a', 'b', 'c'].map((name) => `${prefix}-${name}`) as [
    string,
    string,
    string,
    string,
  ];
  const nsync = await startFor(prefix);
  try {
    await createIdentity(cluster, 'roles', platform, {
      metadata: { name: 'app-reader', annotations: { [`${P}replicate-to`]: `${a},${b}` } },
      rules: READ_SECRETS,
    });
    await createIdentity(cluster, 'rolebindings', platform, {
      metadata: { name: 'app-viewers', annotations: { 'nsync.dev/push-to': a } },
      roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'Group', apiGroup: RBAC_GROUP, name: 'team-a' }],
    });
    await createIdentity(cluster, 'serviceaccounts', platform, {
      metadata: { name: 'puller', annotations: { [`${P}replicate-to`]: `${prefix}-[ab]` } },
      imagePullSecrets: [{ name: 'regcred' }],
    });

    for (const namespace of [a, b]) {
      const role = await present('roles', namespace, 'app-reader');
      assert.deepEqual(role.rules, READ_SECRETS);
      assert.equal(role.metadata.labels?.['app.kubernetes.io/managed-by'], 'nsync');
      assert.equal(role.metadata.annotations?.['nsync.dev/source'], `${platform}/app-reader`);
      assert.ok(role.metadata.annotations[`${P}replicated-at`], 'replicator markers are written');
      const account = await present('serviceaccounts', namespace, 'puller');
      assert.deepEqual(account.imagePullSecrets, [{ name: 'regcred' }]);
    }
    const binding = await present('rolebindings', a, 'app-viewers');
    assert.deepEqual(binding.roleRef, { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: 'view' });
    assert.deepEqual(binding.subjects, [{ kind: 'Group', apiGroup: RBAC_GROUP, name: 'team-a' }]);
    await nsync.idle();
    assert.equal(await getIdentity(cluster, 'rolebindings', b, 'app-viewers'), undefined, 'push-to: a only');
    assert.equal(await getIdentity(cluster, 'roles', c, 'app-reader'), undefined, 'c is not selected');
    assert.equal(
      await getIdentity(cluster, 'roles', platform, 'app-reader').then((r) => r?.rules?.length),
      1,
    );

    // Updates arrive; a namespace leaving the selection loses its mirror.
    await patchObject(cluster, identityPath('roles', platform, 'app-reader'), {
      metadata: { annotations: { [`${P}replicate-to`]: a } },
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
    });
    await patchObject(cluster, identityPath('rolebindings', platform, 'app-viewers'), {
      subjects: [{ kind: 'Group', apiGroup: RBAC_GROUP, name: 'team-b' }],
    });
    await patchObject(cluster, identityPath('serviceaccounts', platform, 'puller'), {
      imagePullSecrets: [{ name: 'regcred' }, { name: 'mirror-registry' }],
    });
    await present('roles', a, 'app-reader', (role) => verbsOf(role) === 'get,list');
    await absent('roles', b, 'app-reader');
    await present('rolebindings', a, 'app-viewers', (found) => found.subjects?.[0]?.name === 'team-b');
    for (const namespace of [a, b]) {
      await present('serviceaccounts', namespace, 'puller', (found) => found.imagePullSecrets?.length === 2);
    }

    // The source goes: so do its mirrors.
    await cluster.api('DELETE', identityPath('roles', platform, 'app-reader'));
    await cluster.api('DELETE', identityPath('rolebindings', platform, 'app-viewers'));
    await cluster.api('DELETE', identityPath('serviceaccounts', platform, 'puller'));
    await absent('roles', a, 'app-reader');
    await absent('rolebindings', a, 'app-viewers');
    await absent('serviceaccounts', a, 'puller');
    await absent('serviceaccounts', b, 'puller');
  } finally {
    await nsync.stop();
  }
});

test('a binding to a Role waits until that Role exists in the target; a binding to a ClusterRole does not', async () => {
  const prefix = await namespacesFor('rw', ['t']);
  const platform = `${prefix}-platform`;
  const target = `${prefix}-t`;
  const nsync = await startFor(prefix);
  try {
    const subjects = [{ kind: 'Group', apiGroup: RBAC_GROUP, name: 'team-t' }];
    await createIdentity(cluster, 'rolebindings', platform, {
      metadata: { name: 'waits', annotations: { [`${P}replicate-to`]: target } },
      roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name: 'later' },
      subjects,
    });
    await createIdentity(cluster, 'rolebindings', platform, {
      metadata: { name: 'at-once', annotations: { [`${P}replicate-to`]: target } },
      roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: 'view' },
      subjects,
    });
    await present('rolebindings', target, 'at-once');
    await nsync.idle();
    assert.equal(await getIdentity(cluster, 'rolebindings', target, 'waits'), undefined, 'no Role yet');
    const waiting = sampleValue(await nsync.metrics.registry.metrics(), 'nsync_mirrors', {
      state: 'waiting',
    });
    assert.equal(waiting, 1, 'the waiting binding is counted');

    // The Role appears (here made by the target's own team): the binding follows.
    await createIdentity(cluster, 'roles', target, { metadata: { name: 'later' }, rules: READ_SECRETS });
    const binding = await present('rolebindings', target, 'waits');
    assert.deepEqual(binding.roleRef, { apiGroup: RBAC_GROUP, kind: 'Role', name: 'later' });
    assert.deepEqual(binding.subjects, subjects);
  } finally {
    await nsync.stop();
  }
});

test('a changed roleRef re-creates the binding; a ServiceAccount keeps everything but its imagePullSecrets', async () => {
  const prefix = await namespacesFor('rr', ['t']);
  const platform = `${prefix}-platform`;
  const target = `${prefix}-t`;
  const binding = (role: string): object => ({
    metadata: { name: 'switch', annotations: { [`${P}replicate-to`]: target } },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: role },
    subjects: [{ kind: 'Group', apiGroup: RBAC_GROUP, name: 'team-t' }],
  });
  let nsync = await startFor(prefix);
  try {
    await createIdentity(cluster, 'rolebindings', platform, binding('view'));
    await createIdentity(cluster, 'serviceaccounts', platform, {
      metadata: { name: 'deploy-bot', annotations: { [`${P}replicate-to`]: target } },
      imagePullSecrets: [{ name: 'regcred' }],
    });
    const first = await present('rolebindings', target, 'switch');
    await present('serviceaccounts', target, 'deploy-bot');
    // What others write on a ServiceAccount: not nsync's to take away.
    await patchObject(cluster, identityPath('serviceaccounts', target, 'deploy-bot'), {
      automountServiceAccountToken: false,
      secrets: [{ name: 'legacy-token' }],
    });
    await nsync.idle();
    await nsync.stop();

    // While nsync is down the source is re-created with another roleRef (a roleRef cannot change
    // in place), so nsync finds its mirror with the old one: only delete + create can fix it.
    await cluster.api('DELETE', identityPath('rolebindings', platform, 'switch'));
    await createIdentity(cluster, 'rolebindings', platform, binding('edit'));
    await patchObject(cluster, identityPath('serviceaccounts', platform, 'deploy-bot'), {
      imagePullSecrets: [{ name: 'other-registry' }],
    });
    nsync = await startFor(prefix);
    const second = await present('rolebindings', target, 'switch', (found) => found.roleRef?.name === 'edit');
    assert.notEqual(second.metadata.uid, first.metadata.uid, 're-created, not patched');
    // Counted once nsync has the create's answer, which may come after the object is visible.
    await eventually('the re-creation to be counted', async () =>
      sampleValue(await nsync.metrics.registry.metrics(), 'nsync_writes_total', {
        verb: 'recreate',
        outcome: 'success',
      }) === 1
        ? true
        : undefined,
    );
    const account = await present(
      'serviceaccounts',
      target,
      'deploy-bot',
      (found) => found.imagePullSecrets?.[0]?.name === 'other-registry',
    );
    assert.equal(account.automountServiceAccountToken, false);
    assert.deepEqual(account.secrets, [{ name: 'legacy-token' }]);
  } finally {
    await nsync.stop();
  }
});

test('pull: rules and subjects fill the targets that ask, with the trusted source’s consent; a target’s roleRef is its own', async () => {
  const prefix = await namespacesFor('rp', ['e', 'f']);
  const [platform, e, f] = ['platform', 'e', 'f'].map((name) => `${prefix}-${name}`) as [
    string,
    string,
    string,
  ];
  const nsync = await startFor(prefix);
  try {
    const consent = { [`${P}replication-allowed`]: 'true', [`${P}replication-allowed-namespaces`]: e };
    await createIdentity(cluster, 'roles', platform, {
      metadata: { name: 'shared', annotations: consent },
      rules: READ_SECRETS,
    });
    await createIdentity(cluster, 'rolebindings', platform, {
      metadata: { name: 'shared', annotations: consent },
      roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'Group', apiGroup: RBAC_GROUP, name: 'auditors' }],
    });
    for (const namespace of [e, f]) {
      await createIdentity(cluster, 'roles', namespace, {
        metadata: { name: 'mine', annotations: { [`${P}replicate-from`]: `${platform}/shared` } },
        rules: [],
      });
      await createIdentity(cluster, 'rolebindings', namespace, {
        metadata: { name: 'mine', annotations: { [`${P}replicate-from`]: `${platform}/shared` } },
        roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: 'edit' },
        subjects: [],
      });
    }
    const role = await present('roles', e, 'mine', (found) => (found.rules ?? []).length === 1);
    assert.deepEqual(role.rules, READ_SECRETS);
    const bound = await present('rolebindings', e, 'mine', (found) => (found.subjects ?? []).length === 1);
    assert.deepEqual(bound.subjects, [{ kind: 'Group', apiGroup: RBAC_GROUP, name: 'auditors' }]);
    assert.equal(bound.roleRef?.name, 'edit', 'the target keeps the roleRef its creator chose');

    // f is not allowed by the source: its targets stay as they are, and are told why.
    await eventually('a PullNotAllowed Event in f', async () =>
      (await eventsAbout(cluster, f, 'mine')).some((event) => event.reason === 'PullNotAllowed')
        ? true
        : undefined,
    );
    await nsync.idle();
    assert.deepEqual((await getIdentity(cluster, 'roles', f, 'mine'))?.rules ?? [], []);
    assert.deepEqual((await getIdentity(cluster, 'rolebindings', f, 'mine'))?.subjects ?? [], []);

    // The source's rules change: the pulled Role follows.
    await patchObject(cluster, identityPath('roles', platform, 'shared'), {
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }],
    });
    await present('roles', e, 'mine', (found) => found.rules?.[0]?.resources?.[0] === 'configmaps');
  } finally {
    await nsync.stop();
  }
});

test('untrusted namespaces are no source; reserved names and refusals are honoured; replicator’s replicas are adopted', async () => {
  const prefix = await namespacesFor('ru', ['untrusted', 'g', 'h']);
  const [platform, untrusted, g, h] = ['platform', 'untrusted', 'g', 'h'].map(
    (name) => `${prefix}-${name}`,
  ) as [string, string, string, string];
  // replicator left a replica of platform/legacy in h: it names no source.
  const replica = await createIdentity(cluster, 'roles', h, {
    metadata: {
      name: 'legacy',
      annotations: {
        [`${P}replicated-at`]: '2025-01-01T00:00:00Z',
        [`${P}replicated-from-version`]: '123',
      },
    },
    rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }],
  });
  const nsync = await startFor(prefix, ['--adopt-replicator-replicas=true']);
  try {
    await createIdentity(cluster, 'roles', untrusted, {
      metadata: { name: 'from-untrusted', annotations: { [`${P}replicate-to`]: g } },
      rules: READ_SECRETS,
    });
    await createIdentity(cluster, 'roles', platform, {
      metadata: {
        name: 'ops:renamed',
        annotations: { 'nsync.dev/push-to': g, 'nsync.dev/target-name': 'system:controller:evil' },
      },
      rules: READ_SECRETS,
    });
    await createIdentity(cluster, 'roles', platform, {
      metadata: { name: 'legacy', annotations: { [`${P}replicate-to`]: h } },
      rules: READ_SECRETS,
    });
    await createIdentity(cluster, 'roles', platform, {
      metadata: { name: 'refusable', annotations: { [`${P}replicate-to`]: g } },
      rules: READ_SECRETS,
    });
    // Role names may hold colons (Event names may not: nsync's Events still arrive, above).
    await createIdentity(cluster, 'roles', platform, {
      metadata: { name: 'ops:reader', annotations: { [`${P}replicate-to`]: g } },
      rules: READ_SECRETS,
    });
    await present('roles', g, 'ops:reader');

    const adopted = await present(
      'roles',
      h,
      'legacy',
      (found) => found.rules?.[0]?.resources?.[0] === 'secrets',
    );
    assert.equal(adopted.metadata.uid, replica.metadata.uid, 'adopted in place, not re-created');
    assert.equal(adopted.metadata.annotations?.['nsync.dev/source'], `${platform}/legacy`);

    await eventually('a ReservedName Event on the renamed source', async () =>
      (await eventsAbout(cluster, platform, 'ops:renamed')).some((event) => event.reason === 'ReservedName')
        ? true
        : undefined,
    );
    // Refusal: the target's team refuses the mirror; a later change of the source stays out.
    await present('roles', g, 'refusable');
    await patchObject(cluster, identityPath('roles', g, 'refusable'), {
      metadata: { annotations: { 'nsync.dev/refuse': 'true' } },
    });
    await patchObject(cluster, identityPath('roles', platform, 'refusable'), {
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'] }],
    });
    await eventually('a MirrorRefused Event on the source', async () =>
      (await eventsAbout(cluster, platform, 'refusable')).some((event) => event.reason === 'MirrorRefused')
        ? true
        : undefined,
    );
    await nsync.idle();
    assert.equal(
      verbsOf((await getIdentity(cluster, 'roles', g, 'refusable')) ?? { metadata: replica.metadata }),
      'get',
    );
    const inG = (await listIdentities(cluster, 'roles', g)).map((role) => role.metadata.name).sort();
    assert.deepEqual(
      inG,
      ['ops:reader', 'refusable'],
      'nothing from the untrusted namespace, nothing at a reserved name',
    );
  } finally {
    await nsync.stop();
  }
});
