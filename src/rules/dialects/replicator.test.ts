import assert from 'node:assert/strict';
import { onlyConsent, onlyPush, reachedAmong } from '../../testing/spec.ts';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { evaluateFilter } from '../filter.ts';
import { replicator } from '../markers.ts';
import type { Kind, NamespaceInfo, SourceSpec } from '../model.ts';
import { replicatorDialect } from './replicator.ts';

function source(annotations: Record<string, string>, kind: Kind = 'Secret'): SourceSpec {
  return replicatorDialect.parseSource({
    kind,
    namespace: 'platform',
    name: 'registry',
    annotations,
    secretType: kind === 'Secret' ? 'kubernetes.io/dockerconfigjson' : undefined,
  });
}

function target(annotations: Record<string, string>) {
  return replicatorDialect.parseTarget({ kind: 'Secret', annotations, secretType: undefined });
}

const NAMESPACES: readonly NamespaceInfo[] = [
  { name: 'foo', labels: { team: 'a' }, terminating: false },
  { name: 'foobar', labels: {}, terminating: false },
  { name: 'xfoobar', labels: {}, terminating: false },
  { name: 'app-ns-12', labels: { replicate: 'yes' }, terminating: false },
  { name: 'team-1', labels: { replicate: 'yes', team: 'b' }, terminating: false },
  { name: 'platform', labels: {}, terminating: false },
];
const ALL = NAMESPACES.map((namespace) => namespace.name);
const reached = reachedAmong(NAMESPACES);
const consentNamespaces = (spec: SourceSpec): string[] => reached(onlyConsent(spec, 'replicator'));

function problemKeys(spec: SourceSpec): string[] {
  return spec.problems.map((found) => {
    assert.equal(found.dialect, 'replicator');
    return found.annotation;
  });
}

const EMPTY: SourceSpec = { push: [], consent: [], unsupported: [], problems: [] };

void describe('replicator push: which namespaces', () => {
  const cases: readonly {
    readonly name: string;
    readonly annotations: Record<string, string>;
    readonly want: string[];
  }[] = [
    { name: 'a plain name is anchored', annotations: { [replicator.replicateTo]: 'foo' }, want: ['foo'] },
    {
      name: 'explicit anchors are accepted',
      annotations: { [replicator.replicateTo]: '^foo$' },
      want: ['foo'],
    },
    {
      name: 'a list of regexes, entries trimmed',
      annotations: { [replicator.replicateTo]: ' foo , app-ns-[0-9]* ' },
      want: ['foo', 'app-ns-12'],
    },
    {
      name: 'alternation stays inside the anchors (replicator let `foo|bar` match `foobar…`)',
      annotations: { [replicator.replicateTo]: 'foo|team-1' },
      want: ['foo', 'team-1'],
    },
    {
      name: 'a lone * is every namespace (the planner skips the source namespace)',
      annotations: { [replicator.replicateTo]: '*' },
      want: ALL,
    },
    {
      name: 'replicate-to-matching alone',
      annotations: { [replicator.replicateToMatching]: 'replicate=yes' },
      want: ['app-ns-12', 'team-1'],
    },
    {
      name: 'both: a namespace qualifies if EITHER matches',
      annotations: { [replicator.replicateTo]: 'foo', [replicator.replicateToMatching]: 'team=b' },
      want: ['foo', 'team-1'],
    },
    {
      name: 'a selector with set syntax',
      annotations: { [replicator.replicateToMatching]: 'team in (a,b), !replicate' },
      want: ['foo'],
    },
  ];
  for (const { name, annotations, want } of cases) {
    void test(name, () => {
      const rule = onlyPush(source(annotations));
      assert.equal(rule.dialect, 'replicator');
      assert.equal(rule.targetName, 'registry');
      assert.deepEqual(reached(rule.targets), want);
    });
  }

  void test('nothing to push: absent, blank, or a list of only commas', () => {
    for (const annotations of [
      {},
      { [replicator.replicateTo]: '' },
      { [replicator.replicateTo]: '  ' },
      { [replicator.replicateTo]: ' , ,' },
      { [replicator.replicateToMatching]: ' ' },
      { [replicator.stripLabels]: 'true', [replicator.keepOwnerReferences]: 'maybe' },
    ]) {
      assert.deepEqual(source(annotations), EMPTY, JSON.stringify(annotations));
    }
  });
});

void describe('replicator push: what is copied', () => {
  void test('by default: labels and all keys, no annotations, no ownerReferences', () => {
    assert.deepEqual(onlyPush(source({ [replicator.replicateTo]: 'foo' })).copy, {
      labels: true,
      annotations: false,
      ownerReferences: false,
      keys: undefined,
    });
  });

  const flags: readonly [string, string, boolean][] = [
    ['strip-labels', 'true', false],
    ['strip-labels', '1', false],
    ['strip-labels', 'T', false],
    ['strip-labels', 'false', true],
    ['strip-labels', 'F', true],
  ];
  for (const [flag, value, labels] of flags) {
    void test(`${flag}: ${JSON.stringify(value)} → labels ${labels ? 'copied' : 'stripped'}`, () => {
      const rule = onlyPush(source({ [replicator.replicateTo]: 'foo', [replicator.stripLabels]: value }));
      assert.equal(rule.copy.labels, labels);
    });
  }

  void test('keep-owner-references "true" copies ownerReferences', () => {
    const rule = onlyPush(
      source({ [replicator.replicateToMatching]: 'team=a', [replicator.keepOwnerReferences]: 'true' }),
    );
    assert.equal(rule.copy.ownerReferences, true);
    assert.equal(rule.copy.labels, true);
  });

  void test('an invalid flag value drops the push rule with a problem naming the annotation', () => {
    for (const key of [replicator.stripLabels, replicator.keepOwnerReferences]) {
      for (const value of ['yes', ' true', 'on']) {
        const spec = source({ [replicator.replicateTo]: 'foo', [key]: value });
        assert.deepEqual(spec.push, []);
        assert.deepEqual(problemKeys(spec), [key]);
        assert.match(spec.problems[0]?.message ?? '', /is not a boolean/);
      }
    }
  });
});

void describe('replicator push: invalid values', () => {
  void test('an invalid regex drops the push with a problem, even when the selector is fine', () => {
    const spec = source({ [replicator.replicateTo]: 'foo,(', [replicator.replicateToMatching]: 'team=a' });
    assert.deepEqual(spec.push, []);
    assert.deepEqual(problemKeys(spec), [replicator.replicateTo]);
    assert.match(spec.problems[0]?.message ?? '', /"\(" is not a valid regular expression/);
  });

  void test('a glob-style *-prod is reported with a hint, not silently skipped', () => {
    const spec = source({ [replicator.replicateTo]: '*-prod' });
    assert.deepEqual(spec.push, []);
    assert.match(spec.problems[0]?.message ?? '', /"\.\*"/);
  });

  void test('an invalid selector drops the push, even when the list is fine', () => {
    const spec = source({ [replicator.replicateTo]: 'foo', [replicator.replicateToMatching]: 'team in' });
    assert.deepEqual(spec.push, []);
    assert.deepEqual(problemKeys(spec), [replicator.replicateToMatching]);
  });

  void test('both invalid: both reported', () => {
    const spec = source({ [replicator.replicateTo]: '[', [replicator.replicateToMatching]: '=x' });
    assert.deepEqual(problemKeys(spec), [replicator.replicateTo, replicator.replicateToMatching]);
  });

  void test('an object that is itself a replica (replicate-from) never pushes, and says so', () => {
    const spec = source({ [replicator.replicateTo]: 'foo', [replicator.replicateFrom]: 'platform/x' });
    assert.deepEqual(spec.push, []);
    assert.deepEqual(problemKeys(spec), [replicator.replicateTo]);
    assert.match(spec.problems[0]?.message ?? '', /never pushes an object that is itself a replica/);
    const bySelector = source({ [replicator.replicateToMatching]: 'a=b', [replicator.replicateFrom]: 'p/x' });
    assert.deepEqual(problemKeys(bySelector), [replicator.replicateToMatching]);
  });

  void test('a bad consent does not stop a good push, and the other way round', () => {
    const badConsent = source({
      [replicator.replicateTo]: 'foo',
      [replicator.allowed]: 'true',
      [replicator.allowedNamespaces]: '(',
    });
    assert.deepEqual(reached(onlyPush(badConsent).targets), ['foo']);
    assert.deepEqual(badConsent.consent, []);
    const badPush = source({
      [replicator.replicateTo]: '(',
      [replicator.allowed]: 'true',
      [replicator.allowedNamespaces]: 'foo',
    });
    assert.deepEqual(badPush.push, []);
    assert.deepEqual(consentNamespaces(badPush), ['foo']);
  });
});

void describe('replicator consent', () => {
  void test('allowed and allowed-namespaces: whole-name regexes', () => {
    const spec = source({ [replicator.allowed]: 'true', [replicator.allowedNamespaces]: 'foo,team-[0-9]+' });
    assert.deepEqual(consentNamespaces(spec), ['foo', 'team-1']);
    assert.deepEqual(spec.push, []);
    assert.deepEqual(spec.problems, []);
  });

  void test('Go booleans grant: 1, t, T, TRUE, True, true', () => {
    for (const allowed of ['1', 't', 'T', 'TRUE', 'True', 'true']) {
      const spec = source({ [replicator.allowed]: allowed, [replicator.allowedNamespaces]: '.*' });
      assert.deepEqual(consentNamespaces(spec), ALL, allowed);
    }
  });

  void test('ConfigMaps need consent exactly like Secrets (replicator skipped the check)', () => {
    assert.deepEqual(source({ [replicator.allowedNamespaces]: '.*' }, 'ConfigMap'), EMPTY);
    const spec = source({ [replicator.allowed]: 'true', [replicator.allowedNamespaces]: 'foo' }, 'ConfigMap');
    assert.deepEqual(consentNamespaces(spec), ['foo']);
  });

  void test('missing or false allowed: no consent, no problem (the namespaces are inert)', () => {
    for (const annotations of [
      { [replicator.allowedNamespaces]: '.*' },
      { [replicator.allowed]: 'false', [replicator.allowedNamespaces]: '.*' },
      { [replicator.allowed]: '0', [replicator.allowedNamespaces]: '(' },
      { [replicator.allowed]: '', [replicator.allowedNamespaces]: '.*' },
    ]) {
      assert.deepEqual(source(annotations), EMPTY, JSON.stringify(annotations));
    }
  });

  void test('an invalid allowed value denies, with a problem', () => {
    for (const allowed of ['yes', ' true', 'on', 'tRUE']) {
      const spec = source({ [replicator.allowed]: allowed, [replicator.allowedNamespaces]: '.*' });
      assert.deepEqual(spec.consent, []);
      assert.deepEqual(problemKeys(spec), [replicator.allowed]);
    }
  });

  void test('allowed without a namespace list denies, with a problem (replicator denied too)', () => {
    for (const list of [undefined, '', ' , ']) {
      const annotations: Record<string, string> = { [replicator.allowed]: 'true' };
      if (list !== undefined) annotations[replicator.allowedNamespaces] = list;
      const spec = source(annotations);
      assert.deepEqual(spec.consent, [], JSON.stringify(list));
      assert.deepEqual(problemKeys(spec), [replicator.allowedNamespaces]);
      assert.match(spec.problems[0]?.message ?? '', /no namespace may pull/);
    }
  });

  void test('an invalid regex in the list denies, with a problem', () => {
    const spec = source({ [replicator.allowed]: 'true', [replicator.allowedNamespaces]: 'foo,a[b' });
    assert.deepEqual(spec.consent, []);
    assert.deepEqual(problemKeys(spec), [replicator.allowedNamespaces]);
  });
});

void describe('replicator target', () => {
  void test('replicate-from "<namespace>/<name>" asks to be filled, all keys', () => {
    assert.deepEqual(target({ [replicator.replicateFrom]: ' platform/registry ' }), {
      claim: replicator.replicateFrom,
      pull: { dialect: 'replicator', source: { namespace: 'platform', name: 'registry' }, keys: undefined },
      problems: [],
    });
  });

  void test('a bare name is invalid (replicator rejects it too) and still claims the object', () => {
    const result = target({ [replicator.replicateFrom]: 'registry' });
    assert.equal(result.claim, replicator.replicateFrom);
    assert.equal(result.pull, undefined);
    assert.equal(result.problems.length, 1);
    const [found] = result.problems;
    assert.ok(found);
    assert.equal(found.annotation, replicator.replicateFrom);
    assert.match(found.message, /"registry" names no namespace/);
  });

  const invalid: readonly [string, RegExp][] = [
    ['a/b/c', /not of the form "<namespace>\/<name>"/],
    ['/name', /not of the form/],
    ['Platform/registry', /namespace "Platform"/],
    ['platform/Registry_1', /name "Registry_1"/],
  ];
  for (const [value, message] of invalid) {
    void test(`${JSON.stringify(value)} is reported`, () => {
      const result = target({ [replicator.replicateFrom]: value });
      assert.equal(result.claim, replicator.replicateFrom);
      assert.equal(result.pull, undefined);
      assert.match(result.problems[0]?.message ?? '', message);
    });
  }

  void test('absent or blank: no claim', () => {
    for (const annotations of [
      {},
      { [replicator.replicateFrom]: ' ' },
      { [replicator.replicateTo]: 'foo' },
    ]) {
      assert.deepEqual(target(annotations), { claim: undefined, pull: undefined, problems: [] });
    }
  });

  void test('the replica markers alone do not ask for anything', () => {
    assert.equal(
      target({ [replicator.replicatedFromVersion]: '12', [replicator.replicatedKeys]: 'a' }).claim,
      undefined,
    );
  });
});

void describe('properties', () => {
  const keys = Object.values(replicator);
  const valueArb = fc.oneof(
    fc.constantFrom('true', '1', '*', 'foo', 'a=b', 'ns/name', ''),
    fc.string({ unit: 'binary', maxLength: 60 }),
  );

  void test('parsing never throws on arbitrary annotation maps, and every rule evaluates', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 12 })), valueArb),
        fc.constantFrom<Kind>('Secret', 'ConfigMap'),
        (annotations, kind) => {
          const spec = source(annotations, kind);
          for (const rule of spec.push)
            for (const namespace of NAMESPACES) evaluateFilter(rule.targets, namespace);
          for (const consent of spec.consent)
            for (const namespace of NAMESPACES) evaluateFilter(consent.namespaces, namespace);
          // A rule is either in force or reported, never both silently dropped and unreported.
          if (readable(annotations, replicator.replicateTo) && spec.push.length === 0) {
            assert.ok(spec.problems.length > 0);
          }
          target(annotations);
        },
      ),
      { numRuns: 500 },
    );
  });

  const wordArb = fc.string({
    unit: fc.constantFrom('a', 'b', 'o', 'f', '-', '1'),
    minLength: 1,
    maxLength: 8,
  });
  const affixArb = fc.string({ unit: fc.constantFrom('x', 'a', 'b', '-', '9'), maxLength: 4 });

  void test('anchoring: a name never matches a longer name containing it (replicate-to and consent)', () => {
    fc.assert(
      fc.property(wordArb, affixArb, affixArb, (word, prefix, suffix) => {
        fc.pre(prefix.length + suffix.length > 0);
        const longer: NamespaceInfo = { name: `${prefix}${word}${suffix}`, labels: {}, terminating: false };
        const exact: NamespaceInfo = { name: word, labels: {}, terminating: false };
        const push = onlyPush(source({ [replicator.replicateTo]: word }));
        assert.equal(evaluateFilter(push.targets, exact).match, true);
        assert.equal(evaluateFilter(push.targets, longer).match, false);
        const spec = source({ [replicator.allowed]: 'true', [replicator.allowedNamespaces]: word });
        const [consent] = spec.consent;
        assert.ok(consent);
        assert.equal(evaluateFilter(consent.namespaces, exact).match, true);
        assert.equal(evaluateFilter(consent.namespaces, longer).match, false);
      }),
      { numRuns: 300 },
    );
  });
});

/** Whether an annotation holds a non-blank list entry (what makes a push requested). */
function readable(annotations: Record<string, string>, key: string): boolean {
  return (
    Object.hasOwn(annotations, key) && (annotations[key] ?? '').split(',').some((part) => part.trim() !== '')
  );
}
