/**
 * Turns scenario results into the summary table (stdout), the JSON file and the SVG chart.
 */
import type { FanoutResult } from '../scenarios/fanout.ts';
import type { IdleResult } from '../scenarios/idle.ts';
import type { LatencyResult } from '../scenarios/latency.ts';
import type { RemoteDownResult } from '../scenarios/remote.ts';
import type { ScaleResult } from '../scenarios/scale.ts';
import { renderChart, type Panel } from './chart.ts';
import type { Load } from './machine.ts';
import { remotePanels, remoteRows } from './report-remote.ts';

/** A scenario that crashed instead of producing numbers. */
export interface Failed {
  readonly error: string;
}

/** Everything one run produced. */
export interface Results {
  readonly profile: string;
  readonly date: string;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: Readonly<Record<string, string | number>>;
  readonly git: { readonly commit: string; readonly uncommittedSrcFiles: number };
  readonly settings: unknown;
  readonly load: { readonly start: Load; readonly end: Load };
  readonly fanout?: FanoutResult | Failed;
  readonly latency?: LatencyResult | Failed;
  readonly idle?: IdleResult | Failed;
  readonly scale?: ScaleResult | Failed;
  readonly remote?: RemoteDownResult | Failed;
  readonly summary: readonly Row[];
}

/** One line of the summary table. */
export interface Row {
  readonly scenario: string;
  readonly measure: string;
  readonly value: string;
  readonly goal: string;
  /** undefined: information, no goal. */
  readonly met: boolean | undefined;
  /** 1-minute load average at the scenario's start → end. */
  readonly load: string;
}

function failed(result: object | undefined): result is Failed {
  return result !== undefined && 'error' in result;
}

const loadOf = (start: Load, end: Load): string =>
  `${start.loadavg[0].toFixed(2)}→${end.loadavg[0].toFixed(2)}`;
const n = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : '–');

/** The summary rows of whatever ran. */
export function summarize(
  fanout: FanoutResult | Failed | undefined,
  latency: LatencyResult | Failed | undefined,
  idle: IdleResult | Failed | undefined,
  remote?: RemoteDownResult | Failed,
): Row[] {
  const rows: Row[] = [];
  if (failed(fanout))
    rows.push({ scenario: 'S1', measure: 'failed', value: fanout.error, goal: '', met: false, load: '' });
  else if (fanout !== undefined) {
    const load = loadOf(fanout.load.start, fanout.load.end);
    const { nsync, floor, goFloor, bestFloor, ratio, pairedRatio } = fanout.median;
    const complete = fanout.rounds.every(
      (r) => r.nsync.create.done && r.nsync.update.done && r.nsync.dataCheck.wrong === 0,
    );
    const goBest = 'unavailable' in fanout.goFloor ? undefined : fanout.goFloor;
    const floorName = (kind: 'node' | 'go', phase: 'create' | 'update'): string =>
      kind === 'go'
        ? `client-go h2 floor (c=${String(goBest?.[`${phase}Concurrency`] ?? '?')})`
        : `Node h1 floor (c=${String(fanout.best[`${phase}Concurrency`])})`;
    const floorMs = (kind: 'node' | 'go', phase: 'createMs' | 'updateMs'): number =>
      kind === 'go' && goFloor !== undefined ? goFloor[phase] : floor[phase];
    rows.push(
      {
        scenario: 'S1',
        measure: `fan-out create, N=${String(fanout.namespaces)}: nsync / best floor, ${floorName(bestFloor.create, 'create')}`,
        value: `${n(nsync.createMs)} / ${n(floorMs(bestFloor.create, 'createMs'))} ms = ${ratio.create.toFixed(2)} (per round: ${pairedRatio.create.toFixed(2)})`,
        goal: '≤ 1.15',
        met: complete && ratio.create <= 1.15,
        load,
      },
      {
        scenario: 'S1',
        measure: `fan-out update, N=${String(fanout.namespaces)}: nsync / best floor, ${floorName(bestFloor.update, 'update')}`,
        value: `${n(nsync.updateMs)} / ${n(floorMs(bestFloor.update, 'updateMs'))} ms = ${ratio.update.toFixed(2)} (per round: ${pairedRatio.update.toFixed(2)})`,
        goal: '≤ 1.15',
        met: complete && ratio.update <= 1.15,
        load: '',
      },
      {
        scenario: 'S1',
        measure: 'floors, create / update: Node h1; client-go h2',
        value: `${n(floor.createMs)} / ${n(floor.updateMs)} ms; ${
          goFloor === undefined
            ? 'unavailable' in fanout.goFloor
              ? fanout.goFloor.unavailable
              : '–'
            : `${n(goFloor.createMs)} / ${n(goFloor.updateMs)} ms`
        }`,
        goal: '',
        met: undefined,
        load: '',
      },
      {
        scenario: 'S1',
        measure: "nsync's first fan-out after start (cold): create / update",
        value: `${n(fanout.warmup.create.ms)} / ${n(fanout.warmup.update.ms)} ms`,
        goal: '',
        met: undefined,
        load: '',
      },
      {
        scenario: 'S1',
        measure: `mirrors correct (data LIST, ${String(fanout.rounds.length)} rounds)`,
        value: fanout.rounds
          .map(
            (r) =>
              `${String(r.nsync.dataCheck.checked - r.nsync.dataCheck.wrong)}/${String(fanout.namespaces)}`,
          )
          .join(', '),
        goal: 'all',
        met: complete,
        load: '',
      },
    );
    const update = fanout.apiCost.update;
    const writes = ['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY'].reduce(
      (total, verb) => total + (update[`${verb} secrets`] ?? 0),
      0,
    );
    const reads = Object.entries(update)
      .filter(([key]) => /^(GET|LIST|WATCH) /.test(key))
      .reduce((total, [, value]) => total + value, 0);
    rows.push(
      {
        scenario: 'S5',
        measure: 'requests per mirror per source update',
        value: Object.entries(update)
          .map(([key, value]) => `${key} ${value.toFixed(3)}`)
          .join(', '),
        goal: '1 write, no reads',
        met: Math.abs(writes - 1) < 0.01 && reads <= 1 / fanout.namespaces + 1e-9,
        load,
      },
      {
        scenario: 'S5',
        measure: 'requests per mirror at creation',
        value: Object.entries(fanout.apiCost.create)
          .map(([key, value]) => `${key} ${value.toFixed(3)}`)
          .join(', '),
        goal: '',
        met: undefined,
        load: '',
      },
    );
  }
  if (failed(latency))
    rows.push({ scenario: 'S2', measure: 'failed', value: latency.error, goal: '', met: false, load: '' });
  else if (latency !== undefined) {
    const { update, newNamespace } = latency;
    rows.push(
      {
        scenario: 'S2',
        measure: `source update → last of ${String(latency.namespaces)} mirrors (${String(update.count)}×) p50/p95/p99`,
        value: `${n(update.p50)} / ${n(update.p95)} / ${n(update.p99)} ms${update.failed > 0 ? ` (${String(update.failed)} timed out)` : ''}`,
        goal: 'p99 < 250 ms',
        met: update.failed === 0 && latency.inconsistentUpdates === 0 && update.p99 < 250,
        load: loadOf(latency.load.start, latency.load.end),
      },
      {
        scenario: 'S2',
        measure: `new namespace → its mirror (${String(newNamespace.count)}×) p50/p95/p99`,
        value: `${n(newNamespace.p50)} / ${n(newNamespace.p95)} / ${n(newNamespace.p99)} ms${newNamespace.failed > 0 ? ` (${String(newNamespace.failed)} timed out)` : ''}`,
        goal: 'p99 < 250 ms',
        met: newNamespace.failed === 0 && newNamespace.p99 < 250,
        load: '',
      },
    );
  }
  if (failed(idle))
    rows.push({ scenario: 'S3', measure: 'failed', value: idle.error, goal: '', met: false, load: '' });
  else if (idle !== undefined) {
    const load = loadOf(idle.load.start, idle.load.end);
    const { restart, memory } = idle;
    rows.push(
      {
        scenario: 'S3',
        measure: `writes while idle, ${String(idle.namespaces)} ns × ${String(idle.sources)} sources (${String(idle.idle.seconds)} s)`,
        value: String(idle.idle.writes),
        goal: '0',
        met: idle.setup.done && idle.idle.writes === 0,
        load,
      },
      {
        scenario: 'S3',
        measure: `status writes of ${String(idle.resources)} ClusterMirrors: idle / restart / resyncs`,
        value: `${String(idle.idle.statusWrites)} / ${String(restart.window.statusWrites)} / ${String(idle.resync.window.statusWrites)}`,
        goal: '0 / 0 / 0',
        met: idle.idle.statusWrites + restart.window.statusWrites + idle.resync.window.statusWrites === 0,
        load: '',
      },
      {
        scenario: 'S3',
        measure: 'writes during restart (SIGTERM → reconciled)',
        value: String(restart.window.writes),
        goal: '0',
        met: restart.window.writes === 0,
        load: '',
      },
      {
        scenario: 'S3',
        measure: `writes / reads over 3 forced resyncs (--resync-period=${String(idle.resync.periodSeconds)}s)`,
        value: `${String(idle.resync.window.writes)} / ${String(idle.resync.window.gets + idle.resync.window.lists)} (${String(idle.resync.window.nsyncReconciles)} reconciles)`,
        goal: '0 / 0',
        met: idle.resync.window.writes === 0 && idle.resync.window.gets + idle.resync.window.lists === 0,
        load: '',
      },
      {
        scenario: 'S3',
        measure: 'process start → /readyz 200',
        value: `${n(restart.readyMs)} ms`,
        goal: '< 5000 ms',
        met: restart.readyMs < 5000,
        load: '',
      },
      {
        scenario: 'S3',
        measure: 'process start → all sources reconciled',
        value: `${n(restart.reconciledMs)} ms${restart.settled ? '' : ' (not settled)'}`,
        goal: '',
        met: undefined,
        load: '',
      },
    );
    const k = `${String(memory.unrelatedSecrets)}×${String(memory.unrelatedKiB)} KiB Secrets, ${String(memory.unrelatedRoles)} Roles + ${String(memory.unrelatedRoleBindings)} RoleBindings`;
    for (const runtime of ['checkout', 'compiled'] as const) {
      const { without, with: withUnrelated } = memory[runtime];
      const label = runtime === 'checkout' ? 'bin/nsync.js (checkout)' : 'compiled dist (image)';
      rows.push(
        {
          scenario: 'S4',
          measure: `RSS, ${label}: without / with ${k} unrelated`,
          value: `${n(without.rssMiB, 1)} / ${n(withUnrelated.rssMiB, 1)} MiB (Δ ${n(withUnrelated.rssMiB - without.rssMiB, 1)})`,
          goal: '< 150 MiB, Δ ≤ 20',
          met:
            Math.max(without.rssMiB, withUnrelated.rssMiB) < 150 &&
            Math.abs(withUnrelated.rssMiB - without.rssMiB) <= 20,
          load: runtime === 'checkout' ? load : '',
        },
        {
          scenario: 'S4',
          measure: `live heap (after full GC), ${label}: without / with`,
          value: `${n(without.liveHeapMiB, 1)} / ${n(withUnrelated.liveHeapMiB, 1)} MiB (Δ ${n(withUnrelated.liveHeapMiB - without.liveHeapMiB, 1)})`,
          goal: 'Δ ≤ 20',
          met: Math.abs(withUnrelated.liveHeapMiB - without.liveHeapMiB) <= 20,
          load: '',
        },
      );
    }
    rows.push({
      scenario: 'S4',
      measure: 'reference RSS: bare node / node + nsync’s runtime libraries',
      value: `${n(memory.reference.bareNodeMiB)} / ${n(memory.reference.librariesMiB)} MiB`,
      goal: '',
      met: undefined,
      load: '',
    });
  }
  if (failed(remote))
    rows.push({ scenario: 'S6', measure: 'failed', value: remote.error, goal: '', met: false, load: '' });
  else if (remote !== undefined) rows.push(...remoteRows(remote, loadOf(remote.load.start, remote.load.end)));
  return rows;
}

/** The summary as a text table. */
export function table(rows: readonly Row[]): string {
  const header: Row = {
    scenario: '',
    measure: 'Measure',
    value: 'Value',
    goal: 'Goal',
    met: undefined,
    load: 'Load 1m',
  };
  const cells = (row: Row, isHeader = false): string[] => [
    row.scenario,
    row.measure,
    row.value,
    row.goal,
    isHeader ? 'Met' : row.met === undefined ? '' : row.met ? 'yes' : 'NO',
    row.load,
  ];
  const all = [cells(header, true), ...rows.map((row) => cells(row))];
  const widths = all[0]?.map((_, i) => Math.max(...all.map((line) => (line[i] ?? '').length))) ?? [];
  const line = (values: string[]): string =>
    values
      .map((value, i) => value.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(all[0] ?? []), line(widths.map((w) => '-'.repeat(w))), ...all.slice(1).map(line)].join('\n');
}

/** The chart of a run. */
export function chart(results: Results): string {
  const panels: Panel[] = [];
  const { fanout, latency, idle } = results;
  if (fanout !== undefined && !failed(fanout)) {
    panels.push({
      type: 'bars',
      title: `S1 fan-out to ${String(fanout.namespaces)} namespaces (median of ${String(fanout.rounds.length)})`,
      unit: 'ms',
      groups: [
        {
          label: 'create',
          bars: [
            { label: 'nsync', value: fanout.median.nsync.createMs },
            { label: 'Node h1 floor', value: fanout.median.floor.createMs },
            ...(fanout.median.goFloor === undefined
              ? []
              : [{ label: 'client-go h2 floor', value: fanout.median.goFloor.createMs }]),
          ],
        },
        {
          label: 'update',
          bars: [
            { label: 'nsync', value: fanout.median.nsync.updateMs },
            { label: 'Node h1 floor', value: fanout.median.floor.updateMs },
            ...(fanout.median.goFloor === undefined
              ? []
              : [{ label: 'client-go h2 floor', value: fanout.median.goFloor.updateMs }]),
          ],
        },
      ],
    });
    panels.push({
      type: 'lines',
      title: `S1 floors: N writes vs client concurrency (N=${String(fanout.namespaces)})`,
      xLabel: 'concurrent requests',
      unit: 'ms',
      dots: true,
      series: (['node', 'go'] as const).flatMap((kind) => {
        const runs = fanout.sweep.filter((run) => run.kind === kind);
        if (runs.length === 0) return [];
        const name = kind === 'go' ? 'client-go' : 'Node';
        return [
          {
            label: `${name} create`,
            points: runs.map((run) => [run.createConcurrency, run.createMs] as const),
          },
          {
            label: `${name} update`,
            points: runs.map((run) => [run.updateConcurrency, run.updateMs] as const),
          },
        ];
      }),
    });
  }
  if (latency !== undefined && !failed(latency)) {
    const cdf = (samples: readonly number[]): (readonly [number, number])[] =>
      [...samples]
        .sort((a, b) => a - b)
        .map((value, i, all) => [((i + 1) / all.length) * 100, value] as const);
    panels.push({
      type: 'lines',
      title: `S2 latency, ${String(latency.namespaces)} mirrors (sorted samples)`,
      xLabel: 'percentile',
      xRange: [0, 100],
      xTicks: [0, 25, 50, 75, 90, 100],
      unit: 'ms',
      goal: { value: 250, label: 'goal p99 < 250 ms' },
      series: [
        {
          label: `source update → last mirror (${String(latency.update.count)})`,
          points: cdf(latency.update.samples),
        },
        {
          label: `new namespace → mirror (${String(latency.newNamespace.count)})`,
          points: cdf(latency.newNamespace.samples),
        },
      ],
    });
  }
  if (idle !== undefined && !failed(idle)) {
    const { memory } = idle;
    panels.push({
      type: 'bars',
      title: `S4 nsync memory, ${String(idle.mirrors)} mirrors, ± ${String(memory.unrelatedSecrets)} unrelated Secrets`,
      unit: 'MiB',
      goal: { value: 150, label: 'RSS goal 150 MiB' },
      groups: [
        {
          label: 'RSS checkout',
          bars: [
            { label: 'without', value: memory.checkout.without.rssMiB },
            {
              label: `with ${String(memory.unrelatedSecrets)}×${String(memory.unrelatedKiB)} KiB`,
              value: memory.checkout.with.rssMiB,
            },
          ],
        },
        {
          label: 'RSS compiled',
          bars: [
            { label: 'without', value: memory.compiled.without.rssMiB },
            { label: 'with', value: memory.compiled.with.rssMiB },
          ],
        },
        {
          label: 'live heap checkout',
          bars: [
            { label: 'without', value: memory.checkout.without.liveHeapMiB },
            { label: 'with', value: memory.checkout.with.liveHeapMiB },
          ],
        },
        {
          label: 'live heap compiled',
          bars: [
            { label: 'without', value: memory.compiled.without.liveHeapMiB },
            { label: 'with', value: memory.compiled.with.liveHeapMiB },
          ],
        },
      ],
    });
  }
  if (results.remote !== undefined && !failed(results.remote)) panels.push(...remotePanels(results.remote));
  return renderChart(
    `nsync benchmark — ${results.profile} profile, ${results.date}`,
    `${String(results.machine['cpus'])} × ${String(results.machine['cpuModel'])}, ${String(results.machine['node'])}; load ${results.load.start.loadavg[0].toFixed(2)} → ${results.load.end.loadavg[0].toFixed(2)}; commit ${results.git.commit}`,
    panels,
  );
}
