import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DialectAdapter, DialectTargetResult } from './dialects/adapter.ts';
import { EMPTY_SOURCE_SPEC } from './dialects/adapter.ts';
import { kubed, native, reflector, replicator } from './markers.ts';
import type { Dialect } from './model.ts';
import {
  DIALECT_ADAPTERS,
  PULL_PRECEDENCE,
  parseSource,
  parseSourceWith,
  parseTarget,
  parseTargetWith,
} from './parse.ts';

const PUSH_BOTH = {
  [native.pushTo]: 'team-*',
  [reflector.allowed]: 'true',
  [reflector.autoEnabled]: 'true',
};

void describe('parseSource', () => {
  void test('runs every dialect and concatenates their rules', () => {
    const spec = parseSource('Secret', 'platform', 'shared', PUSH_BOTH, 'Opaque');
    assert.deepEqual(
      spec.push.map((rule) => rule.dialect),
      ['native', 'reflector'],
    );
    assert.deepEqual(
      spec.consent.map((consent) => consent.dialect),
      ['reflector'],
    );
    assert.deepEqual(spec.problems, []);
  });

  void test('concatenates problems of every dialect', () => {
    const spec = parseSource(
      'ConfigMap',
      'platform',
      'shared',
      { [native.pushTo]: 'Bad', [reflector.allowed]: 'true', [reflector.allowedNamespaces]: '(' },
      undefined,
    );
    assert.deepEqual(
      spec.problems.map((found) => found.dialect),
      ['native', 'reflector'],
    );
  });

  void test('Helm release Secrets yield an empty spec, whatever they carry', () => {
    const annotations = { ...PUSH_BOTH, [native.pushTo]: 'Bad' };
    assert.deepEqual(
      parseSource('Secret', 'apps', 'sh.helm.release.v1.app.v1', annotations, 'helm.sh/release.v1'),
      EMPTY_SOURCE_SPEC,
    );
    assert.equal(parseSource('ConfigMap', 'apps', 'x', PUSH_BOTH, 'helm.sh/release.v1').push.length, 2);
  });

  void test('the source context reaches the adapters', () => {
    const spec = parseSource('Secret', 'platform', 'wildcard-tls', PUSH_BOTH, 'kubernetes.io/tls');
    assert.deepEqual(
      spec.push.map((rule) => rule.targetName),
      ['wildcard-tls', 'wildcard-tls'],
    );
  });

  void test('adapters are consulted in precedence order whatever the list order', () => {
    const seen: Dialect[] = [];
    const spy = (dialect: Dialect): DialectAdapter => ({
      dialect,
      parseSource: () => {
        seen.push(dialect);
        return EMPTY_SOURCE_SPEC;
      },
      parseTarget: () => ({ claim: undefined, pull: undefined, problems: [] }),
    });
    parseSourceWith([spy('kubed'), spy('reflector'), spy('native'), spy('replicator')], {
      kind: 'Secret',
      namespace: 'a',
      name: 'b',
      annotations: {},
      secretType: undefined,
    });
    assert.deepEqual(seen, PULL_PRECEDENCE);
  });
});

void describe('parseTarget', () => {
  void test('a single pull annotation', () => {
    assert.deepEqual(parseTarget('Secret', { [reflector.reflects]: 'platform/ca' }), {
      pull: { dialect: 'reflector', source: { namespace: 'platform', name: 'ca' }, keys: undefined },
      problems: [],
    });
  });

  void test('no pull annotation', () => {
    assert.deepEqual(parseTarget('ConfigMap', {}), { pull: undefined, problems: [] });
  });

  void test('native wins over reflector; a different reflector source is reported', () => {
    const spec = parseTarget('Secret', {
      [native.pullFrom]: 'platform/a',
      [reflector.reflects]: 'platform/b',
    });
    assert.ok(spec.pull);
    assert.equal(spec.pull.dialect, 'native');
    assert.equal(spec.pull.source.name, 'a');
    assert.equal(spec.problems.length, 1);
    const [found] = spec.problems;
    assert.ok(found);
    assert.equal(found.dialect, 'reflector');
    assert.equal(found.annotation, reflector.reflects);
    assert.match(found.message, /ignored: this object is filled from "platform\/a" by nsync\.dev\/pull-from/);
  });

  void test('annotations that agree on the source (a migration in progress) are not a problem', () => {
    const spec = parseTarget('Secret', {
      [native.pullFrom]: 'platform/a',
      [native.keys]: 'tls.crt',
      [reflector.reflects]: 'platform/a',
    });
    assert.ok(spec.pull);
    assert.equal(spec.pull.dialect, 'native');
    assert.deepEqual(spec.pull.keys, ['tls.crt']);
    assert.deepEqual(spec.problems, []);
  });

  void test('an invalid native pull still takes precedence: nothing is pulled, both are reported', () => {
    const spec = parseTarget('Secret', {
      [native.pullFrom]: 'platform-a',
      [reflector.reflects]: 'platform/a',
    });
    assert.equal(spec.pull, undefined);
    assert.deepEqual(
      spec.problems.map((found) => [found.dialect, found.annotation]),
      [
        ['native', native.pullFrom],
        ['reflector', reflector.reflects],
      ],
    );
    assert.match(spec.problems[1]?.message ?? '', /nsync\.dev\/pull-from takes precedence/);
  });

  void test('a reflector mirror (auto-reflects True) is not a claim and does not conflict', () => {
    const spec = parseTarget('Secret', {
      [native.pullFrom]: 'platform/a',
      [reflector.reflects]: 'platform/b',
      [reflector.autoReflects]: 'True',
    });
    assert.equal(spec.pull?.source.name, 'a');
    assert.deepEqual(spec.problems, []);
  });

  void test('Helm release Secrets are never pull targets', () => {
    assert.deepEqual(parseTarget('Secret', { [native.pullFrom]: 'a/b' }, 'helm.sh/release.v1'), {
      pull: undefined,
      problems: [],
    });
  });

  void test('precedence is native, reflector, replicator, kubed whatever the adapter list order', () => {
    const claiming = (dialect: Dialect, name: string): DialectAdapter => ({
      dialect,
      parseSource: () => EMPTY_SOURCE_SPEC,
      parseTarget: (): DialectTargetResult => ({
        claim: `${dialect}/pull`,
        pull: { dialect, source: { namespace: 'ns', name }, keys: undefined },
        problems: [],
      }),
    });
    const spec = parseTargetWith(
      [claiming('kubed', 'k'), claiming('replicator', 'r'), claiming('reflector', 'f')],
      { kind: 'Secret', annotations: {}, secretType: undefined },
    );
    assert.equal(spec.pull?.dialect, 'reflector');
    assert.deepEqual(
      spec.problems.map((found) => [found.dialect, found.annotation]),
      [
        ['replicator', 'replicator/pull'],
        ['kubed', 'kubed/pull'],
      ],
    );
  });
});

void describe('DIALECT_ADAPTERS', () => {
  void test('holds one adapter per dialect', () => {
    const dialects = DIALECT_ADAPTERS.map((adapter) => adapter.dialect);
    assert.deepEqual([...dialects].sort(), [...PULL_PRECEDENCE].sort());
    assert.equal(new Set(dialects).size, dialects.length);
  });

  void test('replicator replicate-from is read', () => {
    assert.deepEqual(parseTarget('Secret', { [replicator.replicateFrom]: 'a/b' }), {
      pull: { dialect: 'replicator', source: { namespace: 'a', name: 'b' }, keys: undefined },
      problems: [],
    });
  });
});

void describe('parseSource: replicator and kubed', () => {
  void test('one source may push in all four dialects at once, each rule standing alone', () => {
    const spec = parseSource(
      'ConfigMap',
      'platform',
      'shared',
      { ...PUSH_BOTH, [replicator.replicateTo]: 'team-.*', [kubed.sync]: '' },
      undefined,
    );
    assert.deepEqual(
      spec.push.map((rule) => rule.dialect),
      ['native', 'reflector', 'replicator', 'kubed'],
    );
    assert.deepEqual(spec.problems, []);
  });

  void test('replicator consent joins the others', () => {
    const spec = parseSource(
      'Secret',
      'platform',
      'shared',
      {
        [reflector.allowed]: 'true',
        [replicator.allowed]: 'true',
        [replicator.allowedNamespaces]: 'team-.*',
      },
      'Opaque',
    );
    assert.deepEqual(
      spec.consent.map((consent) => consent.dialect),
      ['reflector', 'replicator'],
    );
  });

  void test('kubed sync-contexts is unsupported, not a problem; the in-cluster push remains', () => {
    const spec = parseSource(
      'Secret',
      'platform',
      'shared',
      { [kubed.sync]: 'true', [kubed.syncContexts]: 'eu,us' },
      'Opaque',
    );
    assert.deepEqual(
      spec.push.map((rule) => rule.dialect),
      ['kubed'],
    );
    assert.deepEqual(spec.problems, []);
    assert.deepEqual(
      spec.unsupported.map((found) => [found.dialect, found.annotation]),
      [['kubed', kubed.syncContexts]],
    );
  });

  void test('Helm release Secrets are never replicator or kubed sources', () => {
    const annotations = { [replicator.replicateTo]: '.*', [kubed.sync]: '' };
    assert.deepEqual(
      parseSource('Secret', 'apps', 'sh.helm.release.v1.app.v1', annotations, 'helm.sh/release.v1'),
      EMPTY_SOURCE_SPEC,
    );
  });
});

void describe('parseTarget: replicator', () => {
  void test('native and reflector win over replicator; a different replicator source is reported', () => {
    const spec = parseTarget('Secret', {
      [reflector.reflects]: 'platform/a',
      [replicator.replicateFrom]: 'platform/b',
    });
    assert.equal(spec.pull?.dialect, 'reflector');
    assert.deepEqual(
      spec.problems.map((found) => [found.dialect, found.annotation]),
      [['replicator', replicator.replicateFrom]],
    );
  });

  void test('replicator and native naming the same source agree (migration in progress)', () => {
    const spec = parseTarget('Secret', {
      [native.pullFrom]: 'platform/a',
      [replicator.replicateFrom]: 'platform/a',
    });
    assert.equal(spec.pull?.dialect, 'native');
    assert.deepEqual(spec.problems, []);
  });

  void test('an invalid replicate-from still claims the object: a lower dialect never fills it', () => {
    const claimingKubed: DialectAdapter = {
      dialect: 'kubed',
      parseSource: () => EMPTY_SOURCE_SPEC,
      parseTarget: () => ({
        claim: 'kubed/pull',
        pull: { dialect: 'kubed', source: { namespace: 'x', name: 'y' }, keys: undefined },
        problems: [],
      }),
    };
    const spec = parseTargetWith([...DIALECT_ADAPTERS.filter((a) => a.dialect !== 'kubed'), claimingKubed], {
      kind: 'Secret',
      annotations: { [replicator.replicateFrom]: 'just-a-name' },
      secretType: undefined,
    });
    assert.equal(spec.pull, undefined);
    assert.deepEqual(
      spec.problems.map((found) => found.dialect),
      ['replicator', 'kubed'],
    );
  });

  void test('kubed never asks to fill a target (it has no pull)', () => {
    assert.deepEqual(parseTarget('ConfigMap', { [kubed.origin]: '{}', [kubed.sync]: '' }), {
      pull: undefined,
      problems: [],
    });
  });
});
