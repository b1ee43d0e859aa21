import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  dataKeyProblem,
  labelKeyProblem,
  labelValueProblem,
  namespaceNameProblem,
  objectNameProblem,
} from './names.ts';

void describe('Kubernetes name rules', () => {
  void test('namespace names are DNS labels', () => {
    for (const name of ['a', 'team-a', 'x'.repeat(63), '0ns'])
      assert.equal(namespaceNameProblem(name), undefined, name);
    for (const name of ['', 'Team', 'a.b', '-a', 'a-', 'x'.repeat(64), 'a_b'])
      assert.ok(namespaceNameProblem(name), name);
  });

  void test('object names are DNS subdomains', () => {
    for (const name of ['a', 'wildcard-tls', 'a.b.c', 'x'.repeat(253)])
      assert.equal(objectNameProblem(name), undefined, name);
    for (const name of ['', 'A', 'a..b', '.a', 'a.', 'a_b', 'x'.repeat(254), 'a b'])
      assert.ok(objectNameProblem(name), name);
  });

  void test('label keys: optional subdomain prefix and a 63-character name', () => {
    for (const key of ['a', 'A_b.c-d', 'example.com/x', `${'p'.repeat(253)}/${'n'.repeat(63)}`]) {
      assert.equal(labelKeyProblem(key), undefined, key);
    }
    for (const key of [
      '',
      '/a',
      'a/',
      'a/b/c',
      'Ex.com/a',
      '-a',
      'a-',
      'n'.repeat(64),
      `${'p'.repeat(254)}/a`,
    ]) {
      assert.ok(labelKeyProblem(key), key);
    }
  });

  void test('label values may be empty, else like a key name', () => {
    for (const text of ['', 'a', 'A.b_c-9', 'v'.repeat(63)])
      assert.equal(labelValueProblem(text), undefined, text);
    for (const text of ['-a', 'a-', 'a/b', 'v'.repeat(64), 'a b']) assert.ok(labelValueProblem(text), text);
  });

  void test('data keys: [-._a-zA-Z0-9]+, at most 253, not . or ..', () => {
    for (const key of ['tls.crt', 'ca.crt', '.dockerconfigjson', 'A_b-c', 'k'.repeat(253)]) {
      assert.equal(dataKeyProblem(key), undefined, key);
    }
    for (const key of ['', '.', '..', '..a', 'a/b', 'a b', 'k'.repeat(254), 'é'])
      assert.ok(dataKeyProblem(key), key);
  });
});
