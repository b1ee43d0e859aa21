import assert from 'node:assert/strict';
import { onlyConsent, onlyPush, reachedAmong } from '../../testing/spec.ts';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { evaluateFilter } from '../filter.ts';
import { mirrorClaim, reflector } from '../markers.ts';
import type { NamespaceInfo, SourceSpec } from '../model.ts';
import { reflectorDialect } from './reflector.ts';

function source(annotations: Record<string, string>, name = 'wildcard-tls'): SourceSpec {
  return reflectorDialect.parseSource({
    kind: 'Secret',
    namespace: 'cert-manager',
    name,
    annotations,
    secretType: 'kubernetes.io/tls',
  });
}

const NAMESPACES: readonly NamespaceInfo[] = [
  { name: 'ns-a', labels: { mirror: 'yes' }, terminating: false },
  { name: 'ns-b', labels: {}, terminating: false },
  { name: 'xns-a', labels: {}, terminating: false },
  { name: 'team-1', labels: { mirror: 'yes' }, terminating: false },
  { name: 'other', labels: { auto: 'on' }, terminating: false },
];
const ALL = NAMESPACES.map((namespace) => namespace.name);
const reached = reachedAmong(NAMESPACES);
const consentNamespaces = (spec: SourceSpec): string[] => reached(onlyConsent(spec, 'reflector'));

const EMPTY: SourceSpec = { push: [], consent: [], unsupported: [], problems: [] };

void describe('reflector source: reflection-allowed', () => {
  void test('absent or not "true": nothing, whatever else is set', () => {
    for (const allowed of [undefined, 'false', 'yes', '1', '']) {
      const annotations: Record<string, string> = {
        [reflector.autoEnabled]: 'true',
        [reflector.allowedNamespaces]: '(',
      };
      if (allowed !== undefined) annotations[reflector.allowed] = allowed;
      assert.deepEqual(source(annotations), EMPTY, String(allowed));
    }
  });

  void test('"true" in any case consents for every namespace when no list or selector is given', () => {
    for (const allowed of ['true', 'True', 'TRUE', ' true ']) {
      const spec = source({ [reflector.allowed]: allowed });
      assert.deepEqual(consentNamespaces(spec), ALL);
      assert.deepEqual(spec.push, []);
    }
  });

  void test('allowed-namespaces is a whole-name regex list', () => {
    const spec = source({ [reflector.allowed]: 'true', [reflector.allowedNamespaces]: 'ns-a, team-.*' });
    assert.deepEqual(consentNamespaces(spec), ['ns-a', 'team-1']);
  });

  void test('a lone * is every namespace', () => {
    assert.deepEqual(
      consentNamespaces(source({ [reflector.allowed]: 'true', [reflector.allowedNamespaces]: '*' })),
      ALL,
    );
  });

  void test('allowed-namespaces-selector alone', () => {
    const spec = source({ [reflector.allowed]: 'true', [reflector.allowedNamespacesSelector]: 'mirror=yes' });
    assert.deepEqual(consentNamespaces(spec), ['ns-a', 'team-1']);
  });

  void test('list OR selector', () => {
    const spec = source({
      [reflector.allowed]: 'true',
      [reflector.allowedNamespaces]: 'ns-b',
      [reflector.allowedNamespacesSelector]: 'mirror=yes',
    });
    assert.deepEqual(consentNamespaces(spec), ['ns-a', 'ns-b', 'team-1']);
  });

  void test('an empty list (only commas) means every namespace', () => {
    assert.deepEqual(
      consentNamespaces(source({ [reflector.allowed]: 'true', [reflector.allowedNamespaces]: ' , ' })),
      ALL,
    );
  });
});

void describe('reflector source: auto push', () => {
  void test('auto-enabled without allowed does nothing', () => {
    assert.deepEqual(source({ [reflector.autoEnabled]: 'true' }), EMPTY);
  });

  void test('allowed and auto-enabled: every namespace, same name, content only', () => {
    const rule = onlyPush(source({ [reflector.allowed]: 'true', [reflector.autoEnabled]: 'TRUE' }));
    assert.equal(rule.dialect, 'reflector');
    assert.equal(rule.targetName, 'wildcard-tls');
    assert.deepEqual(rule.copy, {
      labels: false,
      annotations: false,
      ownerReferences: false,
      keys: undefined,
    });
    assert.deepEqual(reached(rule.targets), ALL);
  });

  void test('auto-enabled not "true" means no push, consent remains', () => {
    const spec = source({ [reflector.allowed]: 'true', [reflector.autoEnabled]: 'yes' });
    assert.deepEqual(spec.push, []);
    assert.equal(spec.consent.length, 1);
  });

  void test('targets are allowed AND auto', () => {
    const rule = onlyPush(
      source({
        [reflector.allowed]: 'true',
        [reflector.allowedNamespaces]: 'ns-.*,other',
        [reflector.autoEnabled]: 'true',
        [reflector.autoNamespaces]: 'ns-b',
        [reflector.autoNamespacesSelector]: 'auto=on',
      }),
    );
    assert.deepEqual(reached(rule.targets), ['ns-b', 'other']);
  });

  void test('whole-name: ns-a never reaches xns-a', () => {
    const rule = onlyPush(
      source({
        [reflector.allowed]: 'true',
        [reflector.autoEnabled]: 'true',
        [reflector.autoNamespaces]: 'ns-a',
      }),
    );
    assert.deepEqual(reached(rule.targets), ['ns-a']);
  });

  void test('the cert-manager wildcard TLS recipe pushes the Secret everywhere allowed', () => {
    const rule = onlyPush(
      source(
        {
          [reflector.allowed]: 'true',
          [reflector.allowedNamespaces]: 'team-.*,ns-a',
          [reflector.autoEnabled]: 'true',
          'cert-manager.io/certificate-name': 'wildcard',
        },
        'wildcard-example-com-tls',
      ),
    );
    assert.equal(rule.targetName, 'wildcard-example-com-tls');
    assert.deepEqual(reached(rule.targets), ['ns-a', 'team-1']);
  });
});

void describe('reflector source: invalid values', () => {
  void test('an invalid allowed list drops consent and push, with a problem', () => {
    const spec = source({
      [reflector.allowed]: 'true',
      [reflector.autoEnabled]: 'true',
      [reflector.allowedNamespaces]: '*-prod',
    });
    assert.deepEqual(spec.push, []);
    assert.deepEqual(spec.consent, []);
    assert.equal(spec.problems.length, 1);
    const [found] = spec.problems;
    assert.ok(found);
    assert.equal(found.dialect, 'reflector');
    assert.equal(found.annotation, reflector.allowedNamespaces);
    assert.match(found.message, /"\*-prod" is not a valid regular expression/);
  });

  void test('an invalid allowed selector drops consent and push', () => {
    const spec = source({
      [reflector.allowed]: 'true',
      [reflector.autoEnabled]: 'true',
      [reflector.allowedNamespacesSelector]: 'a in',
    });
    assert.deepEqual(spec.push, []);
    assert.deepEqual(spec.consent, []);
    assert.deepEqual(
      spec.problems.map((found) => found.annotation),
      [reflector.allowedNamespacesSelector],
    );
  });

  void test('an invalid auto list drops the push only', () => {
    const spec = source({
      [reflector.allowed]: 'true',
      [reflector.autoEnabled]: 'true',
      [reflector.autoNamespaces]: 'a(',
    });
    assert.deepEqual(spec.push, []);
    assert.deepEqual(consentNamespaces(spec), ALL);
    assert.deepEqual(
      spec.problems.map((found) => found.annotation),
      [reflector.autoNamespaces],
    );
  });

  void test('an invalid auto selector drops the push only', () => {
    const spec = source({
      [reflector.allowed]: 'true',
      [reflector.autoEnabled]: 'true',
      [reflector.autoNamespacesSelector]: '“x”',
    });
    assert.deepEqual(spec.push, []);
    assert.equal(spec.consent.length, 1);
    assert.deepEqual(
      spec.problems.map((found) => found.annotation),
      [reflector.autoNamespacesSelector],
    );
  });

  void test('auto lists are not checked while auto is off (reflector ignores them)', () => {
    const spec = source({ [reflector.allowed]: 'true', [reflector.autoNamespaces]: 'a(' });
    assert.deepEqual(spec.problems, []);
  });

  void test('catastrophic patterns are accepted (the engine is linear) and stay whole-name', () => {
    const rule = onlyPush(
      source({
        [reflector.allowed]: 'true',
        [reflector.autoEnabled]: 'true',
        [reflector.autoNamespaces]: '(a+)+$,(a|aa)+b',
      }),
    );
    const verdict = (name: string) =>
      evaluateFilter(rule.targets, { name, labels: {}, terminating: false }).match;
    assert.equal(verdict('aaaa'), true);
    assert.equal(verdict('aaab'), true);
    assert.equal(verdict('aaaa!'), false);
    assert.equal(verdict('xaaab'), false);
  });
});

void describe('reflector target', () => {
  void test('reflects asks to be filled from the named source', () => {
    assert.deepEqual(
      reflectorDialect.parseTarget({
        secretType: undefined,
        kind: 'ConfigMap',
        annotations: { [reflector.reflects]: 'platform/ca' },
      }),
      {
        claim: reflector.reflects,
        pull: { dialect: 'reflector', source: { namespace: 'platform', name: 'ca' }, keys: undefined },
        problems: [],
      },
    );
  });

  void test('auto-reflects "False" is still a pull', () => {
    const result = reflectorDialect.parseTarget({
      secretType: undefined,
      kind: 'Secret',
      annotations: { [reflector.reflects]: 'platform/ca', [reflector.autoReflects]: 'False' },
    });
    assert.equal(result.pull?.source.name, 'ca');
  });

  void test('auto-reflects "True" marks a mirror reflector created: adopted, not a pull target', () => {
    for (const autoReflects of ['True', 'true', ' TRUE ']) {
      const annotations = { [reflector.reflects]: 'platform/ca', [reflector.autoReflects]: autoReflects };
      assert.deepEqual(reflectorDialect.parseTarget({ secretType: undefined, kind: 'Secret', annotations }), {
        claim: undefined,
        pull: undefined,
        problems: [],
      });
      assert.equal(mirrorClaim('Secret', {}, annotations)?.markedBy, 'reflector');
    }
  });

  void test('a malformed reflects is a problem and claims the object', () => {
    const result = reflectorDialect.parseTarget({
      secretType: undefined,
      kind: 'Secret',
      annotations: { [reflector.reflects]: 'platform-ca' },
    });
    assert.equal(result.claim, reflector.reflects);
    assert.equal(result.pull, undefined);
    assert.match(result.problems[0]?.message ?? '', /not of the form "<namespace>\/<name>"/);
  });

  void test('no reflects: no claim', () => {
    assert.equal(
      reflectorDialect.parseTarget({ secretType: undefined, kind: 'Secret', annotations: {} }).claim,
      undefined,
    );
  });
});

void describe('properties', () => {
  void test('reflector parsing never throws on arbitrary annotation values', () => {
    const keys = Object.values(reflector);
    const valueArb = fc.oneof(fc.constant('true'), fc.string({ unit: 'binary', maxLength: 60 }));
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...keys), valueArb), (annotations) => {
        const spec = source(annotations);
        for (const rule of spec.push)
          for (const namespace of NAMESPACES) evaluateFilter(rule.targets, namespace);
        reflectorDialect.parseTarget({ secretType: undefined, kind: 'Secret', annotations });
      }),
      { numRuns: 500 },
    );
  });
});
