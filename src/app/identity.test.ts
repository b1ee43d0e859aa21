/**
 * Roles, RoleBindings and ServiceAccounts in the planner and renderer (docs/adr/0017): their
 * content fields, the trust list for push and pull, a binding waiting for its Role, pulls that
 * leave a binding's roleRef alone, and reserved names and namespaces per kind.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentOf } from './sources.ts';
import { contentWrittenByOthers, toObjectMeta } from './objects.ts';
import { ownedManagedFields } from '../kube/writer.ts';
import { kindNameProblem } from '../rules/names.ts';
import { parseSource, parseTarget } from '../rules/parse.ts';
import type { Dialect, Kind, NamespaceFilter, PushRule } from '../rules/model.ts';
import { BOUNDARY_DEFAULTS } from '../testing/guardrails.ts';
import type { Guardrails, ObjectMeta, PullTarget, Snapshot, SourceState } from '../plan/model.ts';
import { plan } from '../plan/plan.ts';

const NOW = '2026-01-02T03:04:05Z';
const GROUP = 'rbac.authorization.k8s.io';

function meta(kind: Kind, namespace: string, name: string, overrides: Partial<ObjectMeta> = {}): ObjectMeta {
  return {
    kind,
    namespace,
    name,
    uid: `${namespace}-${name}-uid`,
    resourceVersion: '1',
    labels: {},
    annotations: {},
    ownerReferences: [],
    contentForeign: false,
    deleting: false,
    ...overrides,
  };
}

const everywhere: NamespaceFilter = { op: 'all' };

function rule(targetName: string, dialect: Dialect = 'replicator'): PushRule {
  return {
    dialect,
    targets: everywhere,
    targetName,
    copy: { labels: false, annotations: false, ownerReferences: false, keys: undefined },
  };
}

function source(
  kind: Kind,
  name: string,
  raw: object,
  push: readonly PushRule[] = [rule(name)],
): SourceState {
  return {
    meta: meta(kind, 'platform', name, { uid: 'src-uid', resourceVersion: '7' }),
    content: contentOf(kind, { metadata: { name, uid: 'src-uid', resourceVersion: '7' }, ...raw }),
    spec: {
      push,
      consent: [{ dialect: 'replicator', namespaces: everywhere }],
      problems: [],
      unsupported: [],
    },
  };
}

function guardrails(overrides: Partial<Guardrails> = {}): Guardrails {
  return {
    isExcluded: () => false,
    mayPushFrom: () => true,
    optOutLabel: 'nsync.dev/opt-out',
    dialects: new Set<Dialect>(['native', 'reflector', 'replicator', 'kubed']),
    clusterName: '',
    adoptReplicatorReplicas: false,
    ...BOUNDARY_DEFAULTS,
    isRbacSource: (namespace) => namespace === 'platform',
    ...overrides,
  };
}

function snapshot(
  state: SourceState,
  options: {
    namespaces?: readonly string[];
    objects?: readonly ObjectMeta[];
    pullTargets?: readonly PullTarget[];
    guardrails?: Guardrails;
    roles?: readonly string[];
  } = {},
): Snapshot {
  const objects = options.objects ?? [];
  return {
    key: { kind: state.meta.kind, namespace: 'platform', name: state.meta.name },
    source: state,
    namespaces: (options.namespaces ?? ['platform', 'team-a']).map((name) => ({
      name,
      labels: {},
      terminating: false,
    })),
    lookup: (namespace, name) => objects.find((o) => o.namespace === namespace && o.name === name),
    mirrors: objects.filter((o) => o.annotations['nsync.dev/source'] === `platform/${state.meta.name}`),
    pullTargets: options.pullTargets ?? [],
    guardrails: options.guardrails ?? guardrails(),
    roleExists: (namespace, name) => (options.roles ?? []).includes(`${namespace}/${name}`),
    now: NOW,
  };
}

const READ_SECRETS = [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }];

describe('identity kinds: content', () => {
  it('a Role mirror carries its rules under the RBAC apiVersion, and no data', () => {
    const result = plan(snapshot(source('Role', 'reader', { rules: READ_SECRETS })));
    const [op] = result.ops;
    assert.ok(op?.verb === 'create');
    assert.equal(op.body.apiVersion, `${GROUP}/v1`);
    assert.deepEqual(op.body.rules, READ_SECRETS);
    assert.equal(op.body.data, undefined);
    assert.equal(op.target.namespace, 'team-a');
  });

  it('a ServiceAccount’s content is its imagePullSecrets only', () => {
    const content = contentOf('ServiceAccount', {
      metadata: { name: 'bot', uid: 'u', resourceVersion: '1' },
      imagePullSecrets: [{ name: 'regcred' }],
      secrets: [{ name: 'token' }],
      automountServiceAccountToken: false,
    } as never);
    assert.deepEqual(Object.keys(content.data), ['imagePullSecrets']);
    const result = plan(
      snapshot(source('ServiceAccount', 'bot', { imagePullSecrets: [{ name: 'regcred' }] })),
    );
    const [op] = result.ops;
    assert.ok(op?.verb === 'create');
    assert.deepEqual(op.body.imagePullSecrets, [{ name: 'regcred' }]);
    assert.equal('secrets' in op.body, false);
  });

  it('a changed rule makes the mirror stale (the content hash covers the fields)', () => {
    const first = plan(snapshot(source('Role', 'reader', { rules: READ_SECRETS })));
    const created = first.ops[0];
    assert.ok(created?.verb === 'create');
    const mirror = meta('Role', 'team-a', 'reader', {
      labels: created.body.metadata.labels,
      annotations: created.body.metadata.annotations,
    });
    const same = plan(snapshot(source('Role', 'reader', { rules: READ_SECRETS }), { objects: [mirror] }));
    assert.deepEqual(same.ops, []);
    const changed = plan(
      snapshot(source('Role', 'reader', { rules: [{ ...READ_SECRETS[0], verbs: ['get', 'list'] }] }), {
        objects: [mirror],
      }),
    );
    assert.equal(changed.ops[0]?.verb, 'replace');
  });

  it('tamper detection sees another manager on rules, subjects, roleRef, imagePullSecrets — not on a ServiceAccount’s secrets', () => {
    const by = (field: string) => [{ manager: 'kubectl-edit', fieldsV1: { [field]: {} } }];
    for (const field of ['f:rules', 'f:subjects', 'f:roleRef', 'f:imagePullSecrets']) {
      assert.equal(contentWrittenByOthers(by(field)), true, field);
    }
    assert.equal(contentWrittenByOthers(by('f:secrets')), false);
    assert.equal(contentWrittenByOthers(by('f:automountServiceAccountToken')), false);
    const [entry] = ownedManagedFields({ rules: READ_SECRETS }, `${GROUP}/v1`) as {
      fieldsV1: object;
      apiVersion: string;
    }[];
    assert.deepEqual(entry?.fieldsV1, { 'f:rules': {} });
    assert.equal(entry.apiVersion, `${GROUP}/v1`);
  });
});

describe('identity kinds: memory', () => {
  it('an unrelated Role or RoleBinding costs its identity only: no labels, annotations or content kept', () => {
    for (const kind of ['Role', 'RoleBinding', 'ServiceAccount'] as const) {
      const record = toObjectMeta(kind, {
        metadata: {
          name: 'app',
          namespace: 'team-a',
          uid: 'u1',
          resourceVersion: '5',
          labels: { app: 'web', team: 'a' },
          annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"rules":[]}', note: 'x' },
          managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:rules': {} } }],
        },
        rules: READ_SECRETS,
      });
      assert.deepEqual(record.labels, {});
      assert.deepEqual(record.annotations, {});
      assert.equal(record.contentForeign, false);
      assert.equal('rules' in record, false);
      assert.deepEqual(Object.keys(record).sort(), [
        'annotations',
        'contentForeign',
        'deleting',
        'kind',
        'labels',
        'name',
        'namespace',
        'ownerReferences',
        'resourceVersion',
        'uid',
      ]);
    }
  });
});

describe('identity kinds: only trusted namespaces are sources', () => {
  it('a Role outside --rbac-source-namespaces is neither pushed nor pulled, and its old mirrors are deleted', () => {
    const untrusted = guardrails({ isRbacSource: () => false });
    const state = source('Role', 'reader', { rules: READ_SECRETS });
    const mirror = meta('Role', 'team-a', 'reader', {
      labels: { 'app.kubernetes.io/managed-by': 'nsync' },
      annotations: { 'nsync.dev/source': 'platform/reader' },
    });
    const target: PullTarget = {
      meta: meta('Role', 'team-a', 'mine', { annotations: { 'nsync.dev/pull-from': 'platform/reader' } }),
      request: { dialect: 'native', source: { namespace: 'platform', name: 'reader' }, keys: undefined },
    };
    const result = plan(snapshot(state, { objects: [mirror], pullTargets: [target], guardrails: untrusted }));
    assert.deepEqual(
      result.ops.map((op) => `${op.verb} ${op.target.namespace}/${op.target.name}`),
      ['delete team-a/reader'],
    );
    const pull = result.decisions.find((decision) => decision.mode === 'pull');
    assert.equal(pull?.code, 'source-not-allowed');
    assert.match(pull.message, /--rbac-source-namespaces/);
    // Secrets are not affected by the RBAC trust list.
    const secret: SourceState = {
      ...state,
      meta: { ...state.meta, kind: 'Secret' },
      content: { type: 'Opaque', data: { k: 'dg==' }, binaryData: {} },
    };
    const secretPlan = plan({
      ...snapshot(secret, { guardrails: untrusted }),
      key: { kind: 'Secret', namespace: 'platform', name: 'reader' },
    });
    assert.equal(secretPlan.ops[0]?.verb, 'create');
  });
});

describe('identity kinds: RoleBindings', () => {
  const binding = (kind: 'Role' | 'ClusterRole'): object => ({
    roleRef: { apiGroup: GROUP, kind, name: 'reader' },
    subjects: [{ kind: 'Group', apiGroup: GROUP, name: 'team' }],
  });

  it('a binding to a Role waits until the Role exists in the target; to a ClusterRole it does not', () => {
    const waiting = plan(snapshot(source('RoleBinding', 'readers', binding('Role'))));
    assert.deepEqual(waiting.ops, []);
    assert.equal(waiting.decisions.find((d) => d.namespace === 'team-a')?.code, 'waiting-for-role');
    const ready = plan(
      snapshot(source('RoleBinding', 'readers', binding('Role')), { roles: ['team-a/reader'] }),
    );
    const [op] = ready.ops;
    assert.ok(op?.verb === 'create');
    assert.deepEqual(op.body.roleRef, { apiGroup: GROUP, kind: 'Role', name: 'reader' });
    assert.deepEqual(op.body.subjects, [{ kind: 'Group', apiGroup: GROUP, name: 'team' }]);
    assert.equal(
      plan(snapshot(source('RoleBinding', 'readers', binding('ClusterRole')))).ops[0]?.verb,
      'create',
    );
  });

  it('an existing mirror is not deleted while its Role is missing', () => {
    const mirror = meta('RoleBinding', 'team-a', 'readers', {
      labels: { 'app.kubernetes.io/managed-by': 'nsync' },
      annotations: { 'nsync.dev/source': 'platform/readers' },
    });
    const result = plan(snapshot(source('RoleBinding', 'readers', binding('Role')), { objects: [mirror] }));
    assert.equal(
      result.ops.some((op) => op.verb === 'delete'),
      false,
    );
  });

  it('a pull fills subjects only: the target’s roleRef is its creator’s', () => {
    const target: PullTarget = {
      meta: meta('RoleBinding', 'team-a', 'mine', {
        annotations: { 'replicator.v1.mittwald.de/replicate-from': 'platform/readers' },
      }),
      request: { dialect: 'replicator', source: { namespace: 'platform', name: 'readers' }, keys: undefined },
    };
    const result = plan(
      snapshot(source('RoleBinding', 'readers', binding('ClusterRole'), []), { pullTargets: [target] }),
    );
    const [op] = result.ops;
    assert.ok(op?.verb === 'patch');
    assert.deepEqual(op.patch.subjects, [{ kind: 'Group', apiGroup: GROUP, name: 'team' }]);
    assert.equal('roleRef' in op.patch, false);
    assert.equal(op.patch.data, undefined);
  });
});

describe('identity kinds: reserved names and namespaces', () => {
  it('the default ServiceAccount, system: and kubeadm: Roles and bindings are never targets', () => {
    for (const [kind, name] of [
      ['ServiceAccount', 'default'],
      ['Role', 'system:controller:token-cleaner'],
      ['RoleBinding', 'system::leader-locking-kube-scheduler'],
      ['RoleBinding', 'kubeadm:kubelet-config'],
    ] as const) {
      const raw =
        kind === 'RoleBinding' ? { roleRef: { apiGroup: GROUP, kind: 'ClusterRole', name: 'x' } } : {};
      const result = plan(snapshot(source(kind, name, raw)));
      assert.deepEqual(result.ops, [], `${kind} ${name}`);
      assert.equal(result.decisions.find((d) => d.namespace === 'team-a')?.code, 'reserved');
    }
  });

  it('kube-system, kube-public and kube-node-lease never get an identity kind, even when not excluded', () => {
    const namespaces = ['platform', 'kube-system', 'kube-public', 'kube-node-lease', 'team-a'];
    const result = plan(snapshot(source('Role', 'reader', { rules: READ_SECRETS }), { namespaces }));
    assert.deepEqual(
      result.ops.map((op) => op.target.namespace),
      ['team-a'],
    );
  });
});

describe('identity kinds: annotations', () => {
  it('reflector and kubed annotations on a Role are reported and ask for nothing; replicator and native do', () => {
    const reflected = parseSource(
      'Role',
      'platform',
      'r',
      {
        'reflector.v1.k8s.emberstack.com/reflection-allowed': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-auto-enabled': 'true',
        'kubed.appscode.com/sync': '',
      },
      undefined,
    );
    assert.deepEqual(reflected.push, []);
    assert.deepEqual(reflected.consent, []);
    assert.deepEqual(
      reflected.unsupported.map((problem) => problem.dialect),
      ['reflector', 'kubed'],
    );
    const replicated = parseSource(
      'Role',
      'platform',
      'r',
      { 'replicator.v1.mittwald.de/replicate-to': 'a' },
      undefined,
    );
    assert.equal(replicated.push.length, 1);
    const pulled = parseTarget('RoleBinding', { 'reflector.v1.k8s.emberstack.com/reflects': 'platform/r' });
    assert.equal(pulled.pull, undefined);
    assert.equal(pulled.problems.length, 1);
  });

  it('Role and RoleBinding names may hold colons; Secret names may not', () => {
    assert.equal(kindNameProblem('Role', 'team:reader'), undefined);
    assert.equal(kindNameProblem('RoleBinding', 'system:controller:x'), undefined);
    assert.ok(kindNameProblem('Role', 'a/b'));
    assert.ok(kindNameProblem('Secret', 'team:reader'));
    assert.ok(kindNameProblem('ServiceAccount', 'team:reader'));
  });
});
