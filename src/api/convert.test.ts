import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  evaluateFilter,
  nativeDialect,
  parseClusterAnnotations,
  selectsCluster,
  type NamespaceInfo,
  type PushRule,
} from '../rules/index.ts';
import { sourceProblems, toMirrorRule, type Conversion, type MirrorRule } from './convert.ts';
import type { MirrorKind, MirrorResourceV1, MirrorSpecV1 } from './types.ts';

function resource(kind: MirrorKind, spec: unknown, namespace = 'team-a'): MirrorResourceV1 {
  return {
    apiVersion: 'nsync.dev/v1alpha1',
    kind,
    metadata: { name: 'm', uid: 'uid-1', ...(kind === 'Mirror' ? { namespace } : {}) },
    spec: spec as MirrorSpecV1,
  };
}

const cluster = (spec: unknown): Conversion => toMirrorRule(resource('ClusterMirror', spec));
const namespaced = (spec: unknown): Conversion => toMirrorRule(resource('Mirror', spec));

function rule(conversion: Conversion): MirrorRule {
  assert.ok(conversion.ok, JSON.stringify(conversion));
  return conversion.rule;
}

function problems(conversion: Conversion): string[] {
  assert.ok(!conversion.ok, 'expected problems');
  return conversion.problems.map((problem) => `${problem.field}: ${problem.message}`);
}

const NAMESPACES: readonly NamespaceInfo[] = [
  { name: 'cert-manager', labels: {}, terminating: false },
  { name: 'kube-system', labels: {}, terminating: false },
  { name: 'team-a', labels: { env: 'prod', tier: 'web' }, terminating: false },
  { name: 'team-b', labels: { env: 'dev' }, terminating: false },
  { name: 'team-legacy', labels: { env: 'prod' }, terminating: false },
  { name: 'xteam-a', labels: { registry: 'pull' }, terminating: false },
];
const reached = (push: PushRule): string[] =>
  NAMESPACES.filter((namespace) => evaluateFilter(push.targets, namespace).match).map((ns) => ns.name);

const WILDCARD = {
  source: { kind: 'Secret', namespace: 'cert-manager', name: 'wildcard-tls' },
  targets: { namespaces: ['*', '!kube-system'] },
};

void describe('toMirrorRule', () => {
  void test('the cert-manager case: everywhere but kube-system and the source namespace', () => {
    const converted = rule(cluster(WILDCARD));
    assert.deepEqual(converted.source, { kind: 'Secret', namespace: 'cert-manager', name: 'wildcard-tls' });
    assert.deepEqual(converted.origin, {
      kind: 'ClusterMirror',
      namespace: undefined,
      name: 'm',
      uid: 'uid-1',
    });
    assert.equal(converted.push.dialect, 'native');
    assert.equal(converted.push.targetName, 'wildcard-tls');
    assert.deepEqual(converted.push.copy, {
      labels: false,
      annotations: false,
      ownerReferences: false,
      keys: undefined,
    });
    assert.deepEqual(reached(converted.push), ['team-a', 'team-b', 'team-legacy', 'xteam-a']);
  });

  void test('a Mirror reads its source in its own namespace', () => {
    const converted = rule(
      namespaced({ source: { kind: 'ConfigMap', name: 'ca-bundle' }, targets: { namespaces: ['team-*'] } }),
    );
    assert.deepEqual(converted.source, { kind: 'ConfigMap', namespace: 'team-a', name: 'ca-bundle' });
    assert.deepEqual(converted.origin, { kind: 'Mirror', namespace: 'team-a', name: 'm', uid: 'uid-1' });
    assert.deepEqual(reached(converted.push), ['team-b', 'team-legacy']);
  });

  void test('globs AND selector AND NOT exclusions, as the native annotations combine them', () => {
    const converted = rule(
      cluster({
        source: { kind: 'Secret', namespace: 'cert-manager', name: 's' },
        targets: {
          namespaces: ['team-*', '!team-legacy'],
          namespaceSelector: {
            matchLabels: { env: 'prod' },
            matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api', 'web'] }],
          },
          name: 'shared.tls',
        },
        keys: ['tls.key', 'tls.crt'],
        copyLabels: true,
        copyAnnotations: true,
      }),
    );
    assert.deepEqual(reached(converted.push), ['team-a']);
    assert.equal(converted.push.targetName, 'shared.tls');
    assert.deepEqual(converted.push.copy, {
      labels: true,
      annotations: true,
      ownerReferences: false,
      keys: ['tls.crt', 'tls.key'],
    });
  });

  void test('the same words mean the same namespaces as the annotations', () => {
    const annotations = nativeDialect.parseSource({
      kind: 'Secret',
      namespace: 'cert-manager',
      name: 's',
      annotations: {
        'nsync.dev/push-to': '!kube-system, !team-b',
        'nsync.dev/push-to-selector': '!registry',
      },
      secretType: 'Opaque',
    }).push[0];
    assert.ok(annotations);
    const converted = rule(
      cluster({
        source: { kind: 'Secret', namespace: 'cert-manager', name: 's' },
        targets: {
          namespaces: ['!kube-system', '!team-b'],
          namespaceSelector: { matchExpressions: [{ key: 'registry', operator: 'DoesNotExist' }] },
        },
      }),
    );
    const withoutSource = reached(annotations).filter((name) => name !== 'cert-manager');
    assert.deepEqual(reached(converted.push), withoutSource);
    assert.deepEqual(withoutSource, ['team-a', 'team-legacy']);
  });

  const invalid: readonly [string, unknown, RegExp][] = [
    ['no spec', undefined, /^spec: is required/],
    ['no targets', { source: WILDCARD.source }, /spec\.targets: is required/],
    ['an empty target set', { ...WILDCARD, targets: {} }, /spec\.targets: targets must give namespaces/],
    [
      'an upper-case glob',
      { ...WILDCARD, targets: { namespaces: ['team-*', 'Prod'] } },
      /namespaces\[1\]: .*"Prod" can never match/,
    ],
    ['a lone "!"', { ...WILDCARD, targets: { namespaces: ['!'] } }, /namespaces\[0\]: "!" must be followed/],
    ['a comma in an entry', { ...WILDCARD, targets: { namespaces: ['a,b'] } }, /must be one pattern/],
    ['"!*"', { ...WILDCARD, targets: { namespaces: ['team-*', '!*'] } }, /excludes every namespace/],
    [
      'only the source namespace',
      { ...WILDCARD, targets: { namespaces: ['cert-manager', '!x'] } },
      /only the source's own namespace/,
    ],
    ['an empty selector', { ...WILDCARD, targets: { namespaceSelector: {} } }, /empty namespaceSelector/],
    [
      'In without values',
      { ...WILDCARD, targets: { namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'In' }] } } },
      /matchExpressions\[0\]\.values: the operators In and NotIn need/,
    ],
    [
      'Exists with values',
      {
        ...WILDCARD,
        targets: {
          namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'Exists', values: ['x'] }] },
        },
      },
      /take no values/,
    ],
    [
      'an unknown operator',
      {
        ...WILDCARD,
        targets: { namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'Gt', values: ['1'] }] } },
      },
      /operator: must be In, NotIn, Exists or DoesNotExist, not "Gt"/,
    ],
    [
      'a bad label key',
      { ...WILDCARD, targets: { namespaceSelector: { matchLabels: { 'a b': 'x' } } } },
      /key "a b"/,
    ],
    [
      'a bad label value',
      { ...WILDCARD, targets: { namespaceSelector: { matchLabels: { env: 'a b' } } } },
      /matchLabels\[env\]/,
    ],
    [
      'a bad target name',
      { ...WILDCARD, targets: { namespaces: ['*'], name: 'Shared_TLS' } },
      /targets\.name: "Shared_TLS"/,
    ],
    ['a bad key', { ...WILDCARD, keys: ['tls.crt', 'a/b'] }, /spec\.keys\[1\]: "a\/b"/],
    ['an empty key list', { ...WILDCARD, keys: [] }, /keys must list at least one key/],
    ['a key listed twice', { ...WILDCARD, keys: ['a', 'b', 'a'] }, /spec\.keys\[2\]: "a" is listed twice/],
    [
      'a bad kind',
      { ...WILDCARD, source: { ...WILDCARD.source, kind: 'Pod' } },
      /source\.kind: must be Secret or ConfigMap, not "Pod"/,
    ],
    [
      'a bad source namespace',
      { ...WILDCARD, source: { ...WILDCARD.source, namespace: 'Cert' } },
      /source\.namespace: "Cert"/,
    ],
    [
      'a missing source namespace',
      { ...WILDCARD, source: { kind: 'Secret', name: 'x' } },
      /required on a ClusterMirror/,
    ],
    [
      'a bad source name',
      { ...WILDCARD, source: { ...WILDCARD.source, name: 'a_b' } },
      /source\.name: "a_b"/,
    ],
    ['a string for a boolean', { ...WILDCARD, copyLabels: 'yes' }, /spec\.copyLabels: must be true or false/],
    ['a string for a list', { ...WILDCARD, targets: { namespaces: 'team-*' } }, /must be a list of strings/],
  ];
  for (const [what, spec, expected] of invalid) {
    void test(`a ClusterMirror with ${what} is a problem, never a rule`, () => {
      const found = problems(cluster(spec));
      assert.ok(
        found.some((text) => expected.test(text)),
        found.join('\n'),
      );
    });
  }

  void test('a Mirror with a source in another namespace is a problem', () => {
    const found = problems(
      namespaced({
        source: { kind: 'Secret', namespace: 'platform', name: 'x' },
        targets: { namespaces: ['*'] },
      }),
    );
    assert.deepEqual(found, [
      'spec.source.namespace: a Mirror copies a source in its own namespace: remove source.namespace, or use a ClusterMirror for a source in another namespace',
    ]);
    // Even its own namespace: the field has no place on a Mirror, as the CRD says.
    assert.ok(
      !namespaced({
        source: { kind: 'Secret', namespace: 'team-a', name: 'x' },
        targets: { namespaces: ['*'] },
      }).ok,
    );
  });

  void test('every problem is reported, not only the first', () => {
    const found = problems(
      cluster({
        source: { kind: 'Pod', namespace: 'x', name: 'y' },
        targets: { namespaces: ['Bad'], name: 'No' },
        keys: ['a/b'],
      }),
    );
    assert.deepEqual(
      found.map((text) => text.split(':')[0]),
      ['spec.source.kind', 'spec.targets.namespaces[0]', 'spec.targets.name', 'spec.keys[0]'],
    );
  });
});

void describe('sourceProblems', () => {
  const tls = (keys: string[]): MirrorRule => rule(cluster({ ...WILDCARD, keys }));
  void test('a key subset of a typed Secret must keep the keys its type requires', () => {
    assert.deepEqual(sourceProblems(tls(['ca.crt', 'tls.crt']), 'kubernetes.io/tls'), [
      {
        field: 'spec.keys',
        message: 'the source is a kubernetes.io/tls Secret, which must keep "tls.key"; list it too',
      },
    ]);
    assert.deepEqual(sourceProblems(tls(['tls.crt', 'tls.key']), 'kubernetes.io/tls'), []);
    assert.deepEqual(sourceProblems(tls(['ca.crt']), 'Opaque'), []);
    assert.deepEqual(sourceProblems(rule(cluster(WILDCARD)), 'kubernetes.io/tls'), []);
  });
});

void describe('toMirrorRule properties', () => {
  const namespaceName = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?$/);
  const glob = fc.stringMatching(/^!?[-a-z0-9*?]{1,10}$/);

  void test('never selects the source’s own namespace, whatever the targets say', () => {
    fc.assert(
      fc.property(
        namespaceName,
        fc.array(glob, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (own, globs, mirror) => {
          const spec = {
            source: { kind: 'Secret', name: 'x', ...(mirror ? {} : { namespace: own }) },
            targets: { namespaces: globs },
          };
          const converted = toMirrorRule(resource(mirror ? 'Mirror' : 'ClusterMirror', spec, own));
          if (!converted.ok) return;
          const verdict = evaluateFilter(converted.rule.push.targets, {
            name: own,
            labels: {},
            terminating: false,
          });
          assert.equal(verdict.match, false);
        },
      ),
    );
  });

  void test('selects exactly what the annotations select, the source namespace aside', () => {
    fc.assert(
      fc.property(
        fc.array(glob, { minLength: 1, maxLength: 5 }),
        fc.array(namespaceName, { maxLength: 8 }),
        (globs, names) => {
          const converted = toMirrorRule(
            resource('ClusterMirror', {
              source: { kind: 'Secret', namespace: 'src', name: 'x' },
              targets: { namespaces: globs },
            }),
          );
          const annotated = nativeDialect.parseSource({
            kind: 'Secret',
            namespace: 'src',
            name: 'x',
            annotations: { 'nsync.dev/push-to': globs.join(',') },
            secretType: undefined,
          }).push[0];
          if (!converted.ok) return;
          assert.ok(annotated);
          for (const name of names.filter((candidate) => candidate !== 'src')) {
            const namespace = { name, labels: {}, terminating: false };
            assert.equal(
              evaluateFilter(converted.rule.push.targets, namespace).match,
              evaluateFilter(annotated.targets, namespace).match,
              name,
            );
          }
        },
      ),
    );
  });

  void test('never throws, whatever the object holds', () => {
    fc.assert(
      fc.property(fc.anything(), fc.constantFrom<MirrorKind>('ClusterMirror', 'Mirror'), (spec, kind) => {
        const converted = toMirrorRule(resource(kind, spec));
        if (!converted.ok) assert.ok(converted.problems.length > 0);
      }),
    );
  });
});

void describe('spec.clusters', () => {
  const CLUSTERS = [
    { name: 'home', labels: {} },
    { name: 'prod-eu', labels: { env: 'prod' } },
    { name: 'prod-legacy', labels: { env: 'prod' } },
    { name: 'staging', labels: { env: 'staging' } },
  ];
  const clustersOf = (push: PushRule): string[] => {
    const { clusters } = push;
    assert.ok(clusters !== undefined);
    return CLUSTERS.filter((entry) => selectsCluster(clusters, entry).match).map((entry) => entry.name);
  };

  void test('absent: no cluster selection (this cluster only)', () => {
    assert.equal(rule(cluster(WILDCARD)).push.clusters, undefined);
  });

  void test('names AND selector AND NOT excluded names', () => {
    const push = rule(
      cluster({
        ...WILDCARD,
        clusters: { names: ['*', '!prod-legacy'], selector: { matchLabels: { env: 'prod' } } },
      }),
    ).push;
    assert.deepEqual(clustersOf(push), ['prod-eu']);
    assert.deepEqual(
      clustersOf(
        rule(namespaced({ ...WILDCARD, source: { kind: 'Secret', name: 'x' }, clusters: { names: ['*'] } }))
          .push,
      ),
      ['home', 'prod-eu', 'prod-legacy', 'staging'],
    );
  });

  void test("with clusters, the source's own namespace is a target (in the other clusters)", () => {
    const push = rule(
      cluster({
        source: { kind: 'Secret', namespace: 'team-a', name: 'x' },
        targets: { namespaces: ['team-a'] },
        clusters: { names: ['prod-*'] },
      }),
    ).push;
    assert.deepEqual(reached(push), ['team-a']);
    assert.deepEqual(
      problems(
        cluster({
          source: { kind: 'Secret', namespace: 'team-a', name: 'x' },
          targets: { namespaces: ['team-a'] },
        }),
      ).length,
      1,
    );
  });

  void test('bad clusters are problems naming the field, never a wider rule', () => {
    const bad = (clusters: unknown): string[] => problems(cluster({ ...WILDCARD, clusters }));
    assert.match(bad({})[0] ?? '', /^spec\.clusters: clusters must give names/);
    assert.match(bad({ names: [] })[0] ?? '', /^spec\.clusters: /);
    assert.match(bad({ names: ['prod, staging'] })[0] ?? '', /^spec\.clusters\.names\[0\]: .*commas/);
    assert.match(bad({ names: ['!*'] })[0] ?? '', /^spec\.clusters\.names\[0\]: .*every cluster/);
    assert.match(bad({ names: ['"prod"'] })[0] ?? '', /^spec\.clusters\.names\[0\]: /);
    assert.match(bad({ selector: {} })[0] ?? '', /^spec\.clusters\.selector: an empty clusters\.selector/);
    assert.match(
      bad({ selector: { matchExpressions: [{ key: 'env', operator: 'In' }] } })[0] ?? '',
      /^spec\.clusters\.selector\.matchExpressions\[0\]\.values: /,
    );
    assert.match(bad('prod')[0] ?? '', /^spec\.clusters: must be an object/);
    assert.match(bad({ names: 'prod' })[0] ?? '', /^spec\.clusters\.names: must be a list/);
  });
});

void describe('spec.clusters and push-to-clusters agree', () => {
  void test('property: the same globs select the same clusters, or are refused by both', () => {
    const glob = fc.string({
      unit: fc.constantFrom('a', 'b', '-', '*', '?', ':'),
      minLength: 1,
      maxLength: 4,
    });
    const entry = fc.tuple(fc.boolean(), glob).map(([excluded, text]) => (excluded ? `!${text}` : text));
    const name = fc.string({ unit: fc.constantFrom('a', 'b', '-', ':'), minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(
        fc.array(entry, { minLength: 1, maxLength: 4 }),
        fc.array(name, { maxLength: 5 }),
        (names, clusters) => {
          const converted = cluster({ ...WILDCARD, clusters: { names } });
          const annotated = parseClusterAnnotations(names.join(','), undefined);
          assert.equal(converted.ok, annotated.problems.length === 0);
          if (!converted.ok || annotated.clusters === undefined) return;
          const { clusters: fromSpec } = converted.rule.push;
          assert.ok(fromSpec !== undefined);
          for (const clusterName of clusters) {
            const info = { name: clusterName, labels: {} };
            assert.equal(
              selectsCluster(fromSpec, info).match,
              selectsCluster(annotated.clusters, info).match,
            );
          }
        },
      ),
    );
  });
});
