/**
 * nsync as a process that dies: SIGKILLed in the middle of a fan-out (no drain, writes cut
 * wherever they were), and down while the cluster changes under it. Each restart must converge
 * to exactly the desired state from what it finds — level-based, durable cleanup (dialects.md
 * §4.6) — without touching anything it does not own.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  b64,
  createNamespaces,
  createObject,
  eventually,
  getObject,
  patchObject,
  sharedCluster,
} from '../support/cluster.ts';
import {
  assertUntouched,
  convergedEventually,
  createManyNamespaces,
  FANOUT,
  listObjects,
  MANAGED,
  plantUnowned,
  SOAK,
  spawnNsync,
  type NsyncProcess,
} from './helpers.ts';

const cluster = sharedCluster();
const secretPath = (namespace: string, name: string): string =>
  `/api/v1/namespaces/${namespace}/secrets/${name}`;

/** Stops whatever process is still running when a test fails half-way. */
async function withProcesses(run: (started: (child: NsyncProcess) => NsyncProcess) => Promise<void>) {
  const children: NsyncProcess[] = [];
  try {
    await run((child) => {
      children.push(child);
      return child;
    });
  } finally {
    for (const child of children) await child.kill();
  }
}

test(
  `nsync SIGKILLed in the middle of a fan-out to ${String(FANOUT)} namespaces and restarted: exact convergence`,
  { timeout: SOAK ? 900_000 : 170_000 },
  async (t) => {
    const prefix = `fk${randomBytes(2).toString('hex')}`;
    const source = `${prefix}-src`;
    const targets = Array.from({ length: FANOUT }, (_, i) => `${prefix}-t-${String(i)}`);
    await createNamespaces(cluster, [{ name: source }]);
    await createManyNamespaces(cluster, targets);
    const blocked = targets[3] ?? '';
    const planted = await plantUnowned(cluster, 'secrets', blocked, 'fan');
    let latest = 'v1';
    const desired = () =>
      new Map(
        targets
          .filter((namespace) => namespace !== blocked)
          .map((namespace) => [`${namespace}/fan`, { v: b64(latest) }]),
      );

    await withProcesses(async (started) => {
      // Two writes in flight at most, so the kill lands in the middle of the fan-out.
      const first = started(spawnNsync(cluster.admin.kubeconfigPath, prefix, ['--write-concurrency=2']));
      await createObject(cluster, 'secrets', source, {
        metadata: { name: 'fan', annotations: { 'nsync.dev/push-to': `${prefix}-t-*` } },
        data: { v: b64(latest) },
      });
      const before = await eventually(
        'the fan-out to start',
        async () => {
          const count = (await listObjects(cluster, 'secrets', prefix, MANAGED)).length;
          return count >= 5 ? count : undefined;
        },
        { intervalMs: 20 },
      );
      await first.kill();
      const atKill = (await listObjects(cluster, 'secrets', prefix, MANAGED)).length;
      t.diagnostic(
        `SIGKILL after ${String(before)} mirrors; ${String(atKill)} of ${String(desired().size)} existed`,
      );

      // While it is down: an update, a mirror deleted and a mirror edited by someone else.
      latest = 'v2';
      await patchObject(cluster, secretPath(source, 'fan'), { data: { v: b64(latest) } });
      const existing = await listObjects(cluster, 'secrets', prefix, MANAGED);
      const [deleted, edited] = existing;
      if (deleted !== undefined) {
        await cluster.api('DELETE', secretPath(deleted.metadata.namespace, 'fan'));
      }
      if (edited !== undefined) {
        await cluster.api(
          'PATCH',
          `${secretPath(edited.metadata.namespace, 'fan')}?fieldManager=kubectl-edit`,
          { data: { v: b64('tampered'), extra: b64('x') } },
          'application/merge-patch+json',
        );
      }

      const second = started(spawnNsync(cluster.admin.kubeconfigPath, prefix));
      await convergedEventually(
        'every mirror with the update made while nsync was down',
        cluster,
        'secrets',
        prefix,
        desired,
        SOAK ? 600_000 : 150_000,
      );
      await assertUntouched(cluster, planted);
      await second.stop();
      assert.equal(await second.exited, 0, second.stderr().slice(-2000));
    });
  },
);

test('while nsync is down a source is deleted, namespaces relabelled, annotations narrowed, mirrors edited: all repaired after restart', async () => {
  const prefix = `fd${randomBytes(2).toString('hex')}`;
  const ns = (suffix: string): string => `${prefix}-${suffix}`;
  await createNamespaces(cluster, [
    { name: ns('src') },
    { name: ns('a'), labels: { team: 'blue' } },
    { name: ns('b'), labels: { team: 'blue' } },
    { name: ns('c'), labels: { team: 'red' } },
    { name: ns('d') },
    { name: ns('e') },
  ]);
  const all = ['a', 'b', 'c', 'd', 'e'].map(ns);
  const source = ns('src');
  // An unowned object where a mirror will be wanted once c is relabelled: it must stay as it is.
  const planted = await plantUnowned(cluster, 'secrets', ns('c'), 'bylabel');
  await createObject(cluster, 'secrets', source, {
    metadata: { name: 'gone', annotations: { 'nsync.dev/push-to': `${prefix}-?` } },
    data: { v: b64('gone') },
  });
  await createObject(cluster, 'secrets', source, {
    metadata: { name: 'bylabel', annotations: { 'nsync.dev/push-to-selector': 'team=blue' } },
    data: { v: b64('label') },
  });
  await createObject(cluster, 'secrets', source, {
    metadata: { name: 'narrow', annotations: { 'nsync.dev/push-to': `${prefix}-?` } },
    data: { v: b64('narrow') },
  });
  await createObject(cluster, 'secrets', source, {
    metadata: {
      name: 'rep',
      annotations: { 'replicator.v1.mittwald.de/replicate-to': `${ns('a')},${ns('b')}` },
    },
    data: { v: b64('rep') },
  });
  await createObject(cluster, 'secrets', source, {
    metadata: { name: 'pulled', annotations: { 'nsync.dev/pull-allowed': `${prefix}-*` } },
    data: { v: b64('pull-1') },
  });
  await createObject(cluster, 'secrets', ns('e'), {
    metadata: { name: 'wants', annotations: { 'nsync.dev/pull-from': `${source}/pulled` } },
    data: { own: b64('mine') },
  });

  await withProcesses(async (started) => {
    const first = started(spawnNsync(cluster.admin.kubeconfigPath, prefix));
    await convergedEventually('the initial mirrors', cluster, 'secrets', prefix, () => {
      const want = new Map<string, Record<string, string>>();
      for (const namespace of all) {
        want.set(`${namespace}/gone`, { v: b64('gone') });
        want.set(`${namespace}/narrow`, { v: b64('narrow') });
      }
      for (const namespace of [ns('a'), ns('b')]) {
        want.set(`${namespace}/bylabel`, { v: b64('label') });
        want.set(`${namespace}/rep`, { v: b64('rep') });
      }
      return want;
    });
    await eventually('the pull target to be filled', async () => {
      const target = await getObject(cluster, 'secrets', ns('e'), 'wants');
      return target?.data?.['v'] === b64('pull-1') ? true : undefined;
    });
    await first.kill();

    // Everything that happens while nsync is down.
    assert.equal((await cluster.api('DELETE', secretPath(source, 'gone'))).status, 200);
    await patchObject(cluster, `/api/v1/namespaces/${ns('a')}`, { metadata: { labels: { team: 'red' } } });
    await patchObject(cluster, `/api/v1/namespaces/${ns('c')}`, { metadata: { labels: { team: 'blue' } } });
    await patchObject(cluster, `/api/v1/namespaces/${ns('d')}`, { metadata: { labels: { team: 'blue' } } });
    await patchObject(cluster, secretPath(source, 'narrow'), {
      metadata: { annotations: { 'nsync.dev/push-to': ns('a') } },
    });
    await patchObject(cluster, secretPath(source, 'rep'), {
      metadata: { annotations: { 'replicator.v1.mittwald.de/replicate-to': ns('a') } },
    });
    await cluster.api(
      'PATCH',
      `${secretPath(ns('a'), 'narrow')}?fieldManager=kubectl-edit`,
      { data: { v: b64('edited'), injected: b64('x') } },
      'application/merge-patch+json',
    );
    assert.equal((await cluster.api('DELETE', secretPath(ns('b'), 'bylabel'))).status, 200);
    await patchObject(cluster, secretPath(source, 'pulled'), { data: { v: b64('pull-2') } });

    started(spawnNsync(cluster.admin.kubeconfigPath, prefix));
    await convergedEventually('the repaired state', cluster, 'secrets', prefix, () => {
      const want = new Map<string, Record<string, string>>();
      want.set(`${ns('a')}/narrow`, { v: b64('narrow') });
      want.set(`${ns('a')}/rep`, { v: b64('rep') });
      want.set(`${ns('b')}/bylabel`, { v: b64('label') });
      want.set(`${ns('d')}/bylabel`, { v: b64('label') });
      return want;
    });
    await eventually('the pull target to get the update made while nsync was down', async () => {
      const target = await getObject(cluster, 'secrets', ns('e'), 'wants');
      return target?.data?.['v'] === b64('pull-2') && target.data['own'] === b64('mine') ? true : undefined;
    });
    await assertUntouched(cluster, planted);
  });
});
