import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mirrorClaim, owned, reflector } from '../rules/markers.ts';
import type {
  CopyOptions,
  Dialect,
  NamespaceFilter,
  NamespaceInfo,
  PullConsent,
  PullRequest,
  PushRule,
  RuleProblem,
} from '../rules/model.ts';
import type {
  Decision,
  Guardrails,
  ObjectMeta,
  Plan,
  PullTarget,
  Snapshot,
  SourceState,
  WriteOp,
} from './model.ts';
import { effectivePushRules, plan } from './plan.ts';
import { renderMirror, renderPullPatch } from './render.ts';

const NOW = '2026-01-02T03:04:05Z';
const SECRET_VALUE = 'c3VwZXItc2VjcmV0LXZhbHVl';

function ns(name: string, labels: Record<string, string> = {}, terminating = false): NamespaceInfo {
  return { name, labels, terminating };
}

function meta(namespace: string, name: string, overrides: Partial<ObjectMeta> = {}): ObjectMeta {
  return {
    kind: 'Secret',
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

function names(...patterns: string[]): NamespaceFilter {
  return { op: 'names', patterns: patterns.map((text) => ({ text, test: (name: string) => name === text })) };
}

function pushRule(
  dialect: Dialect,
  targets: NamespaceFilter,
  copy: Partial<CopyOptions> = {},
  targetName = 'db',
): PushRule {
  return {
    dialect,
    targets,
    targetName,
    copy: { labels: false, annotations: false, ownerReferences: false, keys: undefined, ...copy },
  };
}

interface SourceOptions {
  readonly push?: readonly PushRule[];
  readonly consent?: readonly PullConsent[];
  readonly problems?: readonly RuleProblem[];
  readonly unsupported?: readonly RuleProblem[];
  readonly type?: string;
}

function source(options: SourceOptions = {}): SourceState {
  return {
    meta: meta('platform', 'db', { uid: 'src-uid', resourceVersion: '42' }),
    content: { type: options.type ?? 'Opaque', data: { password: SECRET_VALUE }, binaryData: {} },
    spec: {
      push: options.push ?? [],
      consent: options.consent ?? [],
      problems: options.problems ?? [],
      unsupported: options.unsupported ?? [],
    },
  };
}

function guardrails(overrides: Partial<Guardrails> = {}): Guardrails {
  return {
    isExcluded: (namespace) => namespace === 'kube-system',
    mayPushFrom: () => true,
    optOutLabel: 'nsync.dev/opt-out',
    dialects: new Set<Dialect>(['native', 'reflector', 'replicator', 'kubed']),
    ...overrides,
  };
}

interface World {
  readonly source?: SourceState | undefined;
  readonly namespaces?: readonly NamespaceInfo[];
  readonly objects?: readonly ObjectMeta[];
  readonly pullTargets?: readonly PullTarget[];
  readonly guardrails?: Guardrails;
}

/** A snapshot whose lookup and mirrors agree with one list of objects, as a real cache would. */
function snapshot(world: World): Snapshot {
  const objects = world.objects ?? [];
  return {
    key: { kind: 'Secret', namespace: 'platform', name: 'db' },
    source: 'source' in world ? world.source : source(),
    namespaces: world.namespaces ?? [ns('platform'), ns('team-a'), ns('team-b')],
    lookup: (namespace, name) =>
      objects.find((object) => object.namespace === namespace && object.name === name),
    mirrors: objects.filter((object) => {
      const claim = mirrorClaim(object.kind, object.labels, object.annotations);
      return claim?.sourceNamespace === 'platform' && claim.sourceName === 'db';
    }),
    pullTargets: world.pullTargets ?? [],
    guardrails: world.guardrails ?? guardrails(),
    now: NOW,
  };
}

/** A mirror of platform/db exactly as nsync would have written it for `rule` in `namespace`. */
function currentMirror(
  src: SourceState,
  rule: PushRule,
  namespace: string,
  overrides: Partial<ObjectMeta> = {},
): ObjectMeta {
  const { body } = renderMirror({
    source: src,
    rule,
    namespace,
    existing: undefined,
    now: '2020-01-01T00:00:00Z',
  });
  return meta(namespace, rule.targetName, {
    uid: `${namespace}-mirror-uid`,
    resourceVersion: '9',
    labels: body.metadata.labels,
    annotations: body.metadata.annotations,
    ...overrides,
  });
}

/** A mirror that claims platform/db but holds stale content. */
function staleMirror(namespace: string, name = 'db', overrides: Partial<ObjectMeta> = {}): ObjectMeta {
  return meta(namespace, name, {
    uid: `${namespace}-${name}-mirror-uid`,
    resourceVersion: '9',
    labels: { [owned.managedByLabel]: owned.managedByValue },
    annotations: { [owned.source]: 'platform/db', [owned.contentHash]: 'sha256:old' },
    ...overrides,
  });
}

function decision(result: Plan, namespace: string, name = 'db', mode: Decision['mode'] = 'push'): Decision {
  const found = result.decisions.filter(
    (d) => d.namespace === namespace && d.name === name && d.mode === mode,
  );
  assert.equal(found.length, 1, `one ${mode} decision for ${namespace}/${name}`);
  return found[0] as Decision;
}

function opsOn(result: Plan, namespace: string, name = 'db'): WriteOp[] {
  return result.ops.filter((op) => op.target.namespace === namespace && op.target.name === name);
}

const everywhere = pushRule('native', { op: 'all' });

void describe('plan: push decisions', () => {
  void it('creates a mirror in every selected namespace, never in the source namespace', () => {
    const result = plan(snapshot({ source: source({ push: [everywhere] }) }));
    assert.equal(decision(result, 'platform').code, 'source-namespace');
    assert.deepEqual(opsOn(result, 'platform'), []);
    for (const namespace of ['team-a', 'team-b']) {
      assert.equal(decision(result, namespace).code, 'create');
      const [op] = opsOn(result, namespace);
      assert.ok(op?.verb === 'create');
      assert.deepEqual(op.target, { kind: 'Secret', namespace, name: 'db' });
      assert.equal(op.body.metadata.namespace, namespace);
    }
    assert.equal(result.ops.length, 2);
  });

  void it('says why a namespace is not selected, with the filter verdict', () => {
    const result = plan(snapshot({ source: source({ push: [pushRule('reflector', names('team-a'))] }) }));
    assert.equal(decision(result, 'team-a').code, 'create');
    const skipped = decision(result, 'team-b');
    assert.equal(skipped.code, 'not-selected');
    assert.match(skipped.message, /name matches none of "team-a"/);
    assert.deepEqual(opsOn(result, 'team-b'), []);
  });

  void it('skips excluded namespaces, opted-out namespaces and terminating namespaces', () => {
    const result = plan(
      snapshot({
        source: source({ push: [everywhere] }),
        namespaces: [
          ns('platform'),
          ns('kube-system'),
          ns('quiet', { 'nsync.dev/opt-out': 'true' }),
          ns('half', { 'nsync.dev/opt-out': 'yes' }),
          ns('dying', {}, true),
        ],
      }),
    );
    assert.equal(decision(result, 'kube-system').code, 'excluded');
    assert.equal(decision(result, 'quiet').code, 'opted-out');
    assert.equal(decision(result, 'half').code, 'create');
    assert.equal(decision(result, 'dying').code, 'terminating');
    assert.deepEqual(
      result.ops.map((op) => op.target.namespace),
      ['half'],
    );
  });

  void it('checks exclusion before the source guard, and the source guard before opt-out', () => {
    const result = plan(
      snapshot({
        source: source({ push: [everywhere] }),
        namespaces: [ns('platform'), ns('kube-system'), ns('quiet', { 'nsync.dev/opt-out': 'true' })],
        guardrails: guardrails({ mayPushFrom: (namespace) => namespace !== 'platform' }),
      }),
    );
    assert.equal(decision(result, 'platform').code, 'source-namespace');
    assert.equal(decision(result, 'kube-system').code, 'excluded');
    assert.equal(decision(result, 'quiet').code, 'source-not-allowed');
    assert.deepEqual(result.ops, []);
  });

  void it('treats a source in an excluded namespace as not allowed to push', () => {
    const result = plan(
      snapshot({
        source: source({ push: [everywhere] }),
        guardrails: guardrails({ isExcluded: (namespace) => namespace === 'platform' }),
      }),
    );
    assert.equal(decision(result, 'team-a').code, 'source-not-allowed');
    assert.deepEqual(result.ops, []);
  });

  void it('leaves an up-to-date mirror alone and replaces a stale one with uid and resourceVersion', () => {
    const src = source({ push: [everywhere] });
    const result = plan(
      snapshot({ source: src, objects: [currentMirror(src, everywhere, 'team-a'), staleMirror('team-b')] }),
    );
    assert.equal(decision(result, 'team-a').code, 'in-sync');
    assert.deepEqual(opsOn(result, 'team-a'), []);
    assert.equal(decision(result, 'team-b').code, 'update');
    const [op] = opsOn(result, 'team-b');
    assert.ok(op?.verb === 'replace');
    assert.equal(op.uid, 'team-b-db-mirror-uid');
    assert.equal(op.body.metadata.resourceVersion, '9');
    assert.equal(op.body.data?.['password'], SECRET_VALUE);
  });

  void it('updates an adopted reflector mirror of this source and marks it as nsync’s', () => {
    const adopted = meta('team-a', 'db', {
      annotations: {
        [reflector.reflects]: 'platform/db',
        [reflector.autoReflects]: 'True',
        'user-note': 'x',
      },
    });
    const result = plan(snapshot({ source: source({ push: [everywhere] }), objects: [adopted] }));
    assert.equal(decision(result, 'team-a').code, 'update');
    const [op] = opsOn(result, 'team-a');
    assert.ok(op?.verb === 'replace');
    assert.equal(op.body.metadata.labels[owned.managedByLabel], owned.managedByValue);
    assert.equal(op.body.metadata.annotations['user-note'], 'x');
  });

  void it('never writes over an unowned object or another source’s mirror', () => {
    const unowned = meta('team-a', 'db', { labels: { app: 'mine' } });
    const foreign = staleMirror('team-b', 'db', { annotations: { [owned.source]: 'other/db' } });
    const result = plan(snapshot({ source: source({ push: [everywhere] }), objects: [unowned, foreign] }));
    assert.equal(decision(result, 'team-a').code, 'conflict-unowned');
    const other = decision(result, 'team-b');
    assert.equal(other.code, 'conflict-other-source');
    assert.match(other.message, /other\/db/);
    assert.deepEqual(result.ops, []);
  });

  void it('does not write while the object in the way is being deleted', () => {
    const src = source({ push: [everywhere] });
    const result = plan(
      snapshot({
        source: src,
        objects: [staleMirror('team-a', 'db', { deleting: true }), meta('team-b', 'db', { deleting: true })],
      }),
    );
    assert.equal(decision(result, 'team-a').code, 'terminating');
    assert.equal(decision(result, 'team-b').code, 'terminating');
    assert.deepEqual(result.ops, []);
  });

  void it('does not write when only volatile markers are out of date', () => {
    const rule = pushRule('reflector', { op: 'all' });
    const old = source({ push: [rule] });
    const mirror = currentMirror({ ...old, meta: { ...old.meta, resourceVersion: '1' } }, rule, 'team-a');
    const result = plan(
      snapshot({ source: old, namespaces: [ns('platform'), ns('team-a')], objects: [mirror] }),
    );
    assert.equal(decision(result, 'team-a').code, 'in-sync');
    assert.deepEqual(result.ops, []);
  });

  void it('re-syncs a reflector mirror whose reflected-version was cleared by hand', () => {
    const rule = pushRule('reflector', { op: 'all' });
    const src = source({ push: [rule] });
    const mirror = currentMirror(src, rule, 'team-a');
    const cleared = { ...mirror, annotations: { ...mirror.annotations, [reflector.reflectedVersion]: '' } };
    const result = plan(
      snapshot({ source: src, namespaces: [ns('platform'), ns('team-a')], objects: [cleared] }),
    );
    assert.equal(decision(result, 'team-a').code, 'update');
    assert.equal(result.ops.length, 1);
  });

  void it('rewrites a mirror whose content someone else changed', () => {
    const src = source({ push: [everywhere] });
    const result = plan(
      snapshot({
        source: src,
        namespaces: [ns('platform'), ns('team-a')],
        objects: [currentMirror(src, everywhere, 'team-a', { contentForeign: true })],
      }),
    );
    assert.equal(decision(result, 'team-a').code, 'update');
  });
});

void describe('plan: push rules', () => {
  void it('lets the first dialect in precedence order win a target name', () => {
    const src = source({
      push: [
        pushRule('kubed', { op: 'all' }),
        pushRule('reflector', names('team-a')),
        pushRule('native', names('team-b')),
      ],
    });
    const rules = effectivePushRules(snapshot({ source: src }));
    assert.deepEqual(
      rules.map((rule) => rule.dialect),
      ['native'],
    );
    const result = plan(snapshot({ source: src }));
    assert.equal(decision(result, 'team-a').code, 'not-selected');
    assert.equal(decision(result, 'team-b').code, 'create');
  });

  void it('gives each distinct target name its own decision per namespace', () => {
    const src = source({ push: [everywhere, pushRule('replicator', { op: 'all' }, {}, 'db-copy')] });
    const result = plan(snapshot({ source: src, namespaces: [ns('platform'), ns('team-a')] }));
    assert.deepEqual(
      result.decisions.map((d) => `${d.namespace}/${d.name}:${d.code}`),
      [
        'platform/db:source-namespace',
        'platform/db-copy:source-namespace',
        'team-a/db:create',
        'team-a/db-copy:create',
      ],
    );
  });

  void it('drops rules of disabled dialects, so their mirrors become orphans', () => {
    const rule = pushRule('kubed', { op: 'all' });
    const src = source({ push: [rule] });
    const result = plan(
      snapshot({
        source: src,
        namespaces: [ns('platform'), ns('team-a')],
        objects: [currentMirror(src, rule, 'team-a')],
        guardrails: guardrails({ dialects: new Set<Dialect>(['native']) }),
      }),
    );
    assert.equal(decision(result, 'team-a').code, 'delete-orphan');
    assert.deepEqual(
      result.ops.map((op) => op.verb),
      ['delete'],
    );
  });

  void it('never mirrors Helm release Secrets', () => {
    const src = source({ push: [everywhere], type: 'helm.sh/release.v1' });
    const result = plan(snapshot({ source: src, objects: [staleMirror('team-a')] }));
    assert.deepEqual(
      result.ops.map((op) => `${op.verb} ${op.target.namespace}`),
      ['delete team-a'],
    );
    assert.deepEqual(
      result.decisions.map((d) => d.code),
      ['delete-orphan'],
    );
  });
});

void describe('plan: orphans', () => {
  void it('keeps every mirror of a source whose annotations are invalid (bad input disables, never empties)', () => {
    const src = source({
      push: [],
      problems: [{ dialect: 'native', annotation: 'nsync.dev/push-to', message: 'invalid glob "Team-*"' }],
    });
    const result = plan(snapshot({ source: src, objects: [currentMirror(src, everywhere, 'team-b')] }));
    assert.deepEqual(result.ops, []);
    const kept = decision(result, 'team-b');
    assert.equal(kept.code, 'invalid-rule');
    assert.match(kept.message, /nsync\.dev\/push-to/);
  });

  void it('deletes a mirror where the namespace is no longer selected, with uid and resourceVersion', () => {
    const src = source({ push: [pushRule('native', names('team-a'))] });
    const result = plan(snapshot({ source: src, objects: [currentMirror(src, everywhere, 'team-b')] }));
    const orphan = decision(result, 'team-b');
    assert.equal(orphan.code, 'delete-orphan');
    assert.match(orphan.message, /does not select/);
    assert.deepEqual(opsOn(result, 'team-b'), [
      {
        verb: 'delete',
        target: { kind: 'Secret', namespace: 'team-b', name: 'db' },
        uid: 'team-b-mirror-uid',
        resourceVersion: '9',
      },
    ]);
  });

  void it('deletes mirrors in opted-out namespaces, in the source namespace and under an old target name', () => {
    const src = source({ push: [everywhere] });
    const result = plan(
      snapshot({
        source: src,
        namespaces: [ns('platform'), ns('team-a', { 'nsync.dev/opt-out': 'true' }), ns('team-b')],
        objects: [
          staleMirror('team-a'),
          staleMirror('platform', 'db-copy'),
          staleMirror('team-b', 'old-name'),
        ],
      }),
    );
    assert.equal(decision(result, 'team-a').code, 'delete-orphan');
    assert.equal(decision(result, 'platform', 'db-copy').code, 'delete-orphan');
    assert.equal(decision(result, 'team-b', 'old-name').code, 'delete-orphan');
    assert.deepEqual(
      result.ops.map((op) => `${op.verb} ${op.target.namespace}/${op.target.name}`),
      ['delete platform/db-copy', 'delete team-a/db', 'create team-b/db', 'delete team-b/old-name'],
    );
    assert.equal(decision(result, 'team-b').code, 'create');
  });

  void it('deletes every mirror when the source is gone, but keeps away from excluded, dying and unknown namespaces', () => {
    const result = plan(
      snapshot({
        source: undefined,
        namespaces: [ns('platform'), ns('team-a'), ns('kube-system'), ns('dying', {}, true), ns('team-b')],
        objects: [
          staleMirror('team-a'),
          staleMirror('kube-system'),
          staleMirror('dying'),
          staleMirror('gone'),
          staleMirror('team-b', 'db', { deleting: true }),
        ],
      }),
    );
    assert.equal(decision(result, 'team-a').code, 'source-missing');
    assert.equal(decision(result, 'kube-system').code, 'excluded');
    assert.equal(decision(result, 'dying').code, 'terminating');
    assert.equal(decision(result, 'gone').code, 'terminating');
    assert.equal(decision(result, 'team-b').code, 'terminating');
    assert.deepEqual(
      result.ops.map((op) => `${op.verb} ${op.target.namespace}`),
      ['delete team-a'],
    );
  });

  void it('never deletes the source, even when it carries a claim on itself', () => {
    const selfClaiming = staleMirror('platform', 'db', { uid: 'src-uid' });
    const result = plan(snapshot({ source: source(), objects: [selfClaiming] }));
    assert.deepEqual(result.ops, []);
    const gone = plan(snapshot({ source: undefined, objects: [selfClaiming] }));
    assert.deepEqual(gone.ops, []);
  });

  void it('never deletes an object that does not claim this source, even if listed as a mirror', () => {
    const stranger = meta('team-a', 'db');
    const snap = { ...snapshot({ source: undefined, objects: [stranger] }), mirrors: [stranger] };
    assert.deepEqual(plan(snap).ops, []);
  });
});

void describe('plan: pull', () => {
  const consentAll: PullConsent = { dialect: 'replicator', namespaces: { op: 'all' } };

  function pull(
    namespace: string,
    request: Partial<PullRequest> = {},
    overrides: Partial<ObjectMeta> = {},
  ): PullTarget {
    return {
      meta: meta(namespace, 'copy', { resourceVersion: '5', ...overrides }),
      request: {
        dialect: 'replicator',
        source: { namespace: 'platform', name: 'db' },
        keys: undefined,
        ...request,
      },
    };
  }

  void it('patches a consenting target and leaves its own keys alone', () => {
    const target = pull('team-a', {}, { annotations: { [owned.copiedKeys]: 'password,old' } });
    const result = plan(snapshot({ source: source({ consent: [consentAll] }), pullTargets: [target] }));
    const d = decision(result, 'team-a', 'copy', 'pull');
    assert.equal(d.code, 'update');
    const [op] = result.ops;
    assert.ok(op?.verb === 'patch');
    assert.deepEqual(op.target, { kind: 'Secret', namespace: 'team-a', name: 'copy' });
    assert.deepEqual(op.patch.data, { password: SECRET_VALUE, old: null });
    assert.equal(op.patch.metadata.resourceVersion, '5');
  });

  void it('is in sync once the patch is applied', () => {
    const target = pull('team-a');
    const src = source({ consent: [consentAll] });
    const { patch } = renderPullPatch({ source: src, target, now: NOW });
    const filled = { ...target, meta: { ...target.meta, annotations: patch.metadata.annotations } };
    const result = plan(snapshot({ source: src, pullTargets: [filled] }));
    assert.equal(decision(result, 'team-a', 'copy', 'pull').code, 'in-sync');
    assert.deepEqual(result.ops, []);
  });

  void it('requires consent from the same dialect as the request', () => {
    const reflectorConsent: PullConsent = { dialect: 'reflector', namespaces: { op: 'all' } };
    const noneConsent: PullConsent = { dialect: 'replicator', namespaces: { op: 'none' } };
    const other = plan(
      snapshot({ source: source({ consent: [reflectorConsent] }), pullTargets: [pull('team-a')] }),
    );
    assert.equal(decision(other, 'team-a', 'copy', 'pull').code, 'consent-missing');
    const refused = plan(
      snapshot({ source: source({ consent: [noneConsent] }), pullTargets: [pull('team-a')] }),
    );
    const d = decision(refused, 'team-a', 'copy', 'pull');
    assert.equal(d.code, 'consent-missing');
    assert.match(d.message, /no namespace is selected/);
    const byName = plan(
      snapshot({
        source: source({ consent: [{ dialect: 'replicator', namespaces: names('team-b') }] }),
        pullTargets: [pull('team-a'), pull('team-b')],
      }),
    );
    assert.equal(decision(byName, 'team-a', 'copy', 'pull').code, 'consent-missing');
    assert.equal(decision(byName, 'team-b', 'copy', 'pull').code, 'update');
    assert.deepEqual(
      byName.ops.map((op) => op.target.namespace),
      ['team-b'],
    );
  });

  void it('refuses disabled dialects, a missing source, the source itself and excluded namespaces', () => {
    const src = source({ consent: [consentAll] });
    const cases: [Snapshot, string, Decision['code']][] = [
      [
        snapshot({
          source: src,
          pullTargets: [pull('team-a')],
          guardrails: guardrails({ dialects: new Set(['native']) }),
        }),
        'team-a',
        'dialect-disabled',
      ],
      [snapshot({ source: undefined, pullTargets: [pull('team-a')] }), 'team-a', 'source-missing'],
      [
        snapshot({ source: src, namespaces: [ns('kube-system')], pullTargets: [pull('kube-system')] }),
        'kube-system',
        'excluded',
      ],
      [
        snapshot({
          source: src,
          pullTargets: [pull('team-a')],
          guardrails: guardrails({ isExcluded: (namespace) => namespace === 'platform' }),
        }),
        'team-a',
        'excluded',
      ],
    ];
    for (const [snap, namespace, code] of cases) {
      const result = plan(snap);
      assert.equal(decision(result, namespace, 'copy', 'pull').code, code, code);
      assert.deepEqual(result.ops, [], code);
    }
    const self: PullTarget = {
      meta: meta('platform', 'db', { uid: 'src-uid' }),
      request: pull('platform').request,
    };
    const selfResult = plan(snapshot({ source: src, pullTargets: [self] }));
    assert.equal(decision(selfResult, 'platform', 'db', 'pull').code, 'invalid-rule');
    assert.deepEqual(selfResult.ops, []);
  });

  void it('keeps the last data when the source is gone: no op at all', () => {
    const result = plan(snapshot({ source: undefined, pullTargets: [pull('team-a')] }));
    assert.deepEqual(result.ops, []);
    assert.match(decision(result, 'team-a', 'copy', 'pull').message, /keeps its last data/);
  });

  void it('skips targets being deleted or in dying namespaces, and says nothing for unknown namespaces', () => {
    const src = source({ consent: [consentAll] });
    const result = plan(
      snapshot({
        source: src,
        namespaces: [ns('team-a'), ns('dying', {}, true)],
        pullTargets: [pull('team-a', {}, { deleting: true }), pull('dying'), pull('unknown')],
      }),
    );
    assert.equal(decision(result, 'team-a', 'copy', 'pull').code, 'terminating');
    assert.equal(decision(result, 'dying', 'copy', 'pull').code, 'terminating');
    assert.equal(
      result.decisions.some((d) => d.namespace === 'unknown'),
      false,
    );
    assert.deepEqual(result.ops, []);
  });

  void it('leaves a push mirror of this source to the push side and never patches another source’s mirror', () => {
    const src = source({ consent: [consentAll, { dialect: 'reflector', namespaces: { op: 'all' } }] });
    const ours = staleMirror('team-a');
    const theirs = staleMirror('team-b', 'copy', { annotations: { [owned.source]: 'other/db' } });
    const result = plan(
      snapshot({
        source: src,
        objects: [ours, theirs],
        pullTargets: [
          { meta: ours, request: pull('team-a', { dialect: 'reflector' }).request },
          { meta: theirs, request: pull('team-b').request },
        ],
      }),
    );
    assert.equal(
      result.decisions.some((d) => d.mode === 'pull' && d.namespace === 'team-a'),
      false,
    );
    assert.equal(decision(result, 'team-b', 'copy', 'pull').code, 'conflict-other-source');
    assert.deepEqual(
      result.ops.map((op) => `${op.verb} ${op.target.namespace}/${op.target.name}`),
      ['delete team-a/db'],
    );
  });

  void it('refuses to fill a target from a Helm release Secret', () => {
    const result = plan(
      snapshot({
        source: source({ consent: [consentAll], type: 'helm.sh/release.v1' }),
        pullTargets: [pull('team-a')],
      }),
    );
    assert.equal(decision(result, 'team-a', 'copy', 'pull').code, 'invalid-rule');
    assert.deepEqual(result.ops, []);
  });
});

void describe('plan: output', () => {
  void it('reports the source’s problems and unsupported features', () => {
    const problem: RuleProblem = {
      dialect: 'reflector',
      annotation: reflector.allowedNamespaces,
      message: 'bad',
    };
    const unsupported: RuleProblem = {
      dialect: 'kubed',
      annotation: 'kubed.appscode.com/sync-contexts',
      message: 'no',
    };
    const result = plan(snapshot({ source: source({ problems: [problem], unsupported: [unsupported] }) }));
    assert.deepEqual(result.sourceProblems, [problem, unsupported]);
    assert.deepEqual(result.targetProblems, []);
    assert.deepEqual(plan(snapshot({ source: undefined })).sourceProblems, []);
  });

  void it('sorts decisions push first, then by namespace and name, whatever the input order', () => {
    const src = source({
      push: [everywhere],
      consent: [{ dialect: 'replicator', namespaces: { op: 'all' } }],
    });
    const target: PullTarget = {
      meta: meta('alpha', 'copy'),
      request: { dialect: 'replicator', source: { namespace: 'platform', name: 'db' }, keys: undefined },
    };
    const result = plan(
      snapshot({ source: src, namespaces: [ns('zeta'), ns('alpha'), ns('platform')], pullTargets: [target] }),
    );
    assert.deepEqual(
      result.decisions.map((d) => `${d.mode} ${d.namespace}`),
      ['push alpha', 'push platform', 'push zeta', 'pull alpha'],
    );
    assert.deepEqual(
      result.ops.map((op) => `${op.verb} ${op.target.namespace}`),
      ['create alpha', 'create zeta', 'patch alpha'],
    );
  });

  void it('never puts a data value into a decision message', () => {
    const src = source({
      push: [everywhere],
      consent: [{ dialect: 'replicator', namespaces: { op: 'all' } }],
    });
    const result = plan(
      snapshot({
        source: src,
        objects: [staleMirror('team-a'), meta('team-b', 'db')],
        pullTargets: [
          {
            meta: meta('team-a', 'copy'),
            request: {
              dialect: 'replicator',
              source: { namespace: 'platform', name: 'db' },
              keys: undefined,
            },
          },
        ],
      }),
    );
    assert.ok(result.ops.length > 0);
    for (const d of result.decisions) {
      assert.equal(d.message.includes(SECRET_VALUE), false, d.message);
      assert.match(d.message, /^[A-Z].*\.$/, 'a sentence');
    }
  });
});
