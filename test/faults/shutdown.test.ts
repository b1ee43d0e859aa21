/**
 * SIGTERM while the API server goes away at the same moment: `nsync run` must still exit 0 with
 * its final log line, every time. The Lease release at shutdown used to reject on ECONNRESET with
 * nobody awaiting it, and the process died with exit 1 in most trials. The two events are spread
 * over a few orders and gaps, repeated enough to catch the race; any unhandled rejection or
 * uncaught exception in the process is caught by its own handler (src/cli/crash.ts), which logs
 * "a bug in nsync" and exits 70 — so a race that loses shows up here as that line and code.
 *
 * It stops the API server, so it runs on a control plane of its own.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../tools/controlplane/harness.ts';
import { eventually } from '../support/cluster.ts';
import { logMessages, SOAK, spawnNsync, Teardown } from './helpers.ts';

/** Trials: enough orders and gaps to hit the race; FAULT_SOAK=1 runs many more. */
const TRIALS = SOAK ? 40 : 8;
/** Milliseconds between the first and the second of the two events, by trial. */
const GAPS = [0, 0, 10, 10, 40, 40, 150, 150];

const teardown = new Teardown();
let controlPlane: ControlPlane;

before(async () => {
  controlPlane = teardown.add(await startControlPlane({ controllerManager: false }), (started) =>
    started.stop(),
  );
});

after(() => teardown.run());

test(
  `SIGTERM while the API server stops, ${String(TRIALS)} trials: exit 0 and "nsync stopped" every time`,
  { timeout: SOAK ? 1_800_000 : 170_000 },
  async (t) => {
    let unreleased = 0;
    for (let trial = 0; trial < TRIALS; trial += 1) {
      const apiFirst = trial % 2 === 1;
      const gapMs = GAPS[trial % GAPS.length] ?? 0;
      const nsync = spawnNsync(controlPlane.admin.kubeconfigPath, `sd${String(trial)}`, [
        '--leader-elect=true',
        '--lease-namespace=default',
        `--lease-name=shutdown-${String(trial)}`,
        '--retry-period=500ms',
      ]);
      let restarted: Promise<void> = Promise.resolve();
      try {
        await eventually(
          `trial ${String(trial)}: nsync to lead`,
          () => (logMessages(nsync.stderr()).includes('leading: writes enabled') ? true : undefined),
          { timeoutMs: 60_000, intervalMs: 20 },
        );
        const terminate = (): void => {
          nsync.child.kill('SIGTERM');
        };
        // restartApiServer() sends the API server its SIGTERM at once, then waits for it to be gone
        // and for the new one to be ready.
        const gap = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, gapMs));
        if (apiFirst) {
          restarted = controlPlane.restartApiServer();
          await gap();
          terminate();
        } else {
          terminate();
          await gap();
          restarted = controlPlane.restartApiServer();
        }
        const code = await Promise.race([
          nsync.exited,
          new Promise<string>((resolve) => {
            setTimeout(() => {
              resolve('no exit within 60 s');
            }, 60_000).unref();
          }),
        ]);
        const said = logMessages(nsync.stderr());
        const context = `trial ${String(trial)} (${apiFirst ? 'API server' : 'nsync'} first, gap ${String(gapMs)} ms); stderr:\n${nsync.stderr().slice(-3000)}`;
        assert.ok(!said.some((msg) => msg.endsWith('a bug in nsync')), `no unhandled rejection: ${context}`);
        assert.equal(code, 0, `exit 0: ${context}`);
        assert.equal(said.at(-1), 'nsync stopped', `the last log line: ${context}`);
        if (said.some((msg) => msg.startsWith('could not release the Lease'))) unreleased += 1;
      } finally {
        await nsync.kill();
        await restarted;
      }
    }
    // Evidence the trials hit the race: in some, the API server was gone when the Lease was released.
    t.diagnostic(
      `${String(unreleased)} of ${String(TRIALS)} trials could not release the Lease (API server gone)`,
    );
    assert.ok(unreleased > 0, 'at least one trial stopped while the API server was unreachable');
  },
);
