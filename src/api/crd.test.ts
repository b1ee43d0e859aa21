/**
 * The CRD files (deploy/chart/nsync/crds) are the single source of the API's schema. These tests
 * keep them honest against the rest of nsync without an API server: both kinds share one spec and
 * status, and every CEL pattern accepts exactly what nsync's own validators (src/rules) accept, so
 * admission and the annotations can never disagree on what a valid glob, name, label or key is.
 * (test/crd.test.ts checks the same files against a real kube-apiserver.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse } from 'yaml';
import {
  compileClusterGlobList,
  compileNamespaceGlobList,
  dataKeyProblem,
  labelKeyProblem,
  labelValueProblem,
  namespaceNameProblem,
  objectNameProblem,
  parsePatternList,
} from '../rules/index.ts';
import { API_VERSION, GROUP, RESOURCES, VERSION } from './types.ts';

const crdDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'deploy', 'chart', 'nsync', 'crds');

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema;
  required?: string[];
  maxLength?: number;
  'x-kubernetes-validations'?: { rule: string; message: string }[];
}

interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; shortNames: string[]; categories: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: object };
      additionalPrinterColumns: { name: string; jsonPath: string }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

function load(file: string): { crd: Crd; root: Schema } {
  const crd = parse(readFileSync(join(crdDir, file), 'utf8')) as Crd;
  const [version] = crd.spec.versions;
  assert.ok(version);
  return { crd, root: version.schema.openAPIV3Schema };
}

const cluster = load('clustermirrors.nsync.dev.yaml');
const namespaced = load('mirrors.nsync.dev.yaml');

/** The schema at a dotted path; `[]` steps into items, `{}` into additionalProperties. */
function at(root: Schema, path: string): Schema {
  let schema = root;
  for (const step of path.split('.')) {
    const next =
      step === '[]' ? schema.items : step === '{}' ? schema.additionalProperties : schema.properties?.[step];
    assert.ok(next, `schema has ${path} (at ${step})`);
    schema = next;
  }
  return schema;
}

function rules(schema: Schema): string[] {
  return (schema['x-kubernetes-validations'] ?? []).map((validation) => validation.rule);
}

/** The RE2 pattern of the first rule at a path that is `<x>.matches('<pattern>')`. */
function patternTextAt(path: string): string {
  const rule = rules(at(cluster.root, path)).find((text) => text.includes(".matches('"));
  assert.ok(rule, `a matches() rule at ${path}`);
  const pattern = /\.matches\('([^']*)'\)/u.exec(rule)?.[1];
  assert.ok(pattern !== undefined);
  return pattern;
}

/** The same, as a RegExp: RE2 and JavaScript agree on these plain classes and repetitions. */
function patternAt(path: string): RegExp {
  return new RegExp(patternTextAt(path), 'u');
}

/** Strings built from the characters that decide validity, plus a few that are never valid. */
const tricky = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.constantFrom(
      'a',
      'b',
      'z',
      'A',
      '0',
      '9',
      '-',
      '.',
      '_',
      '/',
      '*',
      '?',
      '!',
      ' ',
      ',',
      ':',
      '@',
      'é',
      '"',
    ),
    maxLength,
  });

void describe('the CRD files', () => {
  void test('name the group, version, kinds, scopes, short names and category', () => {
    for (const [{ crd }, kind] of [
      [cluster, 'ClusterMirror'],
      [namespaced, 'Mirror'],
    ] as const) {
      const resource = RESOURCES[kind];
      assert.equal(crd.metadata.name, `${resource.plural}.${GROUP}`);
      assert.equal(crd.spec.group, GROUP);
      assert.equal(crd.spec.names.kind, kind);
      assert.equal(crd.spec.names.plural, resource.plural);
      assert.equal(crd.spec.scope, resource.namespaced ? 'Namespaced' : 'Cluster');
      assert.deepEqual(crd.spec.names.categories, ['nsync']);
      assert.equal(crd.spec.versions.length, 1);
      const [version] = crd.spec.versions;
      assert.ok(version);
      assert.equal(`${GROUP}/${version.name}`, API_VERSION);
      assert.equal(version.name, VERSION);
      assert.ok(version.served && version.storage);
      assert.deepEqual(version.subresources.status, {});
    }
  });

  void test('Mirror and ClusterMirror share spec and status; only source.namespace differs', () => {
    const spec = (root: Schema): Schema => at(root, 'spec');
    assert.deepEqual(at(namespaced.root, 'status'), at(cluster.root, 'status'));
    for (const field of ['targets', 'clusters', 'keys', 'copyLabels', 'copyAnnotations']) {
      assert.deepEqual(at(namespaced.root, `spec.${field}`), at(cluster.root, `spec.${field}`), field);
    }
    assert.deepEqual(
      Object.keys(spec(namespaced.root).properties ?? {}),
      Object.keys(spec(cluster.root).properties ?? {}),
    );
    assert.deepEqual(at(namespaced.root, 'spec.source.kind'), at(cluster.root, 'spec.source.kind'));
    assert.deepEqual(at(namespaced.root, 'spec.source.name'), at(cluster.root, 'spec.source.name'));
    assert.deepEqual(at(cluster.root, 'spec.source').required, ['kind', 'namespace', 'name']);
    assert.deepEqual(at(namespaced.root, 'spec.source').required, ['kind', 'name']);
    assert.deepEqual(rules(at(namespaced.root, 'spec.source.namespace')), ['false']);
  });

  void test('every printer column reads a field the schema has', () => {
    for (const { crd, root } of [cluster, namespaced]) {
      for (const column of crd.spec.versions[0]?.additionalPrinterColumns ?? []) {
        if (column.jsonPath === '.metadata.creationTimestamp') continue;
        const path = column.jsonPath
          .replace(/^\./u, '')
          .replace(/\[\?\(@\.type=="\w+"\)\]\.(\w+)$/u, '.[].$1');
        at(root, path);
      }
    }
  });
});

void describe('the CEL patterns accept exactly what nsync accepts', () => {
  const agree = (path: string, maxLength: number, valid: (text: string) => boolean): void => {
    const pattern = patternAt(path);
    assert.equal(at(cluster.root, path).maxLength ?? maxLength, maxLength, `${path} maxLength`);
    fc.assert(
      fc.property(tricky(Math.min(maxLength, 80)), (text) => {
        assert.equal(pattern.test(text), valid(text), JSON.stringify(text));
      }),
      { numRuns: 2000 },
    );
  };

  void test('namespace globs, with "!" exclusions', () => {
    // One entry of the annotation list, written exactly: no commas, no spaces (not even "! a").
    agree('spec.targets.namespaces.[]', 128, (text) => {
      const entries = parsePatternList(text);
      return (
        entries.length === 1 && entries[0] === text && !/\s/u.test(text) && compileNamespaceGlobList(text).ok
      );
    });
  });

  void test('cluster globs, with "!" exclusions (one per entry)', () => {
    // The empty entry is refused by minLength: 1.
    assert.equal((at(cluster.root, 'spec.clusters.names.[]') as { minLength?: number }).minLength, 1);
    const [rule] = rules(at(cluster.root, 'spec.clusters.names.[]'));
    assert.equal(rule, "self.matches('^!?[-a-zA-Z0-9_.:/@*?]+$') && !self.matches('^![*]+$')");
    const pattern = patternAt('spec.clusters.names.[]');
    fc.assert(
      fc.property(tricky(80), (text) => {
        const admitted = pattern.test(text) && !/^![*]+$/u.test(text);
        const served = text !== '' && !/[,\s]/u.test(text) && compileClusterGlobList(text).ok;
        assert.equal(admitted, served, JSON.stringify(text));
      }),
      { numRuns: 2000 },
    );
  });

  void test('cluster selectors check labels exactly as namespace selectors do', () => {
    const items = (path: string): Schema | undefined => at(cluster.root, path).items;
    assert.deepEqual(
      items('spec.clusters.selector.matchExpressions'),
      items('spec.targets.namespaceSelector.matchExpressions'),
    );
    assert.deepEqual(
      rules(at(cluster.root, 'spec.clusters.selector.matchLabels')),
      rules(at(cluster.root, 'spec.targets.namespaceSelector.matchLabels')),
    );
  });

  void test('namespace names', () => {
    agree('spec.source.namespace', 63, (text) => namespaceNameProblem(text) === undefined);
  });

  void test('object names', () => {
    agree('spec.source.name', 253, (text) => objectNameProblem(text) === undefined);
    assert.deepEqual(
      rules(at(cluster.root, 'spec.targets.name')),
      rules(at(cluster.root, 'spec.source.name')),
    );
  });

  void test('label values', () => {
    const valuePath = 'spec.targets.namespaceSelector.matchExpressions.[].values.[]';
    agree(valuePath, 63, (text) => labelValueProblem(text) === undefined);
    assert.deepEqual(
      rules(at(cluster.root, 'spec.targets.namespaceSelector.matchLabels.{}')),
      rules(at(cluster.root, valuePath)),
    );
  });

  void test('label keys (both rules together)', () => {
    const path = 'spec.targets.namespaceSelector.matchExpressions.[].key';
    const [shape, prefix] = rules(at(cluster.root, path));
    assert.equal(prefix, "!self.contains('/') || self.matches('^[^/]{1,253}/')");
    const pattern = patternAt(path);
    const valid = (text: string): boolean =>
      pattern.test(text) && (!text.includes('/') || /^[^/]{1,253}\//u.test(text));
    assert.ok(shape?.startsWith("self.matches('"));
    fc.assert(
      fc.property(tricky(80), (text) => {
        assert.equal(valid(text), labelKeyProblem(text) === undefined, JSON.stringify(text));
      }),
      { numRuns: 2000 },
    );
    assert.equal(valid(`${'a'.repeat(253)}/x`), true);
    assert.equal(valid(`${'a'.repeat(254)}/x`), false);
    // matchLabels checks its keys with the same two patterns.
    const mapRules = rules(at(cluster.root, 'spec.targets.namespaceSelector.matchLabels'));
    assert.ok(mapRules[0]?.includes(patternTextAt(path)));
    assert.ok(mapRules[1]?.includes("'^[^/]{1,253}/'"));
  });

  void test('data keys', () => {
    const [rule] = rules(at(cluster.root, 'spec.keys.[]'));
    assert.equal(rule, "self.matches('^[-._a-zA-Z0-9]+$') && self != '.' && !self.startsWith('..')");
    const valid = (text: string): boolean =>
      /^[-._a-zA-Z0-9]+$/u.test(text) && text !== '.' && !text.startsWith('..');
    fc.assert(
      fc.property(tricky(80), (text) => {
        assert.equal(valid(text), dataKeyProblem(text) === undefined, JSON.stringify(text));
      }),
      { numRuns: 2000 },
    );
  });
});
