/**
 * The scale profile's summary rows and chart (bench/scenarios/scale.ts): the goals of issue #15's
 * scale profile, each with its measured value.
 */
import type { ScaleResult } from '../scenarios/scale.ts';
import { renderChart, type Panel } from './chart.ts';
import type { Row } from './report.ts';

const n = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : '–');
const KiB = 1024;

/** The summary rows of a scale run. */
export function summarizeScale(scale: ScaleResult): Row[] {
  const load = `${scale.load.start.loadavg[0].toFixed(2)}→${scale.load.end.loadavg[0].toFixed(2)}`;
  const last = scale.steps.at(-1);
  const first = scale.steps[0];
  const best = [...scale.floors].sort((a, b) => a.totalMs - b.totalMs)[0];
  const perMirror = last === undefined ? NaN : (last.memory.liveHeapMiB * KiB) / last.mirrors;
  // What each further mirror costs: the slope between the first and the last batch.
  const slope =
    first === undefined || last === undefined || last.mirrors === first.mirrors
      ? NaN
      : ((last.memory.liveHeapMiB - first.memory.liveHeapMiB) * KiB) / (last.mirrors - first.mirrors);
  const rows: Row[] = [
    {
      scenario: 'SC',
      measure: `initial sync of ${String(scale.mirrors)} mirrors (${String(scale.namespaces)} ns × ${String(scale.sources)} sources, ${String(scale.steps.length)} batches): nsync / best floor${best === undefined ? '' : ` (${best.kind}, c=${String(best.concurrency)})`}`,
      value: `${n(scale.syncMs / 1000, 1)} / ${best === undefined ? '–' : n(best.totalMs / 1000, 1)} s = ${best === undefined ? '–' : (scale.syncMs / best.totalMs).toFixed(2)}`,
      goal: '',
      met: undefined,
      load,
    },
    {
      scenario: 'SC',
      measure: 'floors, the same objects: ' + scale.floors.map((floor) => floor.kind).join('; '),
      value:
        scale.floors
          .map((floor) => `${n(floor.totalMs / 1000, 1)} s (c=${String(floor.concurrency)})`)
          .join('; ') + (scale.goFloorUnavailable === undefined ? '' : `; ${scale.goFloorUnavailable}`),
      goal: '',
      met: undefined,
      load: '',
    },
    {
      scenario: 'SC',
      measure: 'mirrors correct (data LIST)',
      value: `${String(scale.dataCheck.checked - scale.dataCheck.wrong)}/${String(scale.dataCheck.checked)}`,
      goal: 'all',
      met: scale.dataCheck.wrong === 0 && scale.dataCheck.checked >= scale.mirrors,
      load: '',
    },
    {
      scenario: 'SC',
      measure: 'writes while idle / across a restart / over 3 forced resyncs',
      value: `${String(scale.idle.writes)} / ${String(scale.restart.window.writes)} / ${String(scale.resync.window.writes)}`,
      goal: '0 / 0 / 0',
      met: scale.idle.writes + scale.restart.window.writes + scale.resync.window.writes === 0,
      load: '',
    },
    {
      scenario: 'SC',
      measure: 'restart: process start → ready / every source reconciled',
      value: `${n(scale.restart.readyMs / 1000, 2)} / ${n(scale.restart.reconciledMs / 1000, 2)} s`,
      goal: '',
      met: undefined,
      load: '',
    },
    {
      scenario: 'SC',
      measure: `image runtime at ${String(last?.mirrors ?? 0)} mirrors, 10 s after the sync: RSS / live heap (per mirror; per added mirror)`,
      value:
        last === undefined
          ? '–'
          : `${n(last.memory.rssMiB, 1)} MiB / ${n(last.memory.liveHeapMiB, 1)} MiB (${n(perMirror, 2)} KiB; ${n(slope, 2)} KiB)`,
      goal: 'live heap ≤ 1 KiB per mirror',
      met: last === undefined ? false : perMirror <= 1,
      load: '',
    },
    {
      scenario: 'SC',
      measure: `the same after ${String(scale.idle.seconds)} s idle (V8's memory reducer has run): RSS / live heap`,
      value: `${n(scale.memoryIdle.rssMiB, 1)} MiB / ${n(scale.memoryIdle.liveHeapMiB, 1)} MiB`,
      goal: 'RSS < 256 MiB',
      met: scale.memoryIdle.rssMiB < 256,
      load: '',
    },
    {
      scenario: 'SC',
      measure: `the same after a restart (listed, not written): RSS / live heap`,
      value: `${n(scale.memoryAfterRestart.rssMiB, 1)} MiB / ${n(scale.memoryAfterRestart.liveHeapMiB, 1)} MiB`,
      goal: 'RSS < 256 MiB',
      met: scale.memoryAfterRestart.rssMiB < 256,
      load: '',
    },
    {
      scenario: 'SC',
      measure: `growth ${String(first?.mirrors ?? 0)} → ${String(last?.mirrors ?? 0)} mirrors: RSS, live heap`,
      value:
        first === undefined || last === undefined
          ? '–'
          : `${n(first.memory.rssMiB)} → ${n(last.memory.rssMiB)} MiB, ${n(first.memory.liveHeapMiB, 1)} → ${n(last.memory.liveHeapMiB, 1)} MiB`,
      goal: '',
      met: undefined,
      load: '',
    },
  ];
  return rows;
}

/** The scale run's chart: memory and sync time against mirrors. */
export function chartScale(scale: ScaleResult, title: string, subtitle: string): string {
  const panels: Panel[] = [
    {
      type: 'lines',
      title: `Memory of the image runtime vs mirrors (${String(scale.namespaces)} namespaces)`,
      xLabel: 'mirrors',
      unit: 'MiB',
      dots: true,
      xTicks: scale.steps.map((step) => step.mirrors),
      series: [
        {
          label: 'RSS 10 s after a batch',
          points: scale.steps.map((step) => [step.mirrors, step.memory.rssMiB] as const),
        },
        {
          label: 'RSS, idle',
          points: [[scale.mirrors, scale.memoryIdle.rssMiB] as const],
        },
        {
          label: 'live heap',
          points: scale.steps.map((step) => [step.mirrors, step.memory.liveHeapMiB] as const),
        },
      ],
      goal: { value: 256, label: 'RSS goal 256 MiB' },
    },
    {
      type: 'bars',
      title: `Sync of each batch of ${String(scale.steps[0]?.sources ?? 0)} sources`,
      unit: 's',
      groups: scale.steps.map((step, i) => ({
        label: `→ ${String(step.mirrors / 1000)}k`,
        bars: [
          { label: 'nsync', value: step.syncMs / 1000 },
          ...scale.floors.map((floor) => ({
            label: `${floor.kind} floor`,
            value: (floor.batchMs[i] ?? NaN) / 1000,
          })),
        ],
      })),
    },
  ];
  return renderChart(title, subtitle, panels);
}
