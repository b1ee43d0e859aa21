/**
 * S6's summary rows and chart panels: each remote set-up's medians against the set-up without a
 * remote cluster (goal ≈ 1, at most 1.15), and nsync's own remote metrics as a sanity check that
 * each set-up was what it claims (the remote up, down, or unanswered).
 */
import {
  STOP_GRACE_MS,
  type RemoteDownResult,
  type RemoteSetup,
  type WithRemote,
} from '../scenarios/remote.ts';
import type { Panel } from './chart.ts';
import type { Row } from './report.ts';

/** Goal of every S6 ratio: a remote cluster's state changes nothing locally (± the machine's noise). */
export const REMOTE_GOAL = 1.15;

const LABELS: Readonly<Record<RemoteSetup, string>> = {
  none: 'no remote',
  up: 'remote up',
  down: 'remote down (refused)',
  blackhole: 'remote blackholed (timeouts)',
};

/** Shorter, for the chart's legend. */
const SHORT: Readonly<Record<RemoteSetup, string>> = {
  none: 'no remote',
  up: 'remote up',
  down: 'remote down',
  blackhole: 'remote blackholed',
};

const fixed = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : '–');

/** What nsync's metrics say of the remote in a set-up, over its rounds: up values, errors, writes. */
function health(result: RemoteDownResult, setup: WithRemote): string {
  const runs = result.runs.filter((run) => run.setup === setup);
  const ups = [...new Set(runs.map((run) => run.remote?.up ?? NaN))].join('/');
  const sum = (pick: (run: (typeof runs)[number]) => number): number =>
    runs.reduce((total, run) => total + pick(run), 0);
  const copies =
    setup === 'up'
      ? `, copies ${String(sum((run) => run.remoteCopies?.found ?? 0))}/${String(sum((run) => run.remoteCopies?.expected ?? 0))}`
      : '';
  return `${setup}: up ${ups}, errors ${String(sum((run) => run.remote?.errors ?? 0))}, writes ${String(sum((run) => run.remote?.writes ?? 0))}${copies}`;
}

/** The S6 rows of the summary table. */
export function remoteRows(result: RemoteDownResult, load: string): Row[] {
  const { setups, ratio } = result;
  const base = setups.none;
  const rows: Row[] = [];
  for (const setup of ['down', 'blackhole', 'up'] as const) {
    const mine = setups[setup];
    const r = ratio[setup];
    const judged = setup !== 'up';
    const complete = base.complete && mine.complete;
    rows.push(
      {
        scenario: 'S6',
        measure: `${LABELS[setup]} / ${LABELS.none}: fan-out create / update, N=${String(result.namespaces)}`,
        value: `${fixed(mine.createMs)} / ${fixed(mine.updateMs)} vs ${fixed(base.createMs)} / ${fixed(base.updateMs)} ms = ${r.create.toFixed(2)} / ${r.update.toFixed(2)} (per round: ${r.pairedCreate.toFixed(2)} / ${r.pairedUpdate.toFixed(2)})`,
        goal: judged ? `≈ 1 (≤ ${String(REMOTE_GOAL)})` : '',
        met: judged ? complete && r.create <= REMOTE_GOAL && r.update <= REMOTE_GOAL : undefined,
        load: rows.length === 0 ? load : '',
      },
      {
        scenario: 'S6',
        measure: `${LABELS[setup]} / ${LABELS.none}: fan-out's further updates, N=${String(result.namespaces)}, p50 / p95 (${String(mine.fanoutUpdates.count)}×)`,
        value: `${fixed(mine.fanoutUpdates.p50)} / ${fixed(mine.fanoutUpdates.p95)} vs ${fixed(base.fanoutUpdates.p50)} / ${fixed(base.fanoutUpdates.p95)} ms = ${r.fanoutUpdatesP50.toFixed(2)} / ${r.fanoutUpdatesP95.toFixed(2)}`,
        goal: judged ? `≈ 1 (≤ ${String(REMOTE_GOAL)})` : '',
        met: judged
          ? complete && r.fanoutUpdatesP50 <= REMOTE_GOAL && r.fanoutUpdatesP95 <= REMOTE_GOAL
          : undefined,
        load: '',
      },
      {
        scenario: 'S6',
        measure: `${LABELS[setup]} / ${LABELS.none}: update → last of ${String(result.latencyNamespaces)} mirrors p50 / p95 (${String(mine.latency.count)}×)`,
        value: `${fixed(mine.latency.p50, 1)} / ${fixed(mine.latency.p95, 1)} vs ${fixed(base.latency.p50, 1)} / ${fixed(base.latency.p95, 1)} ms = ${r.p50.toFixed(2)} / ${r.p95.toFixed(2)}`,
        goal: judged ? `≈ 1 (≤ ${String(REMOTE_GOAL)})` : '',
        met: judged ? complete && r.p50 <= REMOTE_GOAL && r.p95 <= REMOTE_GOAL : undefined,
        load: '',
      },
    );
  }
  rows.push({
    scenario: 'S6',
    measure: 'nsync CPU per timed fan-out, create / update (median): none; up; down; blackhole',
    value: (['none', 'up', 'down', 'blackhole'] as const)
      .map(
        (setup) =>
          `${fixed(setups[setup].cpuSeconds.create, 2)} / ${fixed(setups[setup].cpuSeconds.update, 2)} s`,
      )
      .join('; '),
    goal: '',
    met: undefined,
    load: '',
  });
  const sane = result.runs.every((run) => {
    if (run.setup === 'none') return run.remote === undefined;
    if (run.remote === undefined) return false;
    if (run.setup === 'up')
      return run.remote.up === 1 && run.remoteCopies?.found === run.remoteCopies?.expected;
    return run.remote.up === 0;
  });
  rows.push(
    {
      scenario: 'S6',
      measure: 'nsync’s remote metrics over the rounds (sanity of the set-ups)',
      value: (['up', 'down', 'blackhole'] as const).map((setup) => health(result, setup)).join('; '),
      goal: 'up 1 / 0 / 0',
      met: sane,
      load: '',
    },
    {
      scenario: 'S6',
      measure: `mirrors correct, every set-up and round (${String(result.runs.length)} runs)`,
      value: (Object.keys(setups) as RemoteSetup[])
        .map((setup) => `${setup} ${setups[setup].complete ? 'all' : 'NOT ALL'}`)
        .join(', '),
      goal: 'all',
      met: Object.values(setups).every((summary) => summary.complete),
      load: '',
    },
    {
      scenario: 'S6',
      measure: `SIGTERM → exit, slowest: none / up / down / blackhole (SIGKILL after ${String(STOP_GRACE_MS / 1000)} s)`,
      value: (Object.keys(setups) as RemoteSetup[])
        .map((setup) => {
          const runs = result.runs.filter((run) => run.setup === setup);
          const killed = runs.filter((run) => run.stop.signal === 'SIGKILL').length;
          const slowest = Math.max(...runs.map((run) => run.stop.ms));
          return `${fixed(slowest)} ms${killed > 0 ? ` (${String(killed)}/${String(runs.length)} killed)` : ''}`;
        })
        .join(' / '),
      goal: 'exits on SIGTERM',
      met: result.runs.every((run) => run.stop.signal !== 'SIGKILL'),
      load: '',
    },
    {
      scenario: 'S6',
      measure: 'process start → /readyz 200, median: none / up / down / blackhole',
      value: `${(Object.keys(setups) as RemoteSetup[]).map((setup) => fixed(setups[setup].readyMs)).join(' / ')} ms`,
      goal: '',
      met: undefined,
      load: '',
    },
  );
  return rows;
}

/** S6's chart panels: fan-out medians and latency percentiles per set-up. */
export function remotePanels(result: RemoteDownResult): Panel[] {
  const order: readonly RemoteSetup[] = ['none', 'up', 'down', 'blackhole'];
  return [
    {
      type: 'bars',
      title: `S6 local fan-out, N=${String(result.namespaces)} (medians)`,
      unit: 'ms',
      groups: [
        {
          label: 'create',
          bars: order.map((setup) => ({ label: SHORT[setup], value: result.setups[setup].createMs })),
        },
        {
          label: 'update',
          bars: order.map((setup) => ({ label: SHORT[setup], value: result.setups[setup].updateMs })),
        },
        {
          label: 'further updates p50',
          bars: order.map((setup) => ({
            label: LABELS[setup],
            value: result.setups[setup].fanoutUpdates.p50,
          })),
        },
      ],
    },
    {
      type: 'bars',
      title: `S6 update → last of ${String(result.latencyNamespaces)} local mirrors`,
      unit: 'ms',
      groups: [
        {
          label: 'p50',
          bars: order.map((setup) => ({ label: SHORT[setup], value: result.setups[setup].latency.p50 })),
        },
        {
          label: 'p95',
          bars: order.map((setup) => ({ label: SHORT[setup], value: result.setups[setup].latency.p95 })),
        },
      ],
    },
  ];
}
