import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BUILT_IN_DENIED_KEYS, compileKeyGlobList, copyPolicy, DEFAULT_COPY_POLICY } from './copy-policy.ts';
import type { NamePattern } from './model.ts';
import { reservedName, RESERVED_NAMES } from './reserved.ts';
import { acceptsFrom } from './target-consent.ts';

void describe('copy policy', () => {
  void it('denies what makes other controllers act and keeps ordinary keys', () => {
    for (const key of [
      'argocd.argoproj.io/secret-type',
      'kustomize.toolkit.fluxcd.io/name',
      'meta.helm.sh/release-name',
      'kubernetes.io/service-account.name',
      'addonmanager.kubernetes.io/mode',
      'istio/multiCluster',
      'trust.cert-manager.io/bundle',
      'service.beta.openshift.io/inject-cabundle',
    ]) {
      assert.equal(DEFAULT_COPY_POLICY.denies(key), true, key);
    }
    for (const key of [
      'team',
      'app.kubernetes.io/name',
      'example.com/owner',
      'app.kubernetes.io/component',
    ]) {
      assert.equal(DEFAULT_COPY_POLICY.denies(key), false, key);
    }
  });

  void it('lets the operator extend the list and exempt built-in keys', () => {
    const policy = copyPolicy({
      never: compileOk('example.com/*'),
      allow: compileOk('app.kubernetes.io/part-of'),
    });
    assert.equal(policy.denies('example.com/owner'), true);
    assert.equal(policy.denies('app.kubernetes.io/part-of'), false);
    assert.equal(policy.denies('argocd.argoproj.io/secret-type'), true);
  });

  void it('rejects key globs that cannot be keys, naming them', () => {
    const compiled = compileKeyGlobList('ok/*, bad key, also=bad');
    assert.ok(!compiled.ok);
    assert.match(compiled.error, /"bad key".*"also=bad"/);
  });

  void it('every built-in entry compiles and denies its own glob text', () => {
    for (const entry of BUILT_IN_DENIED_KEYS) {
      assert.equal(DEFAULT_COPY_POLICY.denies(entry.glob.replaceAll('*', 'x')), true, entry.glob);
    }
  });
});

function compileOk(text: string): NamePattern[] {
  const compiled = compileKeyGlobList(text);
  assert.ok(compiled.ok);
  return compiled.value;
}

void describe('reserved names', () => {
  void it('reserves by kind and exact name or prefix', () => {
    assert.equal(reservedName('ConfigMap', 'kube-root-ca.crt')?.name, 'kube-root-ca.crt');
    assert.equal(reservedName('Secret', 'kube-root-ca.crt'), undefined);
    assert.equal(reservedName('Secret', 'bootstrap-token-abc123')?.prefix, true);
    assert.equal(reservedName('ConfigMap', 'kube-root-ca.crt-copy'), undefined);
    assert.equal(reservedName('Secret', 'sh.helm.release.v1.app.v3')?.owner.startsWith('Helm'), true);
  });

  void it('lists each name once per kind', () => {
    const keys = RESERVED_NAMES.map((entry) => `${entry.kind}/${entry.name}`);
    assert.equal(new Set(keys).size, keys.length);
  });
});

void describe('target consent', () => {
  const ns = (acceptFrom?: string) => ({
    name: 'team-b',
    labels: {},
    terminating: false,
    ...(acceptFrom === undefined ? {} : { acceptFrom }),
  });

  void it('accepts only the source namespaces the annotation names, exclusions first', () => {
    assert.equal(acceptsFrom(ns('team-a, platform'), 'platform').accepted, true);
    assert.equal(acceptsFrom(ns('*, !team-a'), 'team-a').accepted, false);
    assert.equal(acceptsFrom(ns('!team-a'), 'platform').accepted, true);
    assert.match(acceptsFrom(ns('team-*'), 'platform').why, /matches none of "team-\*"/);
    assert.match(acceptsFrom(ns(), 'platform').why, /has no nsync.dev\/accept-from annotation/);
    assert.match(acceptsFrom(ns('   '), 'platform').why, /has no/);
    assert.match(acceptsFrom(ns('Team_A'), 'platform').why, /is invalid/);
  });

  void it('never accepts for an annotation that is not a valid list, whatever it says', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom('platform', 'team-a'), (text, source) => {
        const verdict = acceptsFrom(ns(text), source);
        if (verdict.accepted) assert.doesNotMatch(verdict.why, /invalid/);
      }),
    );
  });
});
