import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from './metrics.ts';

/** The samples of one metric in the registry's text format, without HELP and TYPE lines. */
async function samples(metrics: Metrics, name: string): Promise<string[]> {
  const text = await metrics.registry.getSingleMetricAsString(name);
  return text.split('\n').filter((line) => line.startsWith(name));
}

test('watch restarts are exported at 0 for every watched resource and reason before any restart', async () => {
  const metrics = new Metrics('test', { defaultMetrics: false });
  assert.deepEqual(await samples(metrics, 'nsync_watch_restarts_total'), []);
  metrics.observe({
    queueDepth: () => 0,
    watches: () => [
      { resource: 'secrets', lastProgressAt: 0 },
      { resource: 'namespaces', lastProgressAt: 0 },
    ],
  });
  const before = await samples(metrics, 'nsync_watch_restarts_total');
  assert.equal(before.length, 8);
  for (const resource of ['secrets', 'namespaces']) {
    for (const reason of ['closed', 'gone', 'error', 'silent']) {
      assert.ok(
        before.includes(`nsync_watch_restarts_total{resource="${resource}",reason="${reason}"} 0`),
        `${resource}/${reason} at 0 in:\n${before.join('\n')}`,
      );
    }
  }

  metrics.watchRestarts.inc({ resource: 'secrets', reason: 'gone' });
  const after = await samples(metrics, 'nsync_watch_restarts_total');
  assert.ok(after.includes('nsync_watch_restarts_total{resource="secrets",reason="gone"} 1'));
  assert.equal(after.length, 8);
});
