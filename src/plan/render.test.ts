import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kubed, owned, reflector, replicator } from '../rules/markers.ts';
import type { CopyOptions, Dialect, Kind, PushRule, PullRequest } from '../rules/model.ts';
import { contentHash } from './hash.ts';
import type { ObjectMeta, OwnerReference, PullTarget, SourceContent, SourceState } from './model.ts';
import {
  defersToManagedFields,
  formatKeyList,
  isValidLabelValue,
  KEY_LIST_BUDGET,
  mergedAnnotations,
  previouslyCopiedKeys,
  mirrorStaleness,
  parseKeyList,
  pullStaleness,
  renderMirror,
  renderPullPatch,
  selectContent,
  type RenderedMirror,
} from './render.ts';

const NOW = '2026-01-02T03:04:05Z';
const OWNER: OwnerReference = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  name: 'owner',
  uid: 'owner-uid',
  controller: true,
};

function meta(overrides: Partial<ObjectMeta> = {}): ObjectMeta {
  return {
    kind: 'Secret',
    namespace: 'platform',
    name: 'db',
    uid: 'src-uid',
    resourceVersion: '42',
    labels: {},
    annotations: {},
    ownerReferences: [],
    contentForeign: false,
    deleting: false,
    ...overrides,
  };
}

function source(
  kind: Kind = 'Secret',
  overrides: Partial<ObjectMeta> = {},
  content?: SourceContent,
): SourceState {
  const secret: SourceContent = {
    type: 'Opaque',
    data: { user: 'dQ==', pass: 'cA==', host: 'aA==' },
    binaryData: {},
  };
  const configMap: SourceContent = { type: undefined, data: { a: '1', b: '2' }, binaryData: { bin: 'AA==' } };
  return {
    meta: meta({ kind, ...overrides }),
    content: content ?? (kind === 'Secret' ? secret : configMap),
    spec: { push: [], consent: [], unsupported: [], problems: [] },
  };
}

function rule(dialect: Dialect = 'native', copy: Partial<CopyOptions> = {}): PushRule {
  return {
    dialect,
    targets: { op: 'all' },
    targetName: 'db',
    copy: { labels: false, annotations: false, ownerReferences: false, keys: undefined, ...copy },
  };
}

function existing(overrides: Partial<ObjectMeta> = {}): ObjectMeta {
  return meta({ namespace: 'team-a', uid: 'mirror-uid', resourceVersion: '7', ...overrides });
}

/** An existing object that looks exactly like what a rendered mirror wrote. */
function written(rendered: RenderedMirror, overrides: Partial<ObjectMeta> = {}): ObjectMeta {
  return existing({
    labels: rendered.body.metadata.labels,
    annotations: rendered.body.metadata.annotations,
    ownerReferences: rendered.body.metadata.ownerReferences ?? [],
    ...overrides,
  });
}

function pullTarget(request: Partial<PullRequest> = {}, overrides: Partial<ObjectMeta> = {}): PullTarget {
  return {
    meta: existing({ name: 'copy', ...overrides }),
    request: {
      dialect: 'native',
      source: { namespace: 'platform', name: 'db' },
      keys: undefined,
      ...request,
    },
  };
}

void describe('selectContent', () => {
  void it('keeps only the listed keys, from data and binaryData, and never inherited members', () => {
    const content = { type: 'x', data: { a: '1', b: '2' }, binaryData: { c: '3' } };
    assert.deepEqual(selectContent(content, ['a', 'c', 'toString', 'missing']), {
      type: 'x',
      data: { a: '1' },
      binaryData: { c: '3' },
    });
    assert.deepEqual(selectContent(content, undefined), content);
  });
});

void describe('parseKeyList', () => {
  void it('trims entries and drops empty ones', () => {
    assert.deepEqual(parseKeyList(' a, ,b,,c '), ['a', 'b', 'c']);
    assert.deepEqual(parseKeyList(undefined), []);
    assert.deepEqual(parseKeyList(''), []);
  });
});

void describe('renderMirror', () => {
  void it('creates a Secret mirror with type, selected data, ownership markers and no resourceVersion', () => {
    const src = source();
    const { body, hash } = renderMirror({
      source: src,
      rule: rule('native', { keys: ['user', 'pass'] }),
      namespace: 'team-a',
      existing: undefined,
      now: NOW,
      clusterName: '',
    });
    assert.deepEqual(body, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'db',
        namespace: 'team-a',
        labels: { [owned.managedByLabel]: owned.managedByValue },
        annotations: {
          [owned.source]: 'platform/db',
          [owned.sourceUid]: 'src-uid',
          [owned.contentHash]: hash,
        },
      },
      type: 'Opaque',
      data: { user: 'dQ==', pass: 'cA==' },
    });
    assert.equal(
      hash,
      contentHash('Secret', { type: 'Opaque', data: { user: 'dQ==', pass: 'cA==' }, binaryData: {} }),
    );
  });

  void it("in another cluster a native mirror carries kubed's origin labels (the remote watch selects them) and the source cluster", () => {
    const input = {
      source: source(),
      rule: rule('native'),
      namespace: 'platform',
      existing: undefined,
      now: NOW,
    };
    const remote = renderMirror({ ...input, clusterName: 'home', remote: true }).body.metadata;
    assert.equal(remote.labels[kubed.originCluster], 'home');
    assert.equal(remote.labels[kubed.originNamespace], 'platform');
    assert.equal(remote.labels[kubed.originName], 'db');
    assert.equal(remote.annotations[owned.sourceCluster], 'home');
    const local = renderMirror({ ...input, clusterName: 'home' }).body.metadata;
    assert.equal(local.labels[kubed.originCluster], undefined);
    assert.equal(local.annotations[owned.sourceCluster], undefined);
  });

  void it('writes a ConfigMap with data and binaryData and no type', () => {
    const { body } = renderMirror({
      source: source('ConfigMap'),
      rule: rule(),
      namespace: 'team-a',
      existing: undefined,
      now: NOW,
      clusterName: '',
    });
    assert.equal(body.kind, 'ConfigMap');
    assert.equal('type' in body, false);
    assert.deepEqual(body.data, { a: '1', b: '2' });
    assert.deepEqual(body.binaryData, { bin: 'AA==' });
  });

  void it("gives every namespace the same frozen content maps, so a fan-out's writes share their encoding", () => {
    const src = source('ConfigMap');
    const render = (namespace: string): ReturnType<typeof renderMirror>['body'] =>
      renderMirror({ source: src, rule: rule(), namespace, existing: undefined, now: NOW, clusterName: '' })
        .body;
    const [a, b] = [render('team-a'), render('team-b')];
    assert.equal(a.data, b.data);
    assert.equal(a.binaryData, b.binaryData);
    assert.ok(Object.isFrozen(a.data) && Object.isFrozen(a.binaryData));
  });

  void it('uses the rule target name, not the source name', () => {
    const { body } = renderMirror({
      source: source(),
      rule: { ...rule(), targetName: 'db-copy' },
      namespace: 'team-a',
      existing: undefined,
      now: NOW,
      clusterName: '',
    });
    assert.equal(body.metadata.name, 'db-copy');
  });

  void it('on update keeps the mirror’s own labels and annotations, overwrites markers and sends the resourceVersion', () => {
    const old = existing({
      labels: { team: 'a', [owned.managedByLabel]: 'someone' },
      annotations: { note: 'keep me', [owned.contentHash]: 'sha256:old', [owned.source]: 'platform/db' },
    });
    const { body, hash } = renderMirror({
      source: source(),
      rule: rule(),
      namespace: 'team-a',
      existing: old,
      now: NOW,
      clusterName: '',
    });
    assert.equal(body.metadata.resourceVersion, '7');
    assert.deepEqual(body.metadata.labels, { team: 'a', [owned.managedByLabel]: owned.managedByValue });
    assert.deepEqual(body.metadata.annotations, {
      note: 'keep me',
      [owned.contentHash]: hash,
      [owned.source]: 'platform/db',
      [owned.sourceUid]: 'src-uid',
    });
  });

  void it('copies source labels and annotations only when asked, and never tracking or dialect keys', () => {
    const src = source('Secret', {
      labels: { app: 'db', 'app.kubernetes.io/instance': 'argo-app', [owned.managedByLabel]: 'helm' },
      annotations: {
        note: 'hello',
        'argocd.argoproj.io/tracking-id': 'x',
        'kubectl.kubernetes.io/last-applied-configuration': '{}',
        [reflector.allowed]: 'true',
      },
    });
    const copied = renderMirror({
      source: src,
      rule: rule('native', { labels: true, annotations: true }),
      namespace: 'team-a',
      existing: undefined,
      now: NOW,
      clusterName: '',
    }).body.metadata;
    assert.deepEqual(copied.labels, { app: 'db', [owned.managedByLabel]: owned.managedByValue });
    assert.equal(copied.annotations['note'], 'hello');
    for (const key of [
      'argocd.argoproj.io/tracking-id',
      'kubectl.kubernetes.io/last-applied-configuration',
      reflector.allowed,
    ]) {
      assert.equal(key in copied.annotations, false, key);
    }
    const plain = renderMirror({
      source: src,
      rule: rule(),
      namespace: 'team-a',
      existing: undefined,
      now: NOW,
      clusterName: '',
    }).body.metadata;
    assert.deepEqual(plain.labels, { [owned.managedByLabel]: owned.managedByValue });
    assert.equal('note' in plain.annotations, false);
  });

  void it('writes reflector markers', () => {
    const { annotations } = renderMirror({
      source: source(),
      rule: rule('reflector'),
      namespace: 'team-a',
      existing: undefined,
      now: NOW,
      clusterName: '',
    }).body.metadata;
    assert.equal(annotations[reflector.reflects], 'platform/db');
    assert.equal(annotations[reflector.autoReflects], 'True');
    assert.equal(annotations[reflector.reflectedVersion], '42');
    assert.equal(annotations[reflector.reflectedAt], NOW);
  });

  void it('writes replicator markers with the sorted list of copied keys', () => {
    const { annotations } = renderMirror({
      source: source(),
      rule: rule('replicator', { keys: ['user', 'host', 'absent'] }),
      namespace: 'team-a',
      existing: undefined,
      now: NOW,
      clusterName: '',
    }).body.metadata;
    assert.equal(annotations[replicator.replicatedAt], NOW);
    assert.equal(annotations[replicator.replicatedFromVersion], '42');
    assert.equal(annotations[replicator.replicatedKeys], 'host,user');
  });

  void it('writes kubed origin labels and the origin annotation as an object reference', () => {
    const { labels, annotations } = renderMirror({
      source: source(),
      rule: rule('kubed'),
      namespace: 'team-a',
      existing: undefined,
      now: NOW,
      clusterName: '',
    }).body.metadata;
    assert.equal(labels[kubed.originName], 'db');
    assert.equal(labels[kubed.originNamespace], 'platform');
    assert.deepEqual(JSON.parse(annotations[kubed.origin] ?? ''), {
      apiVersion: 'v1',
      kind: 'Secret',
      name: 'db',
      namespace: 'platform',
      uid: 'src-uid',
      resourceVersion: '42',
    });
  });

  void it('writes kubed’s origin.cluster label with the cluster name, only when there is one', () => {
    const render = (dialect: Dialect, clusterName: string) =>
      renderMirror({
        source: source(),
        rule: rule(dialect),
        namespace: 'team-a',
        existing: undefined,
        now: NOW,
        clusterName,
      }).body.metadata.labels;
    assert.equal(render('kubed', 'east')[kubed.originCluster], 'east');
    assert.equal(kubed.originCluster in render('kubed', ''), false);
    for (const dialect of ['native', 'reflector', 'replicator'] as const) {
      assert.equal(kubed.originCluster in render(dialect, 'east'), false, dialect);
    }
    assert.equal(kubed.originCluster in render('kubed', 'not a label value!'), false);
  });

  void it('leaves out a kubed origin label whose value could not be a label value', () => {
    const long = 'a'.repeat(64);
    assert.equal(isValidLabelValue('a'.repeat(63)), true);
    assert.equal(isValidLabelValue(long), false);
    const { labels } = renderMirror({
      source: source('Secret', { name: long }),
      rule: rule('kubed'),
      namespace: 'team-a',
      existing: undefined,
      now: NOW,
      clusterName: '',
    }).body.metadata;
    assert.equal(kubed.originName in labels, false);
    assert.equal(labels[kubed.originNamespace], 'platform');
  });

  void it('writes no dialect markers for native rules', () => {
    const { labels, annotations } = renderMirror({
      source: source(),
      rule: rule('native'),
      namespace: 'team-a',
      existing: undefined,
      now: NOW,
      clusterName: '',
    }).body.metadata;
    assert.deepEqual(Object.keys(labels), [owned.managedByLabel]);
    assert.deepEqual(
      Object.keys(annotations).sort(),
      [owned.contentHash, owned.source, owned.sourceUid].sort(),
    );
  });

  void it('copies ownerReferences only when asked; otherwise keeps the mirror’s own on replace', () => {
    const src = source('Secret', { ownerReferences: [OWNER] });
    const render = (copy: boolean, old: ObjectMeta | undefined) =>
      renderMirror({
        source: src,
        rule: rule('replicator', { ownerReferences: copy }),
        namespace: 'team-a',
        existing: old,
        now: NOW,
        clusterName: '',
      }).body.metadata.ownerReferences;
    assert.deepEqual(render(true, undefined), [OWNER]);
    assert.equal(render(false, undefined), undefined);
    const mine: OwnerReference = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', uid: 'x-uid' };
    assert.deepEqual(render(false, existing({ ownerReferences: [mine] })), [mine]);
    assert.deepEqual(render(true, existing({ ownerReferences: [mine] })), [OWNER]);
  });
});

void describe('mirrorStaleness', () => {
  const input = { source: source(), rule: rule('reflector'), namespace: 'team-a', now: NOW, clusterName: '' };
  const rendered = renderMirror({ ...input, existing: undefined });

  void it('is undefined for a mirror that holds what the body says', () => {
    assert.equal(mirrorStaleness(rendered, written(rendered)), undefined);
  });

  void it('ignores volatile markers', () => {
    const old = written(rendered);
    const later = renderMirror({
      ...input,
      source: source('Secret', { resourceVersion: '43' }),
      existing: old,
      now: '2030-01-01T00:00:00Z',
    });
    assert.equal(mirrorStaleness(later, old), undefined);
    const kubedRendered = renderMirror({ ...input, rule: rule('kubed'), existing: undefined });
    const kubedLater = renderMirror({
      ...input,
      rule: rule('kubed'),
      source: source('Secret', { resourceVersion: '43' }),
      existing: undefined,
    });
    assert.equal(mirrorStaleness(kubedLater, written(kubedRendered)), undefined);
  });

  void it('says why when the hash, the content owner, a marker or the owner references differ', () => {
    const hashless = written(rendered, {
      annotations: { ...rendered.body.metadata.annotations, [owned.contentHash]: 'x' },
    });
    assert.match(mirrorStaleness(rendered, hashless) ?? '', /content changed/);
    assert.match(
      mirrorStaleness(rendered, written(rendered, { contentForeign: true })) ?? '',
      /someone else/,
    );
    assert.match(mirrorStaleness(rendered, written(rendered, { labels: {} })) ?? '', /label/);
    const noReflects = Object.fromEntries(
      Object.entries(rendered.body.metadata.annotations).filter(([key]) => key !== reflector.reflects),
    );
    assert.match(
      mirrorStaleness(rendered, written(rendered, { annotations: noReflects })) ?? '',
      /annotation/,
    );
    assert.match(mirrorStaleness(rendered, written(rendered, { ownerReferences: [OWNER] })) ?? '', /owner/);
  });

  void it('honours reflector’s reflected-version "" re-sync knob, but only where it is written back', () => {
    const cleared = written(rendered, {
      annotations: { ...rendered.body.metadata.annotations, [reflector.reflectedVersion]: '' },
    });
    assert.match(mirrorStaleness(rendered, cleared) ?? '', /re-sync/);
    const native = renderMirror({ ...input, rule: rule('native'), existing: undefined });
    const nativeCleared = written(native, {
      annotations: { ...native.body.metadata.annotations, [reflector.reflectedVersion]: '' },
    });
    assert.equal(mirrorStaleness(native, nativeCleared), undefined);
  });
});

void describe('renderPullPatch', () => {
  void it('writes the source keys, nulls keys copied before that are gone, and names no other key', () => {
    const target = pullTarget(
      {},
      { annotations: { [owned.copiedKeys]: 'user,old', [replicator.replicatedKeys]: 'legacy, pass' } },
    );
    const { patch, hash, copiedKeys } = renderPullPatch({ source: source(), target, now: NOW });
    assert.deepEqual(patch.data, { user: 'dQ==', pass: 'cA==', host: 'aA==', old: null, legacy: null });
    assert.equal('binaryData' in patch, false);
    assert.equal(copiedKeys, 'host,pass,user');
    assert.deepEqual(patch.metadata, {
      resourceVersion: '7',
      annotations: { [owned.contentHash]: hash, [owned.copiedKeys]: 'host,pass,user' },
    });
    assert.equal('type' in patch, false);
  });

  void it('respects request.keys and never nulls a key it writes', () => {
    const target = pullTarget({ keys: ['user'] }, { annotations: { [owned.copiedKeys]: 'user,pass' } });
    const { patch, copiedKeys } = renderPullPatch({ source: source(), target, now: NOW });
    assert.deepEqual(patch.data, { user: 'dQ==', pass: null });
    assert.equal(copiedKeys, 'user');
  });

  void it('for ConfigMaps patches binaryData too, nulling a copied key in the map it left', () => {
    const src = source('ConfigMap', {}, { type: undefined, data: { a: '1' }, binaryData: { b: 'AA==' } });
    const target = pullTarget({}, { kind: 'ConfigMap', annotations: { [owned.copiedKeys]: 'a,b,c' } });
    const { patch } = renderPullPatch({ source: src, target, now: NOW });
    assert.deepEqual(patch.data, { a: '1', b: null, c: null });
    assert.deepEqual(patch.binaryData, { a: null, b: 'AA==', c: null });
  });

  void it('writes the dialect’s pull markers', () => {
    const reflected = renderPullPatch({
      source: source(),
      target: pullTarget({ dialect: 'reflector' }),
      now: NOW,
    });
    assert.equal(reflected.patch.metadata.annotations[reflector.reflectedVersion], '42');
    assert.equal(reflected.patch.metadata.annotations[reflector.reflectedAt], NOW);
    const replicated = renderPullPatch({
      source: source(),
      target: pullTarget({ dialect: 'replicator' }),
      now: NOW,
    });
    assert.equal(replicated.patch.metadata.annotations[replicator.replicatedAt], NOW);
    assert.equal(replicated.patch.metadata.annotations[replicator.replicatedFromVersion], '42');
    assert.equal(replicated.patch.metadata.annotations[replicator.replicatedKeys], 'host,pass,user');
  });

  void it('asks to read the target before writing a key it never got from nsync', () => {
    const target = pullTarget({}, { annotations: { [owned.copiedKeys]: 'user' } });
    const rendered = renderPullPatch({ source: source(), target, now: NOW });
    assert.deepEqual(rendered.unverified, ['host', 'pass']);
    const read = renderPullPatch({ source: source(), target: { ...target, held: new Set() }, now: NOW });
    assert.deepEqual(read.unverified, []);
    assert.deepEqual(read.patch.data, rendered.patch.data, 'holding nothing, it gets every key');
  });

  void it('keeps a key the target holds of its own: not written, not nulled later, recorded', () => {
    const target = { ...pullTarget(), held: new Set(['pass', 'mine']) };
    const rendered = renderPullPatch({ source: source(), target, now: NOW });
    assert.deepEqual(rendered.kept, ['pass']);
    assert.deepEqual(rendered.patch.data, { user: 'dQ==', host: 'aA==' });
    assert.equal(rendered.copiedKeys, 'host,user');
    assert.equal(rendered.patch.metadata.annotations[owned.ownKeys], 'pass');
    // Written; the source then drops the key: the target's own value stays, unnamed.
    const written: PullTarget = {
      ...pullTarget(),
      meta: existing({
        name: 'copy',
        annotations: mergedAnnotations({}, rendered.patch.metadata.annotations),
      }),
    };
    assert.equal(pullStaleness(rendered, written), undefined);
    const dropped = source(
      'Secret',
      {},
      { type: 'Opaque', data: { user: 'dQ==', host: 'aA==' }, binaryData: {} },
    );
    const next = renderPullPatch({ source: dropped, target: written, now: NOW });
    assert.deepEqual(next.patch.data, { user: 'dQ==', host: 'aA==' });
    assert.equal(next.patch.metadata.annotations[owned.ownKeys], null, 'the record goes');
    assert.deepEqual(next.unverified, []);
  });

  void it('fills an empty placeholder and overwrites keys it copied itself', () => {
    const target = pullTarget({}, { annotations: { [owned.copiedKeys]: 'pass' } });
    // `user` is held empty (not in held), `pass` was nsync's: both are written.
    const rendered = renderPullPatch({
      source: source(),
      target: { ...target, held: new Set(['pass']) },
      now: NOW,
    });
    assert.deepEqual(rendered.kept, []);
    assert.deepEqual(Object.keys(rendered.patch.data ?? {}).sort(), ['host', 'pass', 'user']);
  });

  void it('takes over the keys of a target reflector filled: no read, nothing kept', () => {
    const target = pullTarget(
      { dialect: 'reflector' },
      { annotations: { [reflector.reflectedVersion]: '9' } },
    );
    const rendered = renderPullPatch({ source: source(), target, now: NOW });
    assert.deepEqual(rendered.unverified, []);
    assert.deepEqual(rendered.kept, []);
    assert.deepEqual(Object.keys(rendered.patch.data ?? {}).sort(), ['host', 'pass', 'user']);
    // Once nsync has written it, its own record decides: a new source key is checked again.
    const written = pullTarget(
      { dialect: 'reflector' },
      { annotations: { [reflector.reflectedVersion]: '9', [owned.copiedKeys]: 'user' } },
    );
    assert.deepEqual(renderPullPatch({ source: source(), target: written, now: NOW }).unverified, [
      'host',
      'pass',
    ]);
  });

  void it('keeps recorded own keys without reading the target again', () => {
    const target = pullTarget(
      {},
      { annotations: { [owned.copiedKeys]: 'host,user', [owned.ownKeys]: 'pass' } },
    );
    const rendered = renderPullPatch({ source: source(), target, now: NOW });
    assert.deepEqual(rendered.unverified, []);
    assert.deepEqual(rendered.kept, ['pass']);
    assert.equal('pass' in (rendered.patch.data ?? {}), false);
  });

  void it('defers a key list over its annotation budget to managedFields', () => {
    const many = Object.fromEntries(
      Array.from({ length: 1000 }, (_, i) => [`key-${String(i).padStart(4, '0')}-${'x'.repeat(40)}`, 'dg==']),
    );
    const src = source('Secret', {}, { type: 'Opaque', data: many, binaryData: {} });
    const rendered = renderPullPatch({ source: src, target: { ...pullTarget(), held: new Set() }, now: NOW });
    assert.ok(formatKeyList(Object.keys(many)).length > KEY_LIST_BUDGET);
    assert.equal(rendered.copiedKeys, "(1000 keys, listed in nsync's managedFields)");
    assert.ok(defersToManagedFields(rendered.copiedKeys));
    const written = existing({
      name: 'copy',
      annotations: mergedAnnotations({}, rendered.patch.metadata.annotations),
      writtenKeys: Object.keys(many),
    });
    assert.deepEqual(previouslyCopiedKeys(written), new Set(Object.keys(many)));
    assert.equal(pullStaleness(rendered, { ...pullTarget(), meta: written }), undefined);
    const replicated = renderMirror({
      source: src,
      rule: rule('replicator'),
      namespace: 'team-a',
      existing: undefined,
      now: NOW,
      clusterName: '',
    });
    assert.equal(
      replicated.body.metadata.annotations[replicator.replicatedKeys],
      "(1000 keys, listed in nsync's managedFields)",
    );
  });

  void it('hashes the selected content without the type, which a pull never writes', () => {
    const a = renderPullPatch({ source: source(), target: pullTarget(), now: NOW });
    const tls = source('Secret', {}, { ...source().content, type: 'kubernetes.io/tls' });
    const b = renderPullPatch({ source: tls, target: pullTarget(), now: NOW });
    assert.equal(a.hash, b.hash);
  });
});

void describe('pullStaleness', () => {
  const target = pullTarget({ dialect: 'reflector' });
  const rendered = renderPullPatch({ source: source(), target, now: NOW });
  const filled = (annotations: Record<string, string>, overrides: Partial<ObjectMeta> = {}): PullTarget => ({
    ...target,
    meta: {
      ...target.meta,
      annotations: { ...mergedAnnotations({}, rendered.patch.metadata.annotations), ...annotations },
      ...overrides,
    },
  });

  void it('is undefined once the patch is applied, whatever the volatile markers say', () => {
    assert.equal(pullStaleness(rendered, filled({})), undefined);
    assert.equal(
      pullStaleness(rendered, filled({ [reflector.reflectedVersion]: '1', [reflector.reflectedAt]: 'x' })),
      undefined,
    );
  });

  void it('says why when hash, content owner, copied keys or the re-sync knob say so', () => {
    assert.match(pullStaleness(rendered, target) ?? '', /no content hash/);
    assert.match(pullStaleness(rendered, filled({ [owned.contentHash]: 'sha256:x' })) ?? '', /changed/);
    assert.match(pullStaleness(rendered, filled({}, { contentForeign: true })) ?? '', /someone else/);
    assert.match(pullStaleness(rendered, filled({ [owned.copiedKeys]: 'user' })) ?? '', /copied keys/);
    assert.match(pullStaleness(rendered, filled({ [reflector.reflectedVersion]: '' })) ?? '', /re-sync/);
  });
});
