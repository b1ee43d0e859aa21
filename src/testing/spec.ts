/**
 * Assertions the dialect tests share: what a parsed SourceSpec pushes and consents to, read as
 * the list of namespaces it reaches. Test-only (excluded from the build).
 */
import assert from 'node:assert/strict';
import { evaluateFilter } from '../rules/filter.ts';
import type { Dialect, NamespaceFilter, NamespaceInfo, PushRule, SourceSpec } from '../rules/model.ts';

/** The one push rule of a spec (fails the test, showing the problems, when there is not exactly one). */
export function onlyPush(spec: SourceSpec): PushRule {
  assert.equal(spec.push.length, 1, JSON.stringify(spec.problems));
  const [rule] = spec.push;
  assert.ok(rule);
  return rule;
}

/** The namespaces of the one consent of a spec, which must be of `dialect`. */
export function onlyConsent(spec: SourceSpec, dialect: Dialect): NamespaceFilter {
  assert.equal(spec.consent.length, 1, JSON.stringify(spec.problems));
  const [consent] = spec.consent;
  assert.ok(consent);
  assert.equal(consent.dialect, dialect);
  return consent.namespaces;
}

/** A function naming which of `namespaces` a filter reaches, in their order. */
export function reachedAmong(namespaces: readonly NamespaceInfo[]): (filter: NamespaceFilter) => string[] {
  return (filter) =>
    namespaces
      .filter((namespace) => evaluateFilter(filter, namespace).match)
      .map((namespace) => namespace.name);
}
