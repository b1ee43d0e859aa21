/**
 * The control plane restarted under nsync in the middle of a fan-out: first kube-apiserver, then
 * etcd. Afterwards the cluster holds exactly the desired state — every mirror, with the latest
 * data, nothing duplicated or extra — and an unowned object in the way was never touched.
 *
 * These restart the API server and etcd, so they run on a control plane of their own.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../tools/controlplane/harness.ts';
import { b64, createNamespaces, createObject, eventually, patchObject } from '../support/cluster.ts';
import { startNsync, type RunningNsync } from '../support/nsync.ts';
import {
  assertUntouched,
  convergedEventually,
  createManyNamespaces,
  FANOUT,
  listObjects,
  MANAGED,
  plantUnowned,
  SOAK,
  Teardown,
  type DesiredMirrors,
} from './helpers.ts';

const prefix = `fr${randomBytes(2).toString('hex')}`;
const targets = Array.from({ length: FANOUT }, (_, i) => `${prefix}-t-${String(i)}`);
const source = `${prefix}-src`;
let controlPlane: ControlPlane;
let nsync: RunningNsync;

const teardown = new Teardown();

before(async () => {
  controlPlane = teardown.add(await startControlPlane({ controllerManager: false }), (started) =>
    started.stop(),
  );
  await createNamespaces(controlPlane, [{ name: source }]);
  await createManyNamespaces(controlPlane, targets);
  // Few writes in flight at once, so that the fan-out is still going when the fault hits.
  nsync = teardown.add(
    await startNsync(controlPlane, [`${prefix}-*`], ['--write-concurrency=4']),
    (started) => started.stop(),
  );
});

after(() => teardown.run());

/** Every target namespace but the one holding an unowned object, with `value`. */
function desiredFor(name: string, blocked: string, value: () => string): () => DesiredMirrors {
  return () =>
    new Map(
      targets
        .filter((namespace) => namespace !== blocked)
        .map((namespace) => [`${namespace}/${name}`, { v: b64(value()) }]),
    );
}

/** Mirrors of one source that exist now. */
async function mirrorCount(name: string): Promise<number> {
  const mirrors = await listObjects(controlPlane, 'secrets', prefix, MANAGED);
  return mirrors.filter((mirror) => mirror.metadata.name === name).length;
}

/**
 * Creates a source pushing to every target namespace, lets the fan-out start, injects `fault`,
 * updates the source twice, and checks the exact end state.
 */
async function faultMidFanout(
  name: string,
  fault: () => Promise<void>,
  diagnostic: (line: string) => void,
): Promise<void> {
  const blocked = targets[7] ?? '';
  const planted = await plantUnowned(controlPlane, 'secrets', blocked, name);
  let latest = 'v1';
  await createObject(controlPlane, 'secrets', source, {
    metadata: { name, annotations: { 'nsync.dev/push-to': `${prefix}-t-*` } },
    data: { v: b64(latest) },
  });
  const before = await eventually(
    'the fan-out to start',
    async () => {
      const count = await mirrorCount(name);
      return count >= 5 ? count : undefined;
    },
    { intervalMs: 20 },
  );
  diagnostic(`${String(before)} of ${String(targets.length - 1)} mirrors existed when the fault hit`);
  await fault();
  // Updates right after the fault, while nsync is still recovering: none may be lost.
  for (const version of ['v2', 'v3']) {
    latest = version;
    await patchObject(controlPlane, `/api/v1/namespaces/${source}/secrets/${name}`, {
      data: { v: b64(version) },
    });
  }
  const mirrors = await convergedEventually(
    `every mirror of ${name} with the latest data`,
    controlPlane,
    'secrets',
    prefix,
    () => {
      const wanted = desiredFor(name, blocked, () => latest)();
      // The earlier test's mirrors must still be exactly as it left them.
      return new Map([...wanted, ...otherMirrors(name)]);
    },
    SOAK ? 600_000 : 150_000,
  );
  for (const mirror of mirrors.filter((object) => object.metadata.name === name)) {
    assert.equal(mirror.metadata.annotations?.['nsync.dev/source'], `${source}/${name}`);
  }
  await assertUntouched(controlPlane, planted);
  assert.ok(nsync.controller.liveness().ok, nsync.controller.liveness().detail);
}

/** Sources whose mirrors the earlier tests of this file left in place, and their last data. */
const finished = new Map<string, { blocked: string; value: string }>();

function otherMirrors(except: string): DesiredMirrors {
  const all = new Map<string, Record<string, string>>();
  for (const [name, { blocked, value }] of finished) {
    if (name === except) continue;
    for (const [key, data] of desiredFor(name, blocked, () => value)()) all.set(key, data);
  }
  return all;
}

test(
  `kube-apiserver restarted in the middle of a fan-out to ${String(FANOUT)} namespaces: exact convergence`,
  { timeout: SOAK ? 900_000 : 170_000 },
  async (t) => {
    await faultMidFanout(
      'fan-api',
      () => controlPlane.restartApiServer(),
      (line) => {
        t.diagnostic(line);
      },
    );
    // The restart was seen: the watches broke and were re-established.
    const restarts = await nsync.metrics.registry.getSingleMetricAsString('nsync_watch_restarts_total');
    assert.match(restarts, /resource="secrets",reason="(error|closed)"\} [1-9]/);
    finished.set('fan-api', { blocked: targets[7] ?? '', value: 'v3' });
  },
);

test(
  `etcd restarted in the middle of a fan-out to ${String(FANOUT)} namespaces: exact convergence`,
  { timeout: SOAK ? 900_000 : 170_000 },
  async (t) => {
    await faultMidFanout(
      'fan-etcd',
      () => controlPlane.restartEtcd(),
      (line) => {
        t.diagnostic(line);
      },
    );
    finished.set('fan-etcd', { blocked: targets[7] ?? '', value: 'v3' });
  },
);
