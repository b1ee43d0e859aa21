/**
 * The chart's alerts as Prometheus reads them: the PrometheusRule rendered by helm, its `spec`
 * written as a plain rules file, and promtool's checks of it (syntax, then the unit tests in
 * test/prometheus/alerts.test.yaml: each alert fires where it is meant to and stays quiet in a
 * healthy state). test/monitoring.test.ts runs the same checks in `npm test`.
 *
 * Run alone (needs Go for helm and promtool from Debian's `prometheus` package):
 *   npm run test:alerts
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

const root = join(import.meta.dirname, '..', '..');
export const CHART_DIR = join(root, 'deploy', 'chart', 'nsync');
/** The release the unit tests are written for: its selectors are job="nsync",namespace="nsync". */
export const RELEASE = 'nsync';
export const RELEASE_NAMESPACE = 'nsync';
export const ALERT_TESTS = join(root, 'test', 'prometheus', 'alerts.test.yaml');
/** The rules file name that ALERT_TESTS loads, relative to itself. */
const RULES_FILE_NAME = 'rules.yaml';

/** One alerting rule of the rendered PrometheusRule. */
export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The `spec` of a PrometheusRule, which is exactly a Prometheus rules file. */
export interface RuleGroups {
  groups: { name: string; rules: AlertRule[] }[];
}

/** The full path of an executable on PATH, or undefined. */
export function findExecutable(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

let helmPath: string | undefined;

/** helm, built once per machine from the Go module proxy by tools/helm/build.sh (cached). */
export function helmBinary(): string {
  helmPath ??= join(
    execFileSync('bash', [join(root, 'tools', 'helm', 'build.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
      .trim()
      .split('\n')
      .at(-1) ?? '',
    'helm',
  );
  return helmPath;
}

/** One object the chart renders for RELEASE in RELEASE_NAMESPACE, with every monitoring option on. */
export function renderTemplate(template: string): { kind?: string; metadata?: { name?: string } } {
  const text = execFileSync(
    helmBinary(),
    [
      'template',
      RELEASE,
      CHART_DIR,
      '--namespace',
      RELEASE_NAMESPACE,
      '--set',
      'prometheusRule.enabled=true,serviceMonitor.enabled=true,grafanaDashboard.enabled=true',
      '--show-only',
      template,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [document, ...rest] = parseAllDocuments(text);
  if (document === undefined || rest.length > 0 || document.errors.length > 0) {
    throw new Error(`helm rendered something other than one object for ${template}:\n${text}`);
  }
  return document.toJS() as { kind?: string };
}

/** The chart's PrometheusRule `spec` for RELEASE in RELEASE_NAMESPACE. */
export function renderAlertRules(): RuleGroups {
  const rule = renderTemplate('templates/prometheusrule.yaml') as { kind?: string; spec?: RuleGroups };
  if (rule.kind !== 'PrometheusRule' || rule.spec === undefined) {
    throw new Error(`helm rendered a ${String(rule.kind)} without spec instead of a PrometheusRule`);
  }
  return rule.spec;
}

/** Writes the rules file and, beside it, the unit tests that load it; returns both paths. */
export function writeRules(dir: string, groups: RuleGroups): { rules: string; tests: string } {
  const rules = join(dir, RULES_FILE_NAME);
  const tests = join(dir, 'alerts.test.yaml');
  writeFileSync(rules, stringify(groups));
  copyFileSync(ALERT_TESTS, tests);
  return { rules, tests };
}

if (import.meta.main) {
  const promtool = findExecutable('promtool');
  if (promtool === undefined) {
    process.stderr.write("promtool not found: install Debian's prometheus package (.ci/run does)\n");
    process.exit(1);
  }
  const dir = mkdtempSync(join(tmpdir(), 'nsync-rules-'));
  let status = 0;
  try {
    const { rules, tests } = writeRules(dir, renderAlertRules());
    for (const args of [
      ['check', 'rules', rules],
      ['test', 'rules', tests],
    ]) {
      status = spawnSync(promtool, args, { stdio: 'inherit', cwd: dir }).status ?? 1;
      if (status !== 0) break;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(status);
}
