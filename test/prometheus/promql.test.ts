/**
 * The PromQL reader the monitoring test relies on: if it missed a selector or kept a threshold,
 * that test would pass dashboards and alerts it should not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { references, watchedQuantity } from '../support/promql.ts';

test('every vector selector is found, with or without braces, inside ranges and functions', () => {
  assert.deepEqual(
    references(
      'histogram_quantile(0.99, sum by (le) (rate(a_bucket{x=~"y"}[5m]))) / on (pod) group_left (version) b + time() - c',
    ),
    { selectors: ['a_bucket{x=~"y"}', 'b', 'c'], groupingLabels: ['le', 'pod', 'version'] },
  );
  assert.deepEqual(references('sum without (instance) ({__name__="m"})').groupingLabels, ['instance']);
});

test('invalid PromQL is an error, not an expression without selectors', () => {
  assert.throws(() => references('sum(rate(x[5m])'), /not valid PromQL/);
});

test('the quantity an alert watches is the expression without its threshold or absent()', () => {
  assert.equal(watchedQuantity('sum(rate(e{j="n"}[5m])) > 0'), 'sum(rate(e{j="n"}[5m]))');
  assert.equal(watchedQuantity('time() - t{j="n"} > 900'), 'time() - t{j="n"}');
  assert.equal(watchedQuantity('max(l) == 0'), 'max(l)');
  assert.equal(watchedQuantity('0.5 <= max(l)'), 'max(l)');
  assert.equal(watchedQuantity('(max(l) > bool 0)'), 'max(l)');
  assert.equal(watchedQuantity('absent(up{j="n"} == 1)'), 'up{j="n"}');
  // Not a threshold: both sides are series, or it is arithmetic.
  assert.equal(watchedQuantity('a > b'), 'a > b');
  assert.equal(watchedQuantity('a * 2'), 'a * 2');
});
