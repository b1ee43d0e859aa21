/**
 * 410 Gone while updates flow. The API server runs without its watch cache and compacts etcd
 * every 2 s, so a watch resumed from a revision older than that is answered 410 ("too old
 * resource version"). The proxy in front of it ends nsync's watches and holds the re-opened ones
 * back until the revision they resume from has been compacted; meanwhile the source is updated,
 * a namespace appears and a mirror is deleted. nsync must relist and converge exactly.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../tools/controlplane/harness.ts';
import { b64, createNamespaces, createObject, eventually, patchObject } from '../support/cluster.ts';
import { startNsync, type RunningNsync } from '../support/nsync.ts';
import { startFaultProxy, type FaultProxy } from '../support/proxy.ts';
import {
  convergedEventually,
  createManyNamespaces,
  plantUnowned,
  assertUntouched,
  sampleValue,
  Teardown,
} from './helpers.ts';

const prefix = `fg${randomBytes(2).toString('hex')}`;
let controlPlane: ControlPlane;
let proxy: FaultProxy;
let nsync: RunningNsync;

const teardown = new Teardown();

before(async () => {
  controlPlane = teardown.add(
    await startControlPlane({
      controllerManager: false,
      apiserverFlags: ['--watch-cache=false', '--etcd-compaction-interval=2s'],
    }),
    (started) => started.stop(),
  );
  proxy = teardown.add(
    await startFaultProxy({ upstream: controlPlane.server, caFile: controlPlane.caFile }),
    (started) => started.close(),
  );
  const viaProxy = {
    ...controlPlane,
    admin: { ...controlPlane.admin, kubeconfigPath: proxy.kubeconfig('admin', controlPlane.admin.token) },
  };
  nsync = teardown.add(await startNsync(viaProxy, [`${prefix}-*`]), (started) => started.stop());
});

after(() => teardown.run());

/** The newest resourceVersion of the cluster. */
async function currentRevision(): Promise<string> {
  const answer = await controlPlane.api<{ metadata: { resourceVersion: string } }>(
    'GET',
    '/api/v1/namespaces?limit=1',
  );
  return answer.body.metadata.resourceVersion;
}

/** Whether a watch from `revision` is answered 410 Gone (the revision was compacted). */
async function compacted(revision: string): Promise<boolean> {
  const answer = await controlPlane.api(
    'GET',
    `/api/v1/namespaces/default/secrets?watch=1&resourceVersion=${revision}&timeoutSeconds=1`,
  );
  if (answer.status === 410) return true;
  const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  return /"code":\s*410/.test(text);
}

test(
  '410 Gone on watch resume while updates flow: nsync relists and converges exactly',
  { timeout: 170_000 },
  async () => {
    const source = `${prefix}-src`;
    const targets = Array.from({ length: 20 }, (_, i) => `${prefix}-t-${String(i)}`);
    await createNamespaces(controlPlane, [{ name: source }]);
    await createManyNamespaces(controlPlane, targets);
    const planted = await plantUnowned(controlPlane, 'secrets', targets[4] ?? '', 'rotating');
    let latest = 'v1';
    const sourcePath = `/api/v1/namespaces/${source}/secrets/rotating`;
    const update = async (value: string): Promise<void> => {
      latest = value;
      await patchObject(controlPlane, sourcePath, { data: { v: b64(value) } });
    };
    const namespaces = [...targets];
    const desired = () =>
      new Map(
        namespaces
          .filter((namespace) => namespace !== planted.namespace)
          .map((namespace) => [`${namespace}/rotating`, { v: b64(latest) }]),
      );
    await createObject(controlPlane, 'secrets', source, {
      metadata: { name: 'rotating', annotations: { 'nsync.dev/push-to': `${prefix}-t-*` } },
      data: { v: b64(latest) },
    });
    await convergedEventually('the first fan-out', controlPlane, 'secrets', prefix, desired);

    // Cut every watch and keep the re-opened ones waiting, from a revision about to be compacted.
    const resumeFrom = await currentRevision();
    proxy.holdWatches();
    assert.ok(proxy.endWatches(true) >= 3, 'namespaces, secrets and configmaps were being watched');
    await eventually('nsync to re-open its watches (held by the proxy)', () =>
      proxy.heldWatches() >= 3 ? true : undefined,
    );

    // Updates flow while nsync cannot see them.
    await update('v2');
    const late = `${prefix}-t-late`;
    await createNamespaces(controlPlane, [{ name: late }]);
    namespaces.push(late);
    assert.equal(
      (await controlPlane.api('DELETE', `/api/v1/namespaces/${targets[0] ?? ''}/secrets/rotating`)).status,
      200,
    );
    await update('v3');
    await eventually(
      `etcd to compact revision ${resumeFrom}`,
      async () => ((await compacted(resumeFrom)) ? true : undefined),
      {
        timeoutMs: 60_000,
        intervalMs: 500,
      },
    );
    await update('v4');

    const goneBefore = sampleValue(await nsync.metrics.registry.metrics(), 'nsync_watch_restarts_total', {
      reason: 'gone',
    });
    proxy.releaseWatches();
    await update('v5');
    await convergedEventually('every mirror after the relist', controlPlane, 'secrets', prefix, desired);
    const metrics = await nsync.metrics.registry.metrics();
    assert.ok(
      sampleValue(metrics, 'nsync_watch_restarts_total', { reason: 'gone' }) > goneBefore,
      'a watch was answered 410 Gone and nsync relisted',
    );
    await assertUntouched(controlPlane, planted);
    assert.ok(nsync.controller.liveness().ok, nsync.controller.liveness().detail);
    assert.ok(nsync.controller.readiness().ok, nsync.controller.readiness().detail);
  },
);
