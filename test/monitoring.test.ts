/**
 * The chart's Grafana dashboard and PrometheusRule against a real Prometheus (Debian's package,
 * installed by .ci/run) scraping a real `nsync run` process on the shared control plane:
 * - promtool accepts the rendered rules, and its unit tests (test/prometheus/alerts.test.yaml)
 *   show every alert firing in the situation it is for and quiet in a healthy one;
 * - every query of the dashboard and every alert expression refers only to metrics and labels
 *   nsync exports, and returns series once nsync has done some work.
 * Where prometheus or promtool is not installed, the tests are skipped and say so.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import {
  ALERT_TESTS,
  CHART_DIR,
  findExecutable,
  RELEASE_NAMESPACE,
  renderAlertRules,
  renderTemplate,
  writeRules,
  type AlertRule,
} from '../tools/prometheus/rules.ts';
import {
  b64,
  createNamespaces,
  createObject,
  eventually,
  getObject,
  sharedCluster,
} from './support/cluster.ts';
import { plantUnowned, spawnNsync, type NsyncProcess } from './faults/helpers.ts';
import { references, watchedQuantity } from './support/promql.ts';
import { startPrometheus, type RunningPrometheus } from './support/prometheus.ts';

const prometheusBinary = findExecutable('prometheus');
const promtool = findExecutable('promtool');
const missing = [
  ...(prometheusBinary === undefined ? ['prometheus'] : []),
  ...(promtool === undefined ? ['promtool'] : []),
];
const skip =
  missing.length === 0
    ? false
    : `${missing.join(' and ')} not on PATH: install Debian's prometheus package (.ci/run does)`;

/** The Grafana dashboard the chart ships. */
const dashboard = JSON.parse(readFileSync(join(CHART_DIR, 'files', 'dashboard.json'), 'utf8')) as Dashboard;

interface Panel {
  title?: string;
  targets?: { expr?: string; legendFormat?: string }[];
  panels?: Panel[];
}

interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: { query?: string } | string }[] };
}

/** One PromQL query of the dashboard, with the panel it belongs to. */
interface DashboardQuery {
  readonly where: string;
  readonly expr: string;
  readonly legendFormat: string;
}

/** Every query of every panel, rows' panels included. */
function dashboardQueries(panels: readonly Panel[]): DashboardQuery[] {
  return panels.flatMap((panel) => [
    ...(panel.targets ?? []).map((target, index) => ({
      where: `panel "${panel.title ?? '?'}" target ${String(index)}`,
      expr: target.expr ?? '',
      legendFormat: target.legendFormat ?? '',
    })),
    ...dashboardQueries(panel.panels ?? []),
  ]);
}

/**
 * Grafana's template variables as Grafana would fill them for one nsync installation:
 * - `$namespace`: the namespace label of nsync's target (a multi-value variable with one value
 *   selected becomes that value in a `=~` matcher), so a query filtering on a label the target
 *   does not carry finds nothing;
 * - `$__rate_interval`: Grafana makes it at least four scrape intervals; 10s covers the 1s scrapes
 *   here with room for a late scrape.
 * A variable not listed here fails the test: the dashboard uses something this test cannot fill.
 */
function substitute(expr: string, namespace: string): string {
  const values: Record<string, string> = {
    namespace,
    __rate_interval: '10s',
    __interval: '1s',
    __range: '1m',
  };
  const filled = expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
    const name = braced ?? bare ?? '';
    const value = values[name];
    if (value === undefined) throw new Error(`unknown template variable ${whole} in: ${expr}`);
    return value;
  });
  return filled;
}

/** The labels a legend like `{{verb}} {{outcome}}` shows. */
function legendLabels(legendFormat: string): string[] {
  return [...legendFormat.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((match) => match[1] ?? '');
}

/**
 * Fails unless every selector of `expr` matches series of nsync, every label it groups by is a
 * label of those series, and `evaluated` (the expression itself, or what an alert watches)
 * returns series carrying the `legend` labels.
 */
async function assertReferencesExist(
  prometheus: RunningPrometheus,
  where: string,
  expr: string,
  evaluated: string,
  legend: readonly string[] = [],
): Promise<void> {
  const { selectors, groupingLabels } = references(expr);
  assert.ok(selectors.length > 0, `${where}: no metric selector in ${expr}`);
  const labelsSeen = new Set<string>();
  for (const selector of selectors) {
    const series = await prometheus.series(selector);
    assert.ok(series.length > 0, `${where}: ${selector} matches no series nsync exports (in ${expr})`);
    for (const labels of series) for (const name of Object.keys(labels)) labelsSeen.add(name);
  }
  for (const label of groupingLabels) {
    assert.ok(labelsSeen.has(label), `${where}: groups by "${label}", which no series of ${expr} has`);
  }
  // A scrape that fails on a busy machine makes nsync's series stale until the next one: a few
  // scrapes' grace, so only a query that never finds anything fails.
  const result = await eventually(
    `${where}: ${evaluated} to return series`,
    async () => {
      const samples = await prometheus.query(evaluated);
      return samples.length > 0 ? samples : undefined;
    },
    { timeoutMs: 5_000, intervalMs: 500 },
  );
  for (const label of legend) {
    for (const sample of result) {
      assert.ok(
        (sample.metric[label] ?? '') !== '',
        `${where}: the legend shows {{${label}}}, which a series of ${evaluated} lacks: ${JSON.stringify(sample.metric)}`,
      );
    }
  }
}

test(
  'promtool accepts the rendered alert rules, and each alert fires when meant to and stays quiet otherwise',
  {
    skip,
  },
  () => {
    const tool = promtool ?? '';
    const groups = renderAlertRules();
    const alerts = groups.groups.flatMap((group) => group.rules.map((rule) => rule.alert));
    assert.ok(alerts.length > 0, 'the PrometheusRule has alerts');

    // Every alert has at least one test where it fires and one where it does not.
    const unitTests = parse(readFileSync(ALERT_TESTS, 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    };
    const cases = unitTests.tests.flatMap((unit) => unit.alert_rule_test ?? []);
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${ALERT_TESTS} has no case where ${alert} fires`,
      );
      assert.ok(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${ALERT_TESTS} has no case where ${alert} stays quiet`,
      );
    }
    assert.deepEqual(
      [...new Set(cases.map((c) => c.alertname))].filter((name) => !alerts.includes(name)),
      [],
      'tests of alerts the chart no longer has',
    );

    const dir = mkdtempSync(join(tmpdir(), 'nsync-rules-'));
    try {
      const { rules, tests } = writeRules(dir, groups);
      for (const args of [
        ['check', 'rules', rules],
        ['test', 'rules', tests],
      ]) {
        const run = spawnSync(tool, args, { encoding: 'utf8', cwd: dir });
        assert.equal(run.status, 0, `promtool ${args.slice(0, 2).join(' ')}:\n${run.stdout}\n${run.stderr}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'every dashboard query and alert expression finds the series of a real nsync scraped by Prometheus',
  { skip, timeout: 170_000 },
  async (t) => {
    const cluster = sharedCluster();
    const prefix = `pm${randomBytes(2).toString('hex')}`;
    const [source, a, b, taken] = [`${prefix}-src`, `${prefix}-a`, `${prefix}-b`, `${prefix}-taken`];
    await createNamespaces(cluster, [{ name: source }, { name: a }, { name: b }, { name: taken }]);
    let nsync: NsyncProcess | undefined;
    let prometheus: RunningPrometheus | undefined;
    try {
      nsync = spawnNsync(cluster.admin.kubeconfigPath, prefix);
      const running = nsync;
      const listen = await eventually('nsync to listen', () => {
        const started = running
          .stderr()
          .split('\n')
          .find((line) => line.includes('"nsync starting"'));
        return started === undefined ? undefined : (JSON.parse(started) as { listen: string }).listen;
      });

      // Activity, so that the metrics have series: mirrors made, one of them in conflict with an
      // object nsync does not own, and an invalid annotation.
      await plantUnowned(cluster, 'secrets', taken, 'app');
      await createObject(cluster, 'secrets', source, {
        metadata: { name: 'app', annotations: { 'nsync.dev/push-to': `${a},${b},${taken}` } },
        data: { k: b64('v') },
      });
      await createObject(cluster, 'secrets', source, {
        metadata: { name: 'invalid', annotations: { 'nsync.dev/push-to': 'Bad_Glob[' } },
        data: { k: b64('v') },
      });
      for (const namespace of [a, b]) {
        await eventually(`the mirror in ${namespace}`, () => getObject(cluster, 'secrets', namespace, 'app'));
      }

      // Labelled as Prometheus Operator labels the targets of the chart's ServiceMonitor: job is
      // the Service's name, plus namespace, service, endpoint (port name), pod and container.
      const service = renderTemplate('templates/service.yaml') as {
        metadata: { name: string };
        spec: { ports: { name: string }[] };
      };
      const monitor = renderTemplate('templates/servicemonitor.yaml') as {
        spec: { endpoints: { port: string; path: string }[] };
      };
      const [endpoint] = monitor.spec.endpoints;
      assert.ok(endpoint, 'the ServiceMonitor has an endpoint');
      assert.ok(
        service.spec.ports.some((port) => port.name === endpoint.port),
        `the ServiceMonitor scrapes port "${endpoint.port}", which the Service has`,
      );
      const job = service.metadata.name;
      const rules = renderAlertRules();
      prometheus = await startPrometheus(
        prometheusBinary ?? '',
        {
          global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
          rule_files: ['rules.yaml'],
          scrape_configs: [
            {
              job_name: job,
              metrics_path: endpoint.path,
              static_configs: [
                {
                  targets: [listen],
                  labels: {
                    namespace: RELEASE_NAMESPACE,
                    service: job,
                    endpoint: endpoint.port,
                    pod: `${job}-6d5f7c9b8-x2x4z`,
                    container: 'nsync',
                  },
                },
              ],
            },
          ],
        },
        { 'rules.yaml': stringify(rules) },
      );
      const prom = prometheus;
      t.diagnostic(`prometheus at ${prom.url} scrapes nsync at ${listen}`);

      await eventually(
        'the nsync target to be up',
        async () => {
          const data = await prom.get<{ activeTargets: { health: string; lastError: string }[] }>(
            '/api/v1/targets?state=active',
          );
          return data.activeTargets[0]?.health === 'up' ? true : undefined;
        },
        { timeoutMs: 60_000 },
      );
      // Enough scrapes for rate() over the dashboard's window, and the conflict seen by one.
      await eventually(
        'ten scrapes, the last with a mirror in conflict',
        async () => {
          const scrapes = Number((await prom.query(`count_over_time(up{job="${job}"}[1m])`))[0]?.value ?? 0);
          const conflict = await prom.query(`nsync_mirrors{job="${job}",state="conflict"}`);
          if (scrapes >= 10 && Number(conflict[0]?.value ?? 0) >= 1) return true;
          throw new Error(`${String(scrapes)} scrapes; in conflict: ${JSON.stringify(conflict)}`);
        },
        { timeoutMs: 60_000 },
      );

      // The dashboard: its variable queries, then every panel query as Grafana would send it.
      for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
        const query = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
        const labelValues = query.match(/^label_values\((.+),\s*(\w+)\)$/);
        assert.ok(
          labelValues,
          `variable ${variable.name}: only label_values(selector, label) is understood: ${query}`,
        );
        const [, selector = '', label = ''] = labelValues;
        assert.ok(
          (await prom.labelValues(label, selector)).includes(RELEASE_NAMESPACE),
          `variable ${variable.name}: ${query} does not offer ${RELEASE_NAMESPACE}`,
        );
      }
      const queries = dashboardQueries(dashboard.panels);
      assert.ok(queries.length > 0, 'the dashboard has queries');
      for (const query of queries) {
        const expr = substitute(query.expr, RELEASE_NAMESPACE);
        await assertReferencesExist(prom, query.where, expr, expr, legendLabels(query.legendFormat));
      }

      // The alerts: an alert is empty while all is well, so what it watches is evaluated
      // (watchedQuantity: the expression without its threshold comparison or absent()); its
      // selectors must match series either way.
      const alertRules: AlertRule[] = rules.groups.flatMap((group) => group.rules);
      for (const rule of alertRules) {
        await assertReferencesExist(prom, `alert ${rule.alert}`, rule.expr, watchedQuantity(rule.expr));
      }

      // Prometheus itself evaluates the rules without error; with one mirror in conflict exactly
      // NsyncMirrorsInConflict is pending (its `for` is 30 minutes), all others are inactive.
      // Polled: one failed scrape on a busy machine makes NsyncDown pending until the next.
      const expected = Object.fromEntries(
        alertRules.map((rule) => [
          rule.alert,
          rule.alert === 'NsyncMirrorsInConflict' ? 'pending' : 'inactive',
        ]),
      );
      await eventually(
        'every rule evaluated without error, only NsyncMirrorsInConflict pending',
        async () => {
          const data = await prom.get<{
            groups: { rules: { name: string; health: string; lastError?: string; state: string }[] }[];
          }>('/api/v1/rules');
          const evaluated = data.groups.flatMap((group) => group.rules);
          for (const rule of evaluated) {
            assert.equal(rule.health, 'ok', `rule ${rule.name}: ${rule.lastError ?? ''}`);
          }
          assert.deepEqual(Object.fromEntries(evaluated.map((rule) => [rule.name, rule.state])), expected);
          return true;
        },
        { timeoutMs: 15_000, intervalMs: 500 },
      );
      t.diagnostic(
        `${String(queries.length)} dashboard queries and ${String(alertRules.length)} alert expressions checked`,
      );
    } finally {
      await prometheus?.stop();
      await nsync?.stop();
    }
  },
);
