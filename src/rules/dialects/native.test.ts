import assert from 'node:assert/strict';
import { onlyConsent, onlyPush, reachedAmong } from '../../testing/spec.ts';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { selectsCluster } from '../clusters.ts';
import { evaluateFilter } from '../filter.ts';
import { native } from '../markers.ts';
import type { NamespaceInfo, SourceSpec } from '../model.ts';
import type { SourceContext } from './adapter.ts';
import { nativeDialect, parseKeyList } from './native.ts';

function source(annotations: Record<string, string>, name = 'app-config'): SourceSpec {
  const context: SourceContext = {
    kind: 'Secret',
    namespace: 'platform',
    name,
    annotations,
    secretType: 'Opaque',
  };
  return nativeDialect.parseSource(context);
}

const NAMESPACES: readonly NamespaceInfo[] = [
  { name: 'team-a', labels: { env: 'prod' }, terminating: false },
  { name: 'team-b', labels: { env: 'dev' }, terminating: false },
  { name: 'team-legacy', labels: { env: 'prod' }, terminating: false },
  { name: 'prod', labels: {}, terminating: false },
  { name: 'kube-system', labels: {}, terminating: false },
  { name: 'xteam-a', labels: { env: 'prod' }, terminating: false },
];
const reached = reachedAmong(NAMESPACES);

void describe('native push', () => {
  void test('no native annotation: no rule, no problem', () => {
    assert.deepEqual(source({ 'other.io/x': 'y' }), { push: [], consent: [], unsupported: [], problems: [] });
  });

  void test('globs with exclusions', () => {
    const rule = onlyPush(source({ [native.pushTo]: 'team-*, prod, !team-legacy' }));
    assert.deepEqual(reached(rule.targets), ['team-a', 'team-b', 'prod']);
  });

  void test('only exclusions: every namespace but those', () => {
    const rule = onlyPush(source({ [native.pushTo]: '!kube-system, !team-*' }));
    assert.deepEqual(reached(rule.targets), ['prod', 'xteam-a']);
  });

  void test('a selector alone', () => {
    const rule = onlyPush(source({ [native.pushToSelector]: 'env=prod' }));
    assert.deepEqual(reached(rule.targets), ['team-a', 'team-legacy', 'xteam-a']);
  });

  void test('globs AND selector AND NOT exclusions', () => {
    const rule = onlyPush(
      source({ [native.pushTo]: 'team-*, !team-legacy', [native.pushToSelector]: 'env=prod' }),
    );
    assert.deepEqual(reached(rule.targets), ['team-a']);
  });

  void test('exclusions with a selector', () => {
    const rule = onlyPush(
      source({ [native.pushTo]: '!team-legacy', [native.pushToSelector]: 'env in (prod)' }),
    );
    assert.deepEqual(reached(rule.targets), ['team-a', 'xteam-a']);
  });

  void test('* pushes everywhere', () => {
    const rule = onlyPush(source({ [native.pushTo]: '*' }));
    assert.deepEqual(
      reached(rule.targets),
      NAMESPACES.map((namespace) => namespace.name),
    );
  });

  void test('defaults: same name, content only, all keys', () => {
    const rule = onlyPush(source({ [native.pushTo]: 'prod' }, 'wildcard-tls'));
    assert.equal(rule.dialect, 'native');
    assert.equal(rule.targetName, 'wildcard-tls');
    assert.deepEqual(rule.copy, {
      labels: false,
      annotations: false,
      ownerReferences: false,
      keys: undefined,
    });
  });

  void test('target-name, keys, copy-labels and copy-annotations', () => {
    const rule = onlyPush(
      source({
        [native.pushTo]: 'prod',
        [native.targetName]: ' shared.tls ',
        [native.keys]: 'tls.key, ca.crt, tls.crt, ca.crt',
        [native.copyLabels]: 'TRUE',
        [native.copyAnnotations]: 'true',
      }),
    );
    assert.equal(rule.targetName, 'shared.tls');
    assert.deepEqual(rule.copy, {
      labels: true,
      annotations: true,
      ownerReferences: false,
      keys: ['ca.crt', 'tls.crt', 'tls.key'],
    });
  });

  void test('blank values mean "not set", never "everywhere"', () => {
    assert.deepEqual(source({ [native.pushTo]: '  ' }).push, []);
    assert.deepEqual(source({ [native.pushToSelector]: '' }).push, []);
    assert.deepEqual(source({ [native.pushTo]: ' , ,' }).push, []);
    const selectorOnly = onlyPush(source({ [native.pushTo]: ',', [native.pushToSelector]: 'env=dev' }));
    assert.deepEqual(reached(selectorOnly.targets), ['team-b']);
    assert.deepEqual(onlyPush(source({ [native.pushTo]: 'prod', [native.keys]: ' ' })).copy.keys, undefined);
  });

  const invalid: readonly [annotations: Record<string, string>, annotation: string, reason: RegExp][] = [
    [{ [native.pushTo]: 'team-*, Prod' }, native.pushTo, /"Prod" can never match a namespace/],
    [{ [native.pushTo]: '“team-a”' }, native.pushTo, /typographic quote/],
    [{ [native.pushTo]: 'team-a, !' }, native.pushTo, /"!" must be followed/],
    [{ [native.pushToSelector]: 'env in (prod' }, native.pushToSelector, /expected a value/],
    [
      { [native.pushTo]: 'prod', [native.targetName]: 'Shared_TLS' },
      native.targetName,
      /"Shared_TLS": a name has only/,
    ],
    [{ [native.pushTo]: 'prod', [native.targetName]: 'x'.repeat(254) }, native.targetName, /at most 253/],
    [{ [native.pushTo]: 'prod', [native.keys]: 'tls.crt, a/b' }, native.keys, /key "a\/b"/],
    [{ [native.pushTo]: 'prod', [native.copyLabels]: 'yes' }, native.copyLabels, /"yes" is not a boolean/],
    [{ [native.pushTo]: 'prod', [native.copyAnnotations]: '1' }, native.copyAnnotations, /not a boolean/],
  ];
  for (const [annotations, annotation, reason] of invalid) {
    void test(`invalid ${JSON.stringify(annotations).slice(0, 70)} drops the push rule with a problem`, () => {
      const spec = source(annotations);
      assert.deepEqual(spec.push, []);
      assert.equal(spec.problems.length, 1, JSON.stringify(spec.problems));
      const [found] = spec.problems;
      assert.ok(found);
      assert.equal(found.dialect, 'native');
      assert.equal(found.annotation, annotation);
      assert.match(found.message, reason);
    });
  }

  void test('a key subset of a typed Secret must keep the keys its type requires', () => {
    const tls = (keys: string): SourceSpec =>
      nativeDialect.parseSource({
        kind: 'Secret',
        namespace: 'cert-manager',
        name: 'wildcard-tls',
        annotations: { [native.pushTo]: 'prod', [native.keys]: keys },
        secretType: 'kubernetes.io/tls',
      });
    const spec = tls('ca.crt, tls.crt');
    assert.deepEqual(spec.push, []);
    assert.deepEqual(
      spec.problems.map((found) => [found.annotation, found.message]),
      [[native.keys, 'a kubernetes.io/tls Secret must keep "tls.key"; list it too']],
    );
    assert.equal(tls('tls.crt, tls.key').push.length, 1);
    assert.equal(source({ [native.pushTo]: 'prod', [native.keys]: 'ca.crt' }).push.length, 1);
  });

  void test('every invalid annotation of a rule is reported, not only the first', () => {
    const spec = source({ [native.pushTo]: 'Prod', [native.copyLabels]: 'yes', [native.keys]: 'a b' });
    assert.deepEqual(
      spec.problems.map((found) => found.annotation).sort(),
      [native.copyLabels, native.keys, native.pushTo].sort(),
    );
  });

  void test('push modifiers without a push ask for nothing and drop nothing', () => {
    const annotations = { [native.targetName]: 'x', [native.copyLabels]: 'yes', [native.keys]: 'a/b' };
    assert.deepEqual(source(annotations), { push: [], consent: [], unsupported: [], problems: [] });
  });
});

void describe('native pull consent', () => {
  void test('no consent annotation: no consent entry', () => {
    assert.deepEqual(source({ [native.pushTo]: 'prod' }).consent, []);
  });

  void test('globs with exclusions', () => {
    assert.deepEqual(
      reached(onlyConsent(source({ [native.pullAllowed]: 'team-*, !team-legacy' }), 'native')),
      ['team-a', 'team-b'],
    );
  });

  void test('selector AND globs AND NOT exclusions', () => {
    const consent = onlyConsent(
      source({ [native.pullAllowed]: 'team-*, !team-legacy', [native.pullAllowedSelector]: 'env=prod' }),
      'native',
    );
    assert.deepEqual(reached(consent), ['team-a']);
  });

  void test('a selector alone', () => {
    assert.deepEqual(reached(onlyConsent(source({ [native.pullAllowedSelector]: '!env' }), 'native')), [
      'prod',
      'kube-system',
    ]);
  });

  void test('an invalid consent drops the consent only; the push still applies', () => {
    const spec = source({ [native.pushTo]: 'prod', [native.pullAllowed]: 'Team-*' });
    assert.deepEqual(spec.consent, []);
    assert.equal(spec.push.length, 1);
    assert.deepEqual(
      spec.problems.map((found) => found.annotation),
      [native.pullAllowed],
    );
  });

  void test('an invalid push drops the push only; the consent still applies', () => {
    const spec = source({ [native.pushTo]: 'Prod', [native.pullAllowed]: 'team-a' });
    assert.deepEqual(spec.push, []);
    assert.deepEqual(reached(onlyConsent(spec, 'native')), ['team-a']);
  });
});

void describe('native pull target', () => {
  void test('pull-from names the source', () => {
    assert.deepEqual(
      nativeDialect.parseTarget({
        secretType: undefined,
        kind: 'ConfigMap',
        annotations: { [native.pullFrom]: ' platform/ca-bundle ' },
      }),
      {
        claim: native.pullFrom,
        pull: { dialect: 'native', source: { namespace: 'platform', name: 'ca-bundle' }, keys: undefined },
        problems: [],
      },
    );
  });

  void test('keys narrows what is pulled', () => {
    const result = nativeDialect.parseTarget({
      secretType: undefined,
      kind: 'Secret',
      annotations: { [native.pullFrom]: 'platform/wildcard-tls', [native.keys]: 'tls.key,tls.crt' },
    });
    assert.deepEqual(result.pull?.keys, ['tls.crt', 'tls.key']);
  });

  void test('no pull-from: no claim', () => {
    assert.deepEqual(
      nativeDialect.parseTarget({
        secretType: undefined,
        kind: 'Secret',
        annotations: { [native.keys]: 'a' },
      }),
      {
        claim: undefined,
        pull: undefined,
        problems: [],
      },
    );
  });

  for (const text of ['platform', 'a/b/c', '/x', 'x/', 'Platform/x', 'platform/X_Y', `${'n'.repeat(64)}/x`]) {
    void test(`malformed pull-from ${JSON.stringify(text)} is a problem and still claims the object`, () => {
      const result = nativeDialect.parseTarget({
        secretType: undefined,
        kind: 'Secret',
        annotations: { [native.pullFrom]: text },
      });
      assert.equal(result.claim, native.pullFrom);
      assert.equal(result.pull, undefined);
      assert.equal(result.problems.length, 1);
      assert.equal(result.problems[0]?.annotation, native.pullFrom);
    });
  }

  void test('invalid keys drop the pull with a problem', () => {
    const result = nativeDialect.parseTarget({
      secretType: undefined,
      kind: 'Secret',
      annotations: { [native.pullFrom]: 'a/b', [native.keys]: '..secret' },
    });
    assert.equal(result.pull, undefined);
    assert.deepEqual(
      result.problems.map((found) => found.annotation),
      [native.keys],
    );
  });
});

void describe('parseKeyList', () => {
  void test('blank means all keys; entries are deduplicated and sorted', () => {
    assert.deepEqual(parseKeyList(' , '), { ok: true, value: undefined });
    assert.deepEqual(parseKeyList('b, a ,b'), { ok: true, value: ['a', 'b'] });
  });
});

void describe('properties', () => {
  const nameArb = fc
    .string({ unit: fc.constantFrom('a', 'b', '-'), minLength: 1, maxLength: 5 })
    .map((text) => `n${text}`);
  const globArb = fc.string({ unit: fc.constantFrom('a', 'b', '-', '*', '?'), minLength: 1, maxLength: 5 });

  /** Oracle: plain recursion over the glob, independent of the compiled matcher. */
  function globMatches(glob: string, name: string): boolean {
    if (glob === '') return name === '';
    const head = glob.charAt(0);
    const rest = glob.slice(1);
    if (head === '*')
      return [...Array(name.length + 1).keys()].some((skip) => globMatches(rest, name.slice(skip)));
    return name !== '' && (head === '?' || head === name.charAt(0)) && globMatches(rest, name.slice(1));
  }

  void test('push-to reaches a namespace iff (no includes or an include matches) and no exclusion matches', () => {
    fc.assert(
      fc.property(
        fc.array(globArb, { maxLength: 3 }),
        fc.array(globArb, { maxLength: 3 }),
        nameArb,
        (includes, excludes, name) => {
          fc.pre(includes.length + excludes.length > 0);
          const text = [...includes, ...excludes.map((glob) => `!${glob}`)].join(', ');
          const rule = onlyPush(source({ [native.pushTo]: text }));
          const expected =
            (includes.length === 0 || includes.some((glob) => globMatches(glob, name))) &&
            !excludes.some((glob) => globMatches(glob, name));
          assert.equal(
            evaluateFilter(rule.targets, { name, labels: {}, terminating: false }).match,
            expected,
            `${text} vs ${name}`,
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  void test('native parsing never throws on arbitrary annotation values', () => {
    const keys = Object.values(native);
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...keys), fc.string({ unit: 'binary', maxLength: 60 })),
        (annotations) => {
          const spec = source(annotations);
          for (const found of spec.problems)
            assert.ok(found.message.length > 0 && found.message.length < 1000);
          nativeDialect.parseTarget({ secretType: undefined, kind: 'ConfigMap', annotations });
        },
      ),
      { numRuns: 500 },
    );
  });
});

void describe('native push to clusters', () => {
  const HOME = { name: 'home', labels: {} };
  const PROD = { name: 'prod-eu', labels: { env: 'prod' } };

  void test('push-to-clusters with push-to: the namespace targets stay, the clusters are added', () => {
    const rule = onlyPush(source({ [native.pushTo]: 'team-*', [native.pushToClusters]: 'prod-*' }));
    assert.deepEqual(reached(rule.targets), ['team-a', 'team-b', 'team-legacy']);
    assert.ok(rule.clusters !== undefined);
    assert.equal(selectsCluster(rule.clusters, PROD).match, true);
    assert.equal(selectsCluster(rule.clusters, HOME).match, false);
  });

  void test('clusters without namespace targets: the source namespace in each cluster (as kubed)', () => {
    const rule = onlyPush(source({ [native.pushToClustersSelector]: 'env=prod' }));
    assert.deepEqual(
      reachedAmong([...NAMESPACES, { name: 'platform', labels: {}, terminating: false }])(rule.targets),
      ['platform'],
    );
    assert.ok(rule.clusters !== undefined);
    assert.equal(selectsCluster(rule.clusters, PROD).match, true);
  });

  void test('no cluster annotation: no selection (this cluster only)', () => {
    assert.equal(onlyPush(source({ [native.pushTo]: 'prod' })).clusters, undefined);
  });

  void test('a bad cluster glob or selector drops the push rule with a problem, never widens it', () => {
    for (const annotations of [
      { [native.pushTo]: 'prod', [native.pushToClusters]: 'prod-*, !' },
      { [native.pushTo]: 'prod', [native.pushToClustersSelector]: 'env in (prod' },
      { [native.pushToClusters]: '“prod”' },
    ]) {
      const spec = source(annotations);
      assert.deepEqual(spec.push, []);
      assert.equal(spec.problems.length, 1, JSON.stringify(spec.problems));
      assert.match(spec.problems[0]?.annotation ?? '', /push-to-clusters/);
    }
  });
});
