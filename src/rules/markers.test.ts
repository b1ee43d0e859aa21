import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  hasDialectKey,
  isNeverCopied,
  kubed,
  mirrorClaim,
  native,
  owned,
  reflector,
  replicator,
  unnamedMirrorClaim,
  type MirrorClaim,
} from './markers.ts';
import type { Kind } from './model.ts';

type Map = Record<string, string>;

const ORIGIN = '{"name":"omni","namespace":"demo","uid":"2988e9d5-7205-11e7","resourceVersion":"11053"}';

/** A copy exactly as config-syncer writes it (source labels merged with the origin labels). */
function kubedCopy(cluster = ''): { labels: Map; annotations: Map } {
  return {
    labels: {
      app: 'web',
      [kubed.originName]: 'omni',
      [kubed.originNamespace]: 'demo',
      [kubed.originCluster]: cluster,
    },
    annotations: { team: 'platform', [kubed.origin]: ORIGIN },
  };
}

/** A push replica exactly as replicator writes it: source labels, the three markers. */
const REPLICA: { labels: Map; annotations: Map } = {
  labels: { app: 'registry' },
  annotations: {
    [replicator.replicatedAt]: '2026-01-02T03:04:05Z',
    [replicator.replicatedFromVersion]: '4711',
    [replicator.replicatedKeys]: '.dockerconfigjson',
  },
};

function claim(labels: Map, annotations: Map, kind: Kind = 'ConfigMap', clusterName?: string) {
  return mirrorClaim(kind, labels, annotations, clusterName === undefined ? {} : { clusterName });
}

const DEMO_OMNI: MirrorClaim = { sourceNamespace: 'demo', sourceName: 'omni', markedBy: 'kubed' };

void describe('mirrorClaim: nsync and reflector (unchanged)', () => {
  void test("nsync's own mirror", () => {
    assert.deepEqual(
      claim({ [owned.managedByLabel]: owned.managedByValue }, { [owned.source]: 'platform/db' }),
      { sourceNamespace: 'platform', sourceName: 'db', markedBy: 'native' },
    );
  });

  void test('the managed-by label without a source, or a source without the label, is no claim', () => {
    assert.equal(claim({ [owned.managedByLabel]: owned.managedByValue }, {}), undefined);
    assert.equal(claim({ [owned.managedByLabel]: 'Helm' }, { [owned.source]: 'platform/db' }), undefined);
  });

  void test('reflector auto mirrors, in any case of True; reflector pulls are no claim', () => {
    for (const autoReflects of ['True', 'true', ' TRUE ']) {
      assert.equal(
        claim({}, { [reflector.reflects]: 'a/b', [reflector.autoReflects]: autoReflects })?.markedBy,
        'reflector',
      );
    }
    assert.equal(claim({}, { [reflector.reflects]: 'a/b', [reflector.autoReflects]: 'False' }), undefined);
    assert.equal(claim({}, { [reflector.reflects]: 'a/b' }), undefined);
  });

  void test("nsync's markers win over another dialect's", () => {
    const { labels, annotations } = kubedCopy();
    const found = claim(
      { ...labels, [owned.managedByLabel]: owned.managedByValue },
      { ...annotations, [owned.source]: 'platform/db' },
    );
    assert.equal(found?.markedBy, 'native');
    assert.equal(found.sourceName, 'db');
  });
});

void describe('mirrorClaim: kubed copies', () => {
  void test('a current copy (labels and annotation agree) is claimed for its source', () => {
    const { labels, annotations } = kubedCopy();
    assert.deepEqual(claim(labels, annotations), DEMO_OMNI);
  });

  void test('labels alone (the annotation removed by hand) are enough', () => {
    assert.deepEqual(claim(kubedCopy().labels, {}), DEMO_OMNI);
  });

  void test('the annotation alone (copies from kubed 0.9, before the labels) is enough', () => {
    assert.deepEqual(claim({}, { [kubed.origin]: ORIGIN }), DEMO_OMNI);
  });

  void test('the annotation may carry apiVersion and kind; a kind that is not the object kind is no claim', () => {
    const withKind = (kind: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind,
        name: 'omni',
        namespace: 'demo',
        uid: 'u',
        resourceVersion: '1',
      });
    assert.deepEqual(claim({}, { [kubed.origin]: withKind('ConfigMap') }), DEMO_OMNI);
    assert.equal(claim({}, { [kubed.origin]: withKind('Secret') }), undefined);
    assert.deepEqual(claim({}, { [kubed.origin]: withKind('Secret') }, 'Secret'), {
      ...DEMO_OMNI,
    });
  });

  void test('labels and annotation that disagree make the copy nobody’s', () => {
    const { labels } = kubedCopy();
    const other = JSON.stringify({ name: 'omni', namespace: 'elsewhere' });
    assert.equal(claim(labels, { [kubed.origin]: other }), undefined);
    assert.equal(claim({ ...labels, [kubed.originName]: 'other' }, { [kubed.origin]: ORIGIN }), undefined);
  });

  void test('one label plus an agreeing annotation is a claim; one label alone is not', () => {
    assert.deepEqual(claim({ [kubed.originNamespace]: 'demo' }, { [kubed.origin]: ORIGIN }), DEMO_OMNI);
    assert.equal(claim({ [kubed.originNamespace]: 'demo' }, {}), undefined);
    assert.equal(claim({ [kubed.originName]: 'omni', [kubed.originNamespace]: '' }, {}), undefined);
  });

  void test('an unreadable origin annotation is ignored, and the labels still decide', () => {
    for (const origin of [
      '',
      'not json',
      '[]',
      'null',
      '"demo/omni"',
      '{"name":"omni"}',
      '{"name":1,"namespace":"demo"}',
    ]) {
      assert.equal(claim({}, { [kubed.origin]: origin }), undefined, origin);
      assert.deepEqual(claim(kubedCopy().labels, { [kubed.origin]: origin }), DEMO_OMNI, origin);
    }
  });

  void test('a copy from another cluster is claimed only where --cluster-name is that cluster', () => {
    const { labels, annotations } = kubedCopy('eu-west');
    assert.equal(claim(labels, annotations), undefined);
    assert.equal(claim(labels, annotations, 'ConfigMap', 'us-east'), undefined);
    assert.deepEqual(claim(labels, annotations, 'ConfigMap', 'eu-west'), DEMO_OMNI);
  });

  void test('an empty or absent origin.cluster (kubed without --cluster-name) is this cluster', () => {
    const { labels, annotations } = kubedCopy('');
    assert.deepEqual(claim(labels, annotations, 'ConfigMap', 'prod'), DEMO_OMNI);
    const { [kubed.originCluster]: _cluster, ...withoutCluster } = labels;
    assert.deepEqual(claim(withoutCluster, annotations, 'ConfigMap', 'prod'), DEMO_OMNI);
  });

  void test('inherited names (toString, __proto__) are never read as markers', () => {
    assert.equal(claim(JSON.parse('{"__proto__":"x"}') as Map, { toString: 'a/b' }), undefined);
  });
});

void describe('unnamedMirrorClaim: replicator push replicas', () => {
  void test('a replica as replicator writes it: same-name claim, never a named one', () => {
    assert.deepEqual(unnamedMirrorClaim('Secret', REPLICA.labels, REPLICA.annotations), {
      markedBy: 'replicator',
      sourceName: 'same-as-object',
    });
    assert.equal(mirrorClaim('Secret', REPLICA.labels, REPLICA.annotations), undefined);
  });

  void test('replicated-from-version is what marks it (older replicas have no replicated-keys)', () => {
    assert.ok(unnamedMirrorClaim('ConfigMap', {}, { [replicator.replicatedFromVersion]: '1' }));
    const { [replicator.replicatedFromVersion]: _version, ...rest } = REPLICA.annotations;
    assert.equal(unnamedMirrorClaim('Secret', {}, rest), undefined);
  });

  void test('foreign annotations are fine: replicator keeps those of an object it overwrites', () => {
    assert.ok(unnamedMirrorClaim('Secret', {}, { ...REPLICA.annotations, 'example.com/owner': 'team-a' }));
  });

  void test('pull targets of any dialect are not replicas, even with the replica markers', () => {
    for (const key of [replicator.replicateFrom, native.pullFrom, reflector.reflects]) {
      assert.equal(
        unnamedMirrorClaim('Secret', {}, { ...REPLICA.annotations, [key]: 'platform/registry' }),
        undefined,
        key,
      );
    }
  });

  void test('sources of any dialect are not replicas', () => {
    for (const key of [
      replicator.replicateTo,
      replicator.allowed,
      native.pushTo,
      reflector.allowed,
      kubed.sync,
    ]) {
      assert.equal(unnamedMirrorClaim('Secret', {}, { ...REPLICA.annotations, [key]: 'x' }), undefined, key);
    }
  });

  void test('an object a named claim covers is not unnamed', () => {
    const { labels, annotations } = kubedCopy();
    assert.equal(
      unnamedMirrorClaim('ConfigMap', labels, { ...annotations, ...REPLICA.annotations }),
      undefined,
    );
    assert.equal(
      unnamedMirrorClaim(
        'Secret',
        { [owned.managedByLabel]: owned.managedByValue },
        { ...REPLICA.annotations, [owned.source]: 'platform/registry' },
      ),
      undefined,
    );
  });
});

void describe('copy filters', () => {
  void test('kubed, replicator and GitOps keys are never copied, even where a dialect copies metadata', () => {
    for (const key of [
      kubed.sync,
      kubed.syncContexts,
      kubed.origin,
      kubed.originName,
      kubed.originNamespace,
      kubed.originCluster,
      replicator.replicateTo,
      replicator.stripLabels,
      replicator.replicatedKeys,
      'argocd.argoproj.io/tracking-id',
      'app.kubernetes.io/instance',
      'kustomize.toolkit.fluxcd.io/name',
      'kubectl.kubernetes.io/last-applied-configuration',
    ]) {
      assert.equal(isNeverCopied(key), true, key);
    }
    assert.equal(isNeverCopied('app'), false);
    assert.equal(isNeverCopied('example.com/team'), false);
  });

  void test('hasDialectKey sees every dialect', () => {
    assert.equal(hasDialectKey(REPLICA.annotations), true);
    assert.equal(hasDialectKey(kubedCopy().labels), true);
    assert.equal(hasDialectKey({ app: 'x' }), false);
  });
});

void describe('properties', () => {
  const keys = [
    ...Object.values(kubed),
    ...Object.values(replicator),
    ...Object.values(reflector),
    ...Object.values(native),
    owned.source,
    owned.managedByLabel,
  ];
  const valueArb = fc.oneof(
    fc.constantFrom('demo/omni', 'True', 'nsync', ORIGIN, '', '{}', 'eu-west'),
    fc.string({ unit: 'binary', maxLength: 60 }),
  );
  const mapArb = fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 10 })), valueArb);

  void test('claims never throw, and an object is claimed named or unnamed, never both', () => {
    fc.assert(
      fc.property(
        mapArb,
        mapArb,
        fc.constantFrom<Kind>('Secret', 'ConfigMap'),
        fc.option(fc.constantFrom('', 'eu-west'), { nil: undefined }),
        (labels, annotations, kind, clusterName) => {
          const options = clusterName === undefined ? {} : { clusterName };
          const named = mirrorClaim(kind, labels, annotations, options);
          const unnamed = unnamedMirrorClaim(kind, labels, annotations, options);
          assert.ok(named === undefined || unnamed === undefined);
          if (named !== undefined) {
            assert.notEqual(named.sourceNamespace, '');
            assert.notEqual(named.sourceName, '');
          }
          if (unnamed !== undefined) {
            for (const key of [replicator.replicateFrom, native.pullFrom, reflector.reflects]) {
              assert.equal(Object.hasOwn(annotations, key), false);
            }
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

void describe('mirrorClaim across clusters (docs/adr/0018)', () => {
  const nsyncMirror = (cluster?: string): Record<string, string> => ({
    [owned.source]: 'platform/db',
    ...(cluster === undefined ? {} : { [owned.sourceCluster]: cluster }),
  });
  const labels = { [owned.managedByLabel]: owned.managedByValue };

  void test('an nsync in the target cluster never claims a mirror another cluster pushed there', () => {
    assert.equal(mirrorClaim('Secret', labels, nsyncMirror('home'), { clusterName: 'west' }), undefined);
    assert.equal(mirrorClaim('Secret', labels, nsyncMirror('home'), { clusterName: '' }), undefined);
    assert.equal(
      mirrorClaim('Secret', labels, nsyncMirror('home'), { clusterName: 'home' })?.sourceName,
      'db',
    );
    assert.equal(mirrorClaim('Secret', labels, nsyncMirror(), { clusterName: 'west' })?.sourceName, 'db');
  });

  void test('in a remote cluster only markers naming this cluster claim', () => {
    const remote = { clusterName: 'home', remote: true };
    assert.equal(mirrorClaim('Secret', labels, nsyncMirror('home'), remote)?.markedBy, 'native');
    assert.equal(mirrorClaim('Secret', labels, nsyncMirror(), remote), undefined);
    assert.equal(mirrorClaim('Secret', labels, nsyncMirror('west'), remote), undefined);
    const reflected = { [reflector.autoReflects]: 'True', [reflector.reflects]: 'platform/db' };
    assert.equal(mirrorClaim('Secret', {}, reflected, remote), undefined, 'reflector knows no cluster');
    const origin = { [kubed.originName]: 'db', [kubed.originNamespace]: 'platform' };
    assert.equal(mirrorClaim('Secret', origin, {}, remote), undefined, 'a kubed copy without a cluster');
    assert.equal(
      mirrorClaim('Secret', { ...origin, [kubed.originCluster]: 'home' }, {}, remote)?.markedBy,
      'kubed',
    );
    assert.equal(
      unnamedMirrorClaim('Secret', {}, { [replicator.replicatedFromVersion]: '1' }, remote),
      undefined,
    );
  });
});
