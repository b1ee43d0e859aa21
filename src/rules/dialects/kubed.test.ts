import assert from 'node:assert/strict';
import { onlyPush, reachedAmong } from '../../testing/spec.ts';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { evaluateFilter } from '../filter.ts';
import { kubed } from '../markers.ts';
import type { NamespaceInfo, PushRule, SourceSpec } from '../model.ts';
import { kubedDialect } from './kubed.ts';

function source(annotations: Record<string, string>): SourceSpec {
  return kubedDialect.parseSource({
    kind: 'ConfigMap',
    namespace: 'demo',
    name: 'omni',
    annotations,
    secretType: undefined,
  });
}

const NAMESPACES: readonly NamespaceInfo[] = [
  { name: 'demo', labels: {}, terminating: false },
  { name: 'other', labels: { app: 'kubed' }, terminating: false },
  { name: 'team-a', labels: { app: 'web', True: '' }, terminating: false },
  { name: 'kube-system', labels: {}, terminating: false },
];
const ALL = NAMESPACES.map((namespace) => namespace.name);
const reachedBy = reachedAmong(NAMESPACES);
const reached = (rule: PushRule): string[] => reachedBy(rule.targets);

const EMPTY: SourceSpec = { push: [], consent: [], unsupported: [], problems: [] };

void describe('kubed sync: which namespaces', () => {
  const cases: readonly [string, string, string[]][] = [
    ['empty means every namespace (kubed documents sync: "")', '', ALL],
    ['blank means every namespace too', '  ', ALL],
    ['"true" means every namespace', 'true', ALL],
    ['" true " (templated whitespace) means every namespace', ' true ', ALL],
    ['a label selector', 'app=kubed', ['other']],
    ['a set-based selector', 'app in (kubed,web)', ['other', 'team-a']],
    [
      'a negated selector also matches namespaces without the label',
      'app!=web',
      ['demo', 'other', 'kube-system'],
    ],
    ['"True" is a selector (label True exists), as in kubed, not a boolean', 'True', ['team-a']],
    ['"false" is a selector too, and selects nothing here', 'false', []],
  ];
  for (const [name, value, want] of cases) {
    void test(name, () => {
      const rule = onlyPush(source({ [kubed.sync]: value }));
      assert.equal(rule.dialect, 'kubed');
      assert.equal(rule.targetName, 'omni');
      assert.deepEqual(reached(rule), want);
      // "everywhere" is said as such, so explain reads "all namespaces", not an empty selector.
      assert.equal(rule.targets.op === 'all', ['', 'true'].includes(value.trim()));
    });
  }

  void test('absent: nothing at all', () => {
    assert.deepEqual(source({}), EMPTY);
    assert.deepEqual(source({ [kubed.origin]: '{"name":"x","namespace":"y"}' }), EMPTY);
  });

  void test('an invalid selector drops the push with a problem', () => {
    const spec = source({ [kubed.sync]: 'app in (kubed' });
    assert.deepEqual(spec.push, []);
    assert.deepEqual(spec.unsupported, []);
    assert.equal(spec.problems.length, 1);
    const [found] = spec.problems;
    assert.ok(found);
    assert.equal(found.dialect, 'kubed');
    assert.equal(found.annotation, kubed.sync);
    assert.match(found.message, /selector "app in \(kubed"/);
  });
});

void describe('kubed sync: what is copied', () => {
  void test('labels and annotations (the planner drops sync and GitOps keys), all keys, no ownerReferences', () => {
    assert.deepEqual(onlyPush(source({ [kubed.sync]: '' })).copy, {
      labels: true,
      annotations: true,
      ownerReferences: false,
      keys: undefined,
    });
  });

  void test('kubed has no pull consent', () => {
    assert.deepEqual(source({ [kubed.sync]: 'true' }).consent, []);
  });
});

void describe('kubed sync-contexts', () => {
  void test('reported as unsupported, not as a problem; the in-cluster copies still apply', () => {
    const spec = source({ [kubed.sync]: 'app=kubed', [kubed.syncContexts]: 'eu-west, us-east' });
    assert.deepEqual(reached(onlyPush(spec)), ['other']);
    assert.deepEqual(spec.problems, []);
    assert.equal(spec.unsupported.length, 1);
    const [found] = spec.unsupported;
    assert.ok(found);
    assert.equal(found.dialect, 'kubed');
    assert.equal(found.annotation, kubed.syncContexts);
    assert.match(found.message, /cross-cluster sync is not enabled in this nsync version/);
    assert.match(found.message, /contexts "eu-west", "us-east"/);
    assert.match(found.message, /copies inside this cluster .* are still made/);
  });

  void test('without sync: only the report, no push', () => {
    const spec = source({ [kubed.syncContexts]: 'eu-west' });
    assert.deepEqual(spec.push, []);
    assert.deepEqual(spec.problems, []);
    assert.equal(spec.unsupported.length, 1);
    assert.match(spec.unsupported[0]?.message ?? '', /the context "eu-west"$/);
  });

  void test('with an invalid sync: the problem and the report, and no claim that copies are made', () => {
    const spec = source({ [kubed.sync]: '=', [kubed.syncContexts]: 'eu-west' });
    assert.equal(spec.problems.length, 1);
    assert.equal(spec.unsupported.length, 1);
    assert.doesNotMatch(spec.unsupported[0]?.message ?? '', /still made/);
  });

  void test('blank or only commas: nothing to report', () => {
    for (const contexts of ['', ' ', ', ,']) {
      assert.deepEqual(source({ [kubed.syncContexts]: contexts }), EMPTY, JSON.stringify(contexts));
      assert.deepEqual(source({ [kubed.sync]: '', [kubed.syncContexts]: contexts }).unsupported, []);
    }
  });

  void test('a long list is summarised', () => {
    const contexts = Array.from({ length: 9 }, (_, index) => `c${index}`).join(',');
    const message = source({ [kubed.syncContexts]: contexts }).unsupported[0]?.message ?? '';
    assert.match(message, /"c4" and 4 more$/);
    assert.doesNotMatch(message, /"c5"/);
  });
});

void describe('kubed target', () => {
  void test('nothing a target carries asks kubed to fill it', () => {
    for (const annotations of [
      {},
      { [kubed.sync]: '' },
      { [kubed.origin]: '{"name":"omni","namespace":"demo"}' },
    ]) {
      assert.deepEqual(kubedDialect.parseTarget({ kind: 'Secret', annotations, secretType: undefined }), {
        claim: undefined,
        pull: undefined,
        problems: [],
      });
    }
  });
});

void describe('properties', () => {
  void test('parsing never throws on arbitrary annotation maps, and every rule evaluates', () => {
    const keys = Object.values(kubed);
    const valueArb = fc.oneof(
      fc.constantFrom('', 'true', 'app=kubed', 'a,b'),
      fc.string({ unit: 'binary', maxLength: 60 }),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 12 })), valueArb),
        (annotations) => {
          const spec = source(annotations);
          for (const rule of spec.push)
            for (const namespace of NAMESPACES) evaluateFilter(rule.targets, namespace);
          // sync present: a push rule, or a problem saying why not.
          if (Object.hasOwn(annotations, kubed.sync))
            assert.equal(spec.push.length + spec.problems.length, 1);
          else assert.deepEqual(spec.push, []);
          kubedDialect.parseTarget({ kind: 'ConfigMap', annotations, secretType: undefined });
        },
      ),
      { numRuns: 500 },
    );
  });
});
