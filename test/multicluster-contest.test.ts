/**
 * Two source clusters pushing the same name into one target cluster (docs/multicluster.md, _Two
 * source clusters_; docs/adr/0006 and 0018). Three control planes: the shared one as "home", and
 * "west" and "east" of their own. One nsync runs in home and one in west, each with a kubeconfig
 * context for east, each with a source `cert` asking kubed's `sync-contexts` for east; a third,
 * plain nsync runs IN east. What must hold:
 * - the first writer keeps the copy; the second reports RemoteConflictWithUnownedObject naming
 *   the cluster and writes nothing there (counted from east's own watch over several resyncs);
 * - the nsync in east never claims, writes or deletes a copy another cluster's nsync made;
 * - deleting the winner's source deletes its copy, and the other source cluster then takes the
 *   name at its next resync: a new object (new UID) marked with its own cluster.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { kubed, owned } from '../src/rules/markers.ts';
import { startControlPlane, type ControlPlane } from '../tools/controlplane/harness.ts';
import {
  b64,
  createNamespaces,
  createObject,
  eventsAbout,
  eventually,
  getObject,
  sharedCluster,
  uniqueName,
  type TestObject,
} from './support/cluster.ts';
import { startNsync, type RunningNsync } from './support/nsync.ts';
import { countWritesBy } from './support/writes.ts';

const CONVERGE = { timeoutMs: 150_000, intervalMs: 250 };
/** Short, so a window of several resyncs of every nsync stays short too. */
const RESYNC_SECONDS = 4;

const home = sharedCluster();
const prefix = uniqueName('mcc');
const source = `${prefix}-src`;
const target = `${prefix}-target`;
let east: ControlPlane;
let west: ControlPlane;
let inHome: RunningNsync;
let inWest: RunningNsync;
let inEast: RunningNsync;

/** A kubeconfig with one context "east" naming the target namespace, as the operator of `dir`'s cluster writes it. */
function eastKubeconfig(file: string): string {
  const path = join(east.dir, file);
  const lines = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: east',
    '  cluster:',
    `    server: ${east.server}`,
    `    certificate-authority: ${east.caFile}`,
    'users:',
    '- name: east',
    '  user:',
    `    token: ${east.admin.token}`,
    'contexts:',
    '- name: east',
    '  context:',
    '    cluster: east',
    '    user: east',
    `    namespace: ${target}`,
  ];
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  return path;
}

function sourceSecret(value: string): object {
  return {
    metadata: { name: 'cert', annotations: { [kubed.syncContexts]: 'east' } },
    type: 'Opaque',
    data: { value: b64(value) },
  };
}

async function copyInEast(): Promise<TestObject | undefined> {
  return getObject(east, 'secrets', target, 'cert');
}

function valueOf(object: TestObject | undefined): string | undefined {
  const value = object?.data?.['value'];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** The newest time (seconds) an nsync completed a reconcile for cluster east without error. */
async function lastEastSync(nsync: RunningNsync): Promise<number> {
  const text = await nsync.metrics.registry.getSingleMetricAsString(
    'nsync_remote_last_sync_timestamp_seconds',
  );
  const line = text
    .split('\n')
    .find((entry) => entry.startsWith('nsync_remote_last_sync_timestamp_seconds{cluster="east"}'));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

/** Waits until `nsync` has completed a reconcile in east that started after `since` (seconds) plus a full resync. */
async function resyncedAfter(nsync: RunningNsync, since: number, what: string): Promise<void> {
  await eventually(
    `${what} to reconcile east again after a full resync`,
    async () => ((await lastEastSync(nsync)) > since + RESYNC_SECONDS ? true : undefined),
    CONVERGE,
  );
}

before(async () => {
  [east, west] = await Promise.all([
    startControlPlane({ controllerManager: false }),
    startControlPlane({ controllerManager: false }),
  ]);
  await createNamespaces(home, [{ name: source }]);
  await createNamespaces(west, [{ name: source }]);
  await createNamespaces(east, [{ name: target }]);
  const resync = `--resync-period=${String(RESYNC_SECONDS)}s`;
  inHome = await startNsync(
    home,
    [`${prefix}-*`],
    ['--cluster-name=home', `--remote-kubeconfig=${eastKubeconfig('from-home.kubeconfig')}`, resync],
  );
  inWest = await startNsync(
    west,
    [`${prefix}-*`],
    ['--cluster-name=west', `--remote-kubeconfig=${eastKubeconfig('from-west.kubeconfig')}`, resync],
  );
  // A plain nsync in the target cluster, as a fleet runs one in every cluster.
  inEast = await startNsync(east, [`${prefix}-*`], ['--cluster-name=east', resync]);
});

after(async () => {
  await Promise.all([inHome.stop(), inWest.stop(), inEast.stop()]);
  await Promise.all([east.stop(), west.stop()]);
});

let firstUid = '';

test('the first source cluster keeps the copy; the second reports a conflict naming the cluster and never writes it; the nsync in east leaves it alone', async () => {
  await createObject(home, 'secrets', source, sourceSecret('from-home'));
  const first = await eventually(
    'home copies into east',
    async () => {
      const copy = await copyInEast();
      return valueOf(copy) === 'from-home' ? copy : undefined;
    },
    CONVERGE,
  );
  firstUid = first.metadata.uid;
  assert.equal(first.metadata.annotations?.[owned.sourceCluster], 'home');
  assert.equal(first.metadata.labels?.[kubed.originCluster], 'home');

  const writes = countWritesBy(
    east,
    { plural: 'secrets', namespace: target, name: 'cert', resourceVersion: first.metadata.resourceVersion },
    'nsync',
  );
  try {
    const windowStart = Date.now() / 1000;
    await createObject(west, 'secrets', source, sourceSecret('from-west'));
    await eventually(
      'west reports the conflict in east on its source',
      async () =>
        (await eventsAbout(west, source, 'cert')).find(
          (event) =>
            event.reason === 'RemoteConflictWithUnownedObject' &&
            event.note.includes('Cluster east') &&
            event.note.includes(`${target}/cert`),
        ),
      CONVERGE,
    );
    // Several resyncs of the loser (and of the nsync in east) with the copy in view.
    await resyncedAfter(inWest, windowStart, 'the nsync in west');
    await resyncedAfter(inWest, windowStart + RESYNC_SECONDS, 'the nsync in west');
    await Promise.all([inWest.idle(), inEast.idle(), inHome.idle()]);
    assert.equal(writes.count(), 0, `writes to east's copy over the window: ${writes.versions().join(', ')}`);
  } finally {
    writes.stop();
  }
  const kept = await copyInEast();
  assert.equal(kept?.metadata.uid, firstUid, 'the same object: never deleted and re-created');
  assert.equal(kept.metadata.resourceVersion, first.metadata.resourceVersion, 'never written');
  assert.equal(valueOf(kept), 'from-home');
  assert.equal(kept.metadata.annotations?.[owned.sourceCluster], 'home');
  const eastEvents = await eventsAbout(east, target, 'cert');
  assert.deepEqual(eastEvents, [], 'the nsync in east says nothing about a copy that is not its own');
});

test('deleting the winning source deletes its copy; the other source cluster then takes the name at its next resync', async () => {
  assert.notEqual(firstUid, '', 'the first test made the copy');
  assert.equal((await home.api('DELETE', `/api/v1/namespaces/${source}/secrets/cert`)).status, 200);
  const taken = await eventually(
    'west owns the copy in east',
    async () => {
      const copy = await copyInEast();
      return copy?.metadata.annotations?.[owned.sourceCluster] === 'west' ? copy : undefined;
    },
    CONVERGE,
  );
  assert.notEqual(
    taken.metadata.uid,
    firstUid,
    'home deleted its copy; west created its own, it took nothing over',
  );
  assert.equal(valueOf(taken), 'from-west');
  assert.equal(taken.metadata.labels?.[kubed.originCluster], 'west');

  // The nsync in east does not claim west's copy either, over a full resync: not one write.
  const writes = countWritesBy(
    east,
    { plural: 'secrets', namespace: target, name: 'cert', resourceVersion: taken.metadata.resourceVersion },
    'nsync',
  );
  try {
    const since = Date.now() / 1000;
    await resyncedAfter(inWest, since, 'the nsync in west');
    await Promise.all([inWest.idle(), inEast.idle()]);
    assert.equal(writes.count(), 0, `writes to west's copy over the window: ${writes.versions().join(', ')}`);
  } finally {
    writes.stop();
  }
  const still = await copyInEast();
  assert.equal(still?.metadata.uid, taken.metadata.uid);
  assert.equal(valueOf(still), 'from-west');
});
