import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { evaluateFilter, filterMatches } from './filter.ts';
import type { NamespaceFilter, NamespaceInfo } from './model.ts';

const NAMES = ['a', 'b', 'team-a', 'default'];
const KEYS = ['env', 'tier'];
const VALUES = ['prod', 'dev'];

const leaf: fc.Arbitrary<NamespaceFilter> = fc.oneof(
  fc.constant<NamespaceFilter>({ op: 'all' }),
  fc.constant<NamespaceFilter>({ op: 'none' }),
  fc.uniqueArray(fc.constantFrom(...NAMES), { maxLength: 3 }).map((names) => ({
    op: 'names' as const,
    patterns: names.map((text) => ({ text, test: (name: string) => name === text })),
  })),
  fc
    .array(
      fc.oneof(
        fc.record({
          key: fc.constantFrom(...KEYS),
          op: fc.constantFrom('in' as const, 'notin' as const),
          values: fc.subarray(VALUES),
        }),
        fc.record({
          key: fc.constantFrom(...KEYS),
          op: fc.constantFrom('exists' as const, 'doesnotexist' as const),
        }),
      ),
      { maxLength: 3 },
    )
    .map((requirements) => ({ op: 'selector' as const, selector: { text: 'selector', requirements } })),
);

const filter: fc.Arbitrary<NamespaceFilter> = fc.letrec<{ node: NamespaceFilter }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('node'), { maxLength: 3 }).map((of) => ({ op: 'and' as const, of })),
    fc.array(tie('node'), { maxLength: 3 }).map((of) => ({ op: 'or' as const, of })),
    tie('node').map((of) => ({ op: 'not' as const, of })),
  ),
})).node;

const namespace: fc.Arbitrary<NamespaceInfo> = fc.record({
  name: fc.constantFrom(...NAMES),
  labels: fc.dictionary(fc.constantFrom(...KEYS), fc.constantFrom(...VALUES)),
  terminating: fc.constant(false),
});

test('filterMatches selects exactly the namespaces evaluateFilter does', () => {
  fc.assert(
    fc.property(filter, namespace, (f, ns) => {
      assert.equal(filterMatches(f, ns), evaluateFilter(f, ns).match);
    }),
    { numRuns: 2000 },
  );
});
