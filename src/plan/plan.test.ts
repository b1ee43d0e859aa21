import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kubed, mirrorClaim, owned, reflector, replicator } from '../rules/markers.ts';
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
import { BOUNDARY_DEFAULTS } from '../testing/guardrails.ts';
import { plan, pushRulesByName } from './plan.ts';
import { mergedAnnotations, renderMirror, renderPullPatch } from './render.ts';

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
    clusterName: '',
    adoptReplicatorReplicas: true,
    ...BOUNDARY_DEFAULTS,
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
  const rails = world.guardrails ?? guardrails();
  return {
    key: { kind: 'Secret', namespace: 'platform', name: 'db' },
    source: 'source' in world ? world.source : source(),
    namespaces: world.namespaces ?? [ns('platform'), ns('team-a'), ns('team-b')],
    lookup: (namespace, name) =>
      objects.find((object) => object.namespace === namespace && object.name === name),
    mirrors: objects.filter((object) => {
      const claim = mirrorClaim(object.kind, object.labels, object.annotations, {
        clusterName: rails.clusterName,
      });
      return claim?.sourceNamespace === 'platform' && claim.sourceName === 'db';
    }),
    pullTargets: world.pullTargets ?? [],
    guardrails: rails,
    now: NOW,
  };
}

/** A mirror of platform/db exactly as nsync would have written it for `rule` in `namespace`. */
function currentMirror(
  src: SourceState,
  rule: PushRule,
  namespace: string,
  overrides: Partial<ObjectMeta> = {},
  clusterName = '',
): ObjectMeta {
  const { body } = renderMirror({
    source: src,
    rule,
    namespace,
    existing: undefined,
    now: '2020-01-01T00:00:00Z',
    clusterName,
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
    assert.match(other.message, /platform\/db/, 'the message names both sources, for the Event');
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
  void it('lets the first dialect in precedence order that selects a namespace write its mirror there', () => {
    const src = source({
      push: [
        pushRule('kubed', { op: 'all' }),
        pushRule('reflector', names('team-a')),
        pushRule('native', names('team-b')),
      ],
    });
    const rules = pushRulesByName(snapshot({ source: src }));
    assert.deepEqual(
      rules.get('db')?.map((rule) => rule.dialect),
      ['native', 'reflector', 'kubed'],
    );
    const result = plan(
      snapshot({ source: src, namespaces: [ns('platform'), ns('team-a'), ns('team-b'), ns('team-c')] }),
    );
    const markers = (namespace: string): Record<string, string> => {
      const op = result.ops.find((candidate) => candidate.target.namespace === namespace);
      assert.ok(op?.verb === 'create', `a mirror in ${namespace}`);
      return op.body.metadata.annotations;
    };
    assert.equal(markers('team-b')[reflector.reflects], undefined, 'native in team-b');
    assert.equal(markers('team-a')[reflector.reflects], 'platform/db', 'reflector in team-a');
    assert.match(markers('team-c')[kubed.origin] ?? '', /"name":"db"/, 'kubed everywhere else');
    assert.equal(decision(result, 'platform').code, 'source-namespace');
  });

  void it('says why when no rule of a name selects a namespace', () => {
    const src = source({
      push: [pushRule('native', names('team-b')), pushRule('replicator', names('team-c'))],
    });
    const result = plan(snapshot({ source: src, namespaces: [ns('team-a'), ns('team-b'), ns('team-c')] }));
    assert.match(decision(result, 'team-a').message, /native push rule does not select/);
    assert.deepEqual(
      result.ops.map((op) => op.target.namespace),
      ['team-b', 'team-c'],
    );
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
      // Read already (Plan.readsFirst), holding nothing of its own.
      held: new Set(),
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
    const filled = {
      ...target,
      meta: { ...target.meta, annotations: mergedAnnotations({}, patch.metadata.annotations) },
    };
    const result = plan(snapshot({ source: src, pullTargets: [filled] }));
    assert.equal(decision(result, 'team-a', 'copy', 'pull').code, 'in-sync');
    assert.deepEqual(result.ops, []);
  });

  void it('reads a target before its first fill, then keeps the keys it holds of its own', () => {
    const src = source({ consent: [consentAll] });
    const { held: _read, ...unread } = pull('team-a');
    const first = plan(snapshot({ source: src, pullTargets: [unread] }));
    assert.deepEqual(first.ops, [], 'nothing is written before the read');
    assert.deepEqual(first.readsFirst, [{ kind: 'Secret', namespace: 'team-a', name: 'copy' }]);
    assert.match(decision(first, 'team-a', 'copy', 'pull').message, /read first/);
    const ownKey = Object.keys(src.content.data)[0] ?? '';
    const read = plan(snapshot({ source: src, pullTargets: [{ ...unread, held: new Set([ownKey]) }] }));
    assert.deepEqual(read.readsFirst, []);
    const [op] = read.ops;
    assert.ok(op?.verb === 'patch');
    assert.equal(ownKey in (op.patch.data ?? {}), false);
    const d = decision(read, 'team-a', 'copy', 'pull');
    assert.deepEqual(d.keptKeys, [ownKey]);
    assert.match(d.message, /keeps its own value for "password"/);
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
    const theirsDecision = decision(result, 'team-b', 'copy', 'pull');
    assert.equal(theirsDecision.code, 'conflict-other-source');
    assert.match(theirsDecision.message, /other\/db/);
    assert.match(theirsDecision.message, /platform\/db/);
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
      held: new Set(),
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

/** A push replica exactly as kubernetes-replicator writes it: three markers, no source named. */
function replica(namespace: string, name = 'db', overrides: Partial<ObjectMeta> = {}): ObjectMeta {
  return meta(namespace, name, {
    uid: `${namespace}-${name}-replica-uid`,
    resourceVersion: '3',
    annotations: {
      [replicator.replicatedAt]: '2020-01-01T00:00:00Z',
      [replicator.replicatedFromVersion]: '17',
      [replicator.replicatedKeys]: 'password',
    },
    ...overrides,
  });
}

/** The object a create or replace op leaves behind, as the API server would store it. */
function written(op: WriteOp | undefined): ObjectMeta {
  assert.ok(op !== undefined && (op.verb === 'create' || op.verb === 'replace'));
  return meta(op.target.namespace, op.target.name, {
    uid: op.verb === 'replace' ? op.uid : 'new-uid',
    resourceVersion: '100',
    labels: op.body.metadata.labels,
    annotations: op.body.metadata.annotations,
    ownerReferences: op.body.metadata.ownerReferences ?? [],
  });
}

void describe('plan: adoption of replicator replicas', () => {
  const toTeamA = pushRule('replicator', names('team-a'));

  void it('adopts a replica where the source’s replicator push rule reaches, and then owns it', () => {
    const src = source({ push: [toTeamA] });
    const found = replica('team-a', 'db', { labels: { team: 'x' } });
    const result = plan(snapshot({ source: src, objects: [found] }));
    const adopted = decision(result, 'team-a');
    assert.equal(adopted.code, 'update');
    assert.match(adopted.message, /[Aa]dopts/);
    assert.match(adopted.message, /kubernetes-replicator/);
    assert.deepEqual(
      result.ops.map((op) => `${op.verb} ${op.target.namespace}/${op.target.name}`),
      ['replace team-a/db'],
    );
    const [op] = result.ops;
    assert.ok(op?.verb === 'replace');
    assert.equal(op.uid, 'team-a-db-replica-uid', 'uid precondition');
    assert.equal(op.body.metadata.resourceVersion, '3');
    assert.equal(op.body.metadata.labels[owned.managedByLabel], owned.managedByValue);
    assert.equal(op.body.metadata.labels['team'], 'x');
    assert.equal(op.body.metadata.annotations[owned.source], 'platform/db');
    assert.equal(op.body.data?.['password'], SECRET_VALUE);
    // Once written it carries nsync's markers: an ordinary mirror of this source, in sync.
    const after = written(op);
    assert.deepEqual(mirrorClaim(after.kind, after.labels, after.annotations), {
      sourceNamespace: 'platform',
      sourceName: 'db',
      markedBy: 'native',
    });
    const again = plan(snapshot({ source: src, objects: [after] }));
    assert.equal(decision(again, 'team-a').code, 'in-sync');
    assert.deepEqual(again.ops, []);
  });

  void it('adopts even where a higher-precedence rule wins the target name, but only where the replicator rule reaches', () => {
    const src = source({ push: [pushRule('native', names('team-a', 'team-b')), toTeamA] });
    const result = plan(snapshot({ source: src, objects: [replica('team-a'), replica('team-b')] }));
    const adopted = decision(result, 'team-a');
    assert.equal(adopted.code, 'update');
    assert.match(adopted.message, /kubernetes-replicator.*native rule/);
    const left = decision(result, 'team-b');
    assert.equal(left.code, 'conflict-unowned');
    assert.match(left.message, /kubernetes-replicator replica/);
    assert.deepEqual(
      result.ops.map((op) => `${op.verb} ${op.target.namespace}`),
      ['replace team-a'],
    );
  });

  void it('does not adopt unless the operator enabled it: a replica names no source, so any same-named source could claim it', () => {
    const src = source({ push: [toTeamA] });
    const result = plan(
      snapshot({
        source: src,
        objects: [replica('team-a')],
        guardrails: guardrails({ adoptReplicatorReplicas: false }),
      }),
    );
    assert.equal(decision(result, 'team-a').code, 'conflict-unowned');
    assert.deepEqual(result.ops, []);
  });

  void it('does not adopt while the replicator dialect is disabled', () => {
    const src = source({ push: [pushRule('native', names('team-a')), toTeamA] });
    const result = plan(
      snapshot({
        source: src,
        objects: [replica('team-a')],
        guardrails: guardrails({ dialects: new Set<Dialect>(['native', 'reflector', 'kubed']) }),
      }),
    );
    assert.equal(decision(result, 'team-a').code, 'conflict-unowned');
    assert.deepEqual(result.ops, []);
  });

  void it('does not adopt an object of another name or another kind', () => {
    const src = source({ push: [pushRule('native', names('team-a'), {}, 'db-copy'), toTeamA] });
    const otherName = plan(snapshot({ source: src, objects: [replica('team-a', 'db-copy')] }));
    assert.equal(decision(otherName, 'team-a', 'db-copy').code, 'conflict-unowned');
    assert.deepEqual(opsOn(otherName, 'team-a', 'db-copy'), []);
    const configMap = replica('team-a', 'db', { kind: 'ConfigMap' });
    const otherKind = plan(snapshot({ source: src, objects: [configMap] }));
    assert.equal(decision(otherKind, 'team-a').code, 'conflict-unowned');
    assert.deepEqual(opsOn(otherKind, 'team-a'), []);
  });

  void it('never adopts the source itself, nor anything in the source’s namespace', () => {
    const src = source({ push: [pushRule('replicator', { op: 'all' })] });
    const selfUid = plan(snapshot({ source: src, objects: [replica('team-a', 'db', { uid: 'src-uid' })] }));
    assert.deepEqual(opsOn(selfUid, 'team-a'), []);
    // A cache that answers for team-a with an object of the source's namespace: still never adopted.
    const snap = snapshot({ source: src });
    const misplaced = plan({
      ...snap,
      lookup: (namespace, name) => (namespace === 'team-a' ? replica('platform', name) : undefined),
    });
    assert.equal(decision(misplaced, 'team-a').code, 'conflict-unowned');
    assert.deepEqual(opsOn(misplaced, 'team-a'), []);
  });

  void it('does not adopt an object carrying other dialect keys besides replicator’s replica markers', () => {
    const src = source({ push: [toTeamA] });
    for (const extra of [
      { [replicator.replicateFrom]: 'platform/db' },
      { [owned.copiedKeys]: 'password' },
      { [reflector.reflects]: 'platform/db' },
    ]) {
      const found = replica('team-a');
      const marked = { ...found, annotations: { ...found.annotations, ...extra } };
      const result = plan(snapshot({ source: src, objects: [marked] }));
      assert.equal(decision(result, 'team-a').code, 'conflict-unowned', Object.keys(extra).join());
      assert.deepEqual(result.ops, [], Object.keys(extra).join());
    }
  });

  void it('never deletes a replica, whatever the source does', () => {
    const replicas = [replica('team-a'), replica('team-b')];
    for (const src of [undefined, source({ push: [toTeamA] }), source({ push: [] })]) {
      const snap = snapshot({ source: src, objects: replicas });
      const result = plan({ ...snap, mirrors: replicas });
      assert.equal(
        result.ops.some((op) => op.verb === 'delete'),
        false,
        JSON.stringify(result.ops),
      );
      assert.deepEqual(opsOn(result, 'team-b'), []);
    }
  });

  void it('fills a replica that asks to be filled: it is no other source’s mirror', () => {
    const consent: PullConsent = { dialect: 'replicator', namespaces: { op: 'all' } };
    const target: PullTarget = {
      meta: replica('team-b', 'copy'),
      request: { dialect: 'replicator', source: { namespace: 'platform', name: 'db' }, keys: undefined },
    };
    const result = plan(snapshot({ source: source({ consent: [consent] }), pullTargets: [target] }));
    assert.equal(decision(result, 'team-b', 'copy', 'pull').code, 'update');
    assert.deepEqual(
      result.ops.map((op) => op.verb),
      ['patch'],
    );
  });

  void it('gives an adopted replica that also asks to be filled one write only, the adoption', () => {
    const consent: PullConsent = { dialect: 'replicator', namespaces: { op: 'all' } };
    const found = replica('team-a');
    const result = plan(
      snapshot({
        source: source({ push: [toTeamA], consent: [consent] }),
        objects: [found],
        pullTargets: [
          {
            meta: found,
            request: {
              dialect: 'replicator',
              source: { namespace: 'platform', name: 'db' },
              keys: undefined,
            },
          },
        ],
      }),
    );
    assert.deepEqual(
      result.ops.map((op) => `${op.verb} ${op.target.namespace}/${op.target.name}`),
      ['replace team-a/db'],
    );
    assert.equal(
      result.decisions.some((d) => d.mode === 'pull'),
      false,
    );
  });
});

void describe('plan: cluster name', () => {
  /** A kubed copy of platform/db labelled with a cluster, as config-syncer writes it. */
  function kubedCopy(namespace: string, cluster: string, sourceRef = 'platform/db'): ObjectMeta {
    const [sourceNamespace = '', sourceName = ''] = sourceRef.split('/');
    return meta(namespace, 'db', {
      uid: `${namespace}-kubed-uid`,
      labels: {
        [kubed.originName]: sourceName,
        [kubed.originNamespace]: sourceNamespace,
        [kubed.originCluster]: cluster,
      },
    });
  }

  void it('adopts a kubed copy only when it names this cluster', () => {
    const src = source({ push: [pushRule('kubed', names('team-a'))] });
    const copy = kubedCopy('team-a', 'east');
    const here = plan(
      snapshot({ source: src, objects: [copy], guardrails: guardrails({ clusterName: 'east' }) }),
    );
    assert.equal(decision(here, 'team-a').code, 'update');
    assert.deepEqual(
      here.ops.map((op) => op.verb),
      ['replace'],
    );
    for (const clusterName of ['', 'west']) {
      const elsewhere = plan(
        snapshot({ source: src, objects: [copy], guardrails: guardrails({ clusterName }) }),
      );
      assert.equal(decision(elsewhere, 'team-a').code, 'conflict-unowned', clusterName);
      assert.deepEqual(elsewhere.ops, [], clusterName);
    }
  });

  void it('deletes an orphaned kubed copy only when it names this cluster', () => {
    const copy = kubedCopy('team-a', 'east');
    const run = (clusterName: string): Plan => {
      const snap = snapshot({ source: undefined, objects: [copy], guardrails: guardrails({ clusterName }) });
      return plan({ ...snap, mirrors: [copy] });
    };
    assert.deepEqual(
      run('east').ops.map((op) => `${op.verb} ${op.target.namespace}`),
      ['delete team-a'],
    );
    assert.deepEqual(run('west').ops, []);
  });

  void it('judges a pull target by the cluster its kubed labels name', () => {
    const consent: PullConsent = { dialect: 'replicator', namespaces: { op: 'all' } };
    const target: PullTarget = {
      meta: { ...kubedCopy('team-b', 'west', 'other/db'), name: 'copy' },
      request: { dialect: 'replicator', source: { namespace: 'platform', name: 'db' }, keys: undefined },
    };
    const run = (clusterName: string): Plan =>
      plan(
        snapshot({
          source: source({ consent: [consent] }),
          pullTargets: [target],
          guardrails: guardrails({ clusterName }),
        }),
      );
    // A copy from another cluster claims nothing here: it is an ordinary pull target.
    assert.equal(decision(run('east'), 'team-b', 'copy', 'pull').code, 'update');
    const ours = decision(run('west'), 'team-b', 'copy', 'pull');
    assert.equal(ours.code, 'conflict-other-source');
    assert.match(ours.message, /other\/db/);
    assert.match(ours.message, /platform\/db/);
    assert.deepEqual(run('west').ops, []);
  });

  void it('labels kubed mirrors with the cluster name, when there is one', () => {
    const rule = pushRule('kubed', names('team-a'));
    const src = source({ push: [rule] });
    const created = (clusterName: string) =>
      written(plan(snapshot({ source: src, guardrails: guardrails({ clusterName }) })).ops[0]);
    assert.equal(created('east').labels[kubed.originCluster], 'east');
    assert.equal(kubed.originCluster in created('').labels, false);
    const native = plan(
      snapshot({
        source: source({ push: [pushRule('native', names('team-a'))] }),
        guardrails: guardrails({ clusterName: 'east' }),
      }),
    );
    assert.equal(kubed.originCluster in written(native.ops[0]).labels, false);
    // A mirror written before the cluster had a name gets the label on the next plan.
    const unnamed = currentMirror(src, rule, 'team-a');
    const named = plan(
      snapshot({ source: src, objects: [unnamed], guardrails: guardrails({ clusterName: 'east' }) }),
    );
    assert.match(decision(named, 'team-a').message, /origin\.cluster/);
    assert.equal(written(named.ops[0]).labels[kubed.originCluster], 'east');
  });
});

void describe('plan: two sources that want one target', () => {
  /** platform/db and tools/db, both pushing `db` into team-a, in two dialects. */
  const first = source({ push: [pushRule('reflector', names('team-a'))] });
  const secondMeta = meta('tools', 'db', { uid: 'tools-uid', resourceVersion: '8' });
  const second: SourceState = {
    ...source({ push: [pushRule('kubed', names('team-a'))] }),
    meta: secondMeta,
  };

  function snapshotOf(src: SourceState, objects: readonly ObjectMeta[]): Snapshot {
    const key = { kind: src.meta.kind, namespace: src.meta.namespace, name: src.meta.name };
    return {
      ...snapshot({ source: src, objects }),
      key,
      mirrors: objects.filter((object) => {
        const claim = mirrorClaim(object.kind, object.labels, object.annotations);
        return claim?.sourceNamespace === key.namespace && claim.sourceName === key.name;
      }),
    };
  }

  void it('lets the first writer keep it, tells the other naming both, and never writes again', () => {
    for (const [winner, loser] of [
      [first, second],
      [second, first],
    ] as const) {
      const created = plan(snapshotOf(winner, []));
      const objects = [written(opsOn(created, 'team-a')[0])];
      for (let round = 0; round < 3; round += 1) {
        const lost = plan(snapshotOf(loser, objects));
        const told = decision(lost, 'team-a');
        assert.equal(told.code, 'conflict-other-source');
        assert.ok(told.message.includes(`${winner.meta.namespace}/db`), told.message);
        assert.ok(told.message.includes(`${loser.meta.namespace}/db`), told.message);
        assert.deepEqual(lost.ops, []);
        const kept = plan(snapshotOf(winner, objects));
        assert.equal(decision(kept, 'team-a').code, 'in-sync');
        assert.deepEqual(kept.ops, []);
      }
    }
  });
});

void describe('plan: the target namespace decides (refusal, contests, reserved names, consent, budget)', () => {
  const src = source({ push: [everywhere] });
  const restoresOf = (op: WriteOp | undefined): string | undefined =>
    op?.verb === 'replace' ? op.body.metadata.annotations[owned.restores] : undefined;
  /** A mirror someone else changed at `at`, carrying a restore count. */
  const changed = (namespace: string, at: string, restores?: string): ObjectMeta =>
    currentMirror(src, everywhere, namespace, {
      contentForeign: true,
      foreignWrite: { managers: ['argocd-controller'], at },
      ...(restores === undefined
        ? {}
        : {
            annotations: {
              ...currentMirror(src, everywhere, namespace).annotations,
              [owned.restores]: restores,
            },
          }),
    });

  void it('never writes or deletes a mirror that carries nsync.dev/refuse, in any dialect', () => {
    for (const dialect of ['native', 'reflector', 'replicator', 'kubed'] as const) {
      const rule = pushRule(dialect, { op: 'all' });
      const refused = currentMirror(src, rule, 'team-a', {
        contentForeign: true,
        annotations: { ...currentMirror(src, rule, 'team-a').annotations, [owned.refuse]: 'true' },
      });
      const wanted = plan(snapshot({ source: source({ push: [rule] }), objects: [refused] }));
      assert.equal(decision(wanted, 'team-a').code, 'refused', dialect);
      assert.deepEqual(opsOn(wanted, 'team-a'), []);
      const gone = plan(snapshot({ source: undefined, objects: [refused] }));
      assert.equal(decision(gone, 'team-a').code, 'refused', dialect);
      assert.deepEqual(gone.ops, []);
    }
  });

  void it('reads any value but "false" as a refusal, and "false" as none', () => {
    const stale = (value: string): ObjectMeta =>
      staleMirror('team-a', 'db', {
        annotations: {
          [owned.source]: 'platform/db',
          [owned.contentHash]: 'sha256:old',
          [owned.refuse]: value,
        },
      });
    assert.equal(
      decision(plan(snapshot({ source: src, objects: [stale('yes')] })), 'team-a').code,
      'refused',
    );
    assert.equal(
      decision(plan(snapshot({ source: src, objects: [stale(' False ')] })), 'team-a').code,
      'update',
    );
  });

  void it('does not fill a pull target that refuses', () => {
    const target = meta('team-a', 'copy', { annotations: { [owned.refuse]: 'true' } });
    const result = plan(
      snapshot({
        source: source({ consent: [{ dialect: 'native', namespaces: { op: 'all' } }] }),
        objects: [target],
        pullTargets: [
          {
            meta: target,
            request: { dialect: 'native', source: { namespace: 'platform', name: 'db' }, keys: undefined },
          },
        ],
      }),
    );
    assert.equal(decision(result, 'team-a', 'copy', 'pull').code, 'refused');
    assert.deepEqual(result.ops, []);
  });

  void it('restores a mirror someone else changed, counting the restore on the mirror', () => {
    const first = plan(snapshot({ source: src, objects: [changed('team-a', '2026-01-02T03:00:00Z')] }));
    assert.equal(decision(first, 'team-a').code, 'update');
    assert.match(decision(first, 'team-a').message, /argocd-controller/);
    assert.equal(restoresOf(opsOn(first, 'team-a')[0]), `1 since ${NOW}`);
    const second = plan(
      snapshot({
        source: src,
        objects: [changed('team-a', '2026-01-02T03:04:00Z', '1 since 2026-01-02T03:00:00Z')],
      }),
    );
    assert.equal(restoresOf(opsOn(second, 'team-a')[0]), '2 since 2026-01-02T03:00:00Z');
  });

  void it('stops after the limit within the window, and stays stopped whatever the clock says', () => {
    const fought = changed('team-a', '2026-01-02T03:04:00Z', '3 since 2026-01-02T03:00:00Z');
    for (const now of [NOW, '2026-01-09T00:00:00Z']) {
      const result = plan({ ...snapshot({ source: src, objects: [fought] }), now });
      assert.equal(decision(result, 'team-a').code, 'contested');
      assert.match(decision(result, 'team-a').message, /argocd-controller/);
      assert.deepEqual(opsOn(result, 'team-a'), []);
    }
  });

  void it('repairs a change made after the window in which the limit was reached, and counts anew', () => {
    const later = changed('team-a', '2026-01-02T04:00:00Z', '3 since 2026-01-02T03:00:00Z');
    const result = plan({ ...snapshot({ source: src, objects: [later] }), now: '2026-01-02T04:00:01Z' });
    assert.equal(decision(result, 'team-a').code, 'update');
    assert.equal(restoresOf(opsOn(result, 'team-a')[0]), '1 since 2026-01-02T04:00:01Z');
  });

  void it('follows a source change without counting a restore, contested or not', () => {
    const mirror = staleMirror('team-a', 'db', { foreignWrite: { managers: ['kubectl-label'], at: NOW } });
    const result = plan(snapshot({ source: src, objects: [mirror] }));
    assert.equal(decision(result, 'team-a').code, 'update');
    assert.equal(restoresOf(opsOn(result, 'team-a')[0]), undefined);
  });

  void it('does not carry a source change into a contested mirror either', () => {
    const fought = staleMirror('team-a', 'db', {
      contentForeign: true,
      foreignWrite: { managers: ['flux'], at: '2026-01-02T03:04:00Z' },
      annotations: {
        [owned.source]: 'platform/db',
        [owned.contentHash]: 'sha256:old',
        [owned.restores]: '3 since 2026-01-02T03:00:00Z',
      },
    });
    const result = plan(snapshot({ source: src, objects: [fought] }));
    assert.equal(decision(result, 'team-a').code, 'contested');
    assert.deepEqual(opsOn(result, 'team-a'), []);
  });

  void it('leaves a contested mirror in place when it is no longer wanted', () => {
    const fought = changed('team-a', '2026-01-02T03:04:00Z', '3 since 2026-01-02T03:00:00Z');
    const result = plan(snapshot({ source: undefined, objects: [fought] }));
    assert.equal(decision(result, 'team-a').code, 'contested');
    assert.deepEqual(result.ops, []);
  });

  void it('never targets a reserved name, in any mode, and deletes its own old mirror there', () => {
    const rule = pushRule('native', { op: 'all' }, {}, 'kube-root-ca.crt');
    const configMaps = (snap: Snapshot): Snapshot => ({ ...snap, key: { ...snap.key, kind: 'ConfigMap' } });
    const result = plan(configMaps(snapshot({ source: source({ push: [rule] }) })));
    assert.equal(decision(result, 'team-a', 'kube-root-ca.crt').code, 'reserved');
    assert.match(decision(result, 'team-a', 'kube-root-ca.crt').message, /root-ca-cert-publisher/);
    assert.deepEqual(result.ops, []);
    const secretRule = pushRule('native', { op: 'all' }, {}, 'bootstrap-token-abcdef');
    const old = currentMirror(src, secretRule, 'team-a');
    const cleanup = plan(snapshot({ source: source({ push: [secretRule] }), objects: [old] }));
    assert.equal(decision(cleanup, 'team-a', 'bootstrap-token-abcdef').code, 'delete-orphan');
    assert.equal(opsOn(cleanup, 'team-a', 'bootstrap-token-abcdef')[0]?.verb, 'delete');
  });

  void it("never targets a protected namespace (nsync's own)", () => {
    const rails = guardrails({ isProtected: (namespace) => namespace === 'team-b' });
    const result = plan(snapshot({ source: src, guardrails: rails }));
    assert.equal(decision(result, 'team-b').code, 'reserved');
    assert.equal(decision(result, 'team-a').code, 'create');
  });

  void it('pushes only into namespaces that accept the source namespace under target consent', () => {
    const rails = guardrails({ targetConsent: true });
    const namespaces = [
      ns('platform'),
      { ...ns('team-a'), acceptFrom: 'plat*' },
      { ...ns('team-b'), acceptFrom: '*, !platform' },
      ns('team-c'),
      { ...ns('team-d'), acceptFrom: 'Bad_Glob' },
    ];
    for (const dialect of ['native', 'reflector', 'replicator', 'kubed'] as const) {
      const result = plan(
        snapshot({
          source: source({ push: [pushRule(dialect, { op: 'all' })] }),
          namespaces,
          guardrails: rails,
        }),
      );
      assert.equal(decision(result, 'team-a').code, 'create', dialect);
      for (const refused of ['team-b', 'team-c', 'team-d']) {
        assert.equal(decision(result, refused).code, 'target-consent-missing', `${dialect} ${refused}`);
      }
      assert.match(decision(result, 'team-d').message, /invalid/);
    }
    const withdrawn = plan(
      snapshot({
        source: src,
        namespaces,
        guardrails: rails,
        objects: [currentMirror(src, everywhere, 'team-c')],
      }),
    );
    assert.equal(decision(withdrawn, 'team-c').code, 'delete-orphan');
  });

  void it('creates nothing over the fan-out budget, keeps existing mirrors, and says why', () => {
    const existing = currentMirror(src, everywhere, 'team-a');
    const tight = guardrails({ budget: { maxTargets: 1, maxBytes: 1024 * 1024 } });
    const result = plan(snapshot({ source: src, objects: [existing], guardrails: tight }));
    assert.equal(decision(result, 'team-a').code, 'in-sync');
    assert.equal(decision(result, 'team-b').code, 'over-budget');
    assert.deepEqual(result.ops, []);
    assert.match(result.overBudget ?? '', /2 mirrors exceed the limit of 1/);
    const bytes = guardrails({ budget: { maxTargets: 100, maxBytes: 10 } });
    const stale = staleMirror('team-a');
    const held = plan(snapshot({ source: src, objects: [stale], guardrails: bytes }));
    assert.equal(decision(held, 'team-a').code, 'over-budget');
    assert.deepEqual(held.ops, []);
    const fits = plan(snapshot({ source: src, objects: [stale] }));
    assert.equal(fits.overBudget, undefined);
    assert.equal(fits.ops.length, 2);
  });

  void it('never copies keys that make other controllers act, and names them', () => {
    const labelled: SourceState = {
      ...source({ push: [pushRule('kubed', { op: 'all' }, { labels: true, annotations: true })] }),
      meta: meta('platform', 'db', {
        uid: 'src-uid',
        labels: { 'argocd.argoproj.io/secret-type': 'cluster', team: 'db', 'app.kubernetes.io/name': 'db' },
        annotations: {
          'meta.helm.sh/release-name': 'x',
          'kubernetes.io/service-account.name': 'default',
          note: 'n',
        },
      }),
    };
    const result = plan(snapshot({ source: labelled }));
    const [op] = opsOn(result, 'team-a');
    assert.ok(op?.verb === 'create');
    assert.equal(op.body.metadata.labels['team'], 'db');
    assert.equal(op.body.metadata.labels['app.kubernetes.io/name'], 'db');
    assert.equal(op.body.metadata.labels['argocd.argoproj.io/secret-type'], undefined);
    assert.equal(op.body.metadata.annotations['meta.helm.sh/release-name'], undefined);
    assert.equal(op.body.metadata.annotations['kubernetes.io/service-account.name'], undefined);
    assert.equal(op.body.metadata.annotations['note'], 'n');
    assert.deepEqual(result.droppedKeys, [
      'label argocd.argoproj.io/secret-type',
      'annotation kubernetes.io/service-account.name',
      'annotation meta.helm.sh/release-name',
    ]);
    const quiet = plan(snapshot({ source: { ...labelled, spec: source({ push: [everywhere] }).spec } }));
    assert.deepEqual(quiet.droppedKeys, []);
  });
});

void describe('plan: a remote cluster (docs/adr/0018)', () => {
  const home = guardrails({ clusterName: 'home' });
  /** A remote snapshot: the namespaces, lookup and mirrors are the target cluster's. */
  function remote(objects: readonly ObjectMeta[], src: SourceState | undefined): Snapshot {
    return {
      ...snapshot({ source: src, objects, guardrails: home, namespaces: [ns('platform'), ns('team-a')] }),
      mirrors: objects.filter((object) => {
        const claim = mirrorClaim(object.kind, object.labels, object.annotations, {
          clusterName: 'home',
          remote: true,
        });
        return claim?.sourceNamespace === 'platform' && claim.sourceName === 'db';
      }),
      remote: true,
    };
  }
  const kubedRule = pushRule('kubed', names('platform'), { labels: true, annotations: true });

  void it("writes into the source's own namespace there, and names the source cluster", () => {
    const result = plan(remote([], source({ push: [kubedRule] })));
    assert.equal(decision(result, 'platform').code, 'create');
    const op = result.ops[0];
    assert.ok(op?.verb === 'create');
    assert.equal(op.body.metadata.annotations[owned.sourceCluster], 'home');
    assert.equal(op.body.metadata.labels[kubed.originCluster], 'home');
    assert.equal(op.body.metadata.labels[owned.managedByLabel], owned.managedByValue);
    const local = plan(snapshot({ source: source({ push: [kubedRule] }), guardrails: home }));
    assert.equal(decision(local, 'platform').code, 'source-namespace', 'never locally');
  });

  void it('leaves an object without the source cluster marker alone, and deletes only its own orphans', () => {
    const unmarked = meta('platform', 'db', {
      labels: { [owned.managedByLabel]: owned.managedByValue },
      annotations: { [owned.source]: 'platform/db' },
    });
    const fromElsewhere = meta('platform', 'db', {
      labels: { [owned.managedByLabel]: owned.managedByValue },
      annotations: { [owned.source]: 'platform/db', [owned.sourceCluster]: 'west' },
    });
    for (const object of [unmarked, fromElsewhere]) {
      const result = plan(remote([object], source({ push: [kubedRule] })));
      assert.equal(decision(result, 'platform').code, 'conflict-unowned');
      assert.deepEqual(result.ops, []);
      assert.deepEqual(plan(remote([object], undefined)).ops, [], 'never deleted');
    }
    const ours = meta('platform', 'db', {
      labels: { [owned.managedByLabel]: owned.managedByValue, [kubed.originCluster]: 'home' },
      annotations: { [owned.source]: 'platform/db', [owned.sourceCluster]: 'home' },
    });
    assert.deepEqual(
      plan(remote([ours], undefined)).ops.map((op) => `${op.verb} ${op.target.namespace}`),
      ['delete platform'],
    );
    assert.deepEqual(
      plan(remote([ours], source())).ops.map((op) => `${op.verb} ${op.target.namespace}`),
      ['delete platform'],
      'a context dropped from sync-contexts',
    );
  });

  void it('adopts a kubed copy that names this cluster, not one without a cluster', () => {
    const copy = (cluster: string | undefined): ObjectMeta =>
      meta('platform', 'db', {
        labels: {
          [kubed.originName]: 'db',
          [kubed.originNamespace]: 'platform',
          ...(cluster === undefined ? {} : { [kubed.originCluster]: cluster }),
        },
      });
    assert.equal(
      decision(plan(remote([copy('home')], source({ push: [kubedRule] }))), 'platform').code,
      'update',
    );
    assert.equal(
      decision(plan(remote([copy(undefined)], source({ push: [kubedRule] }))), 'platform').code,
      'conflict-unowned',
    );
  });
});
