/**
 * An API server that answers nsync's writes with 429 (Retry-After), 500 — before or after the
 * write took effect — and no answer at all, through a fault-injecting proxy (test/support/proxy.ts).
 * nsync must retry with backoff (never a tight loop on one object), lose no write, make no
 * duplicate, touch nothing it does not own, and converge to exactly the desired state.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  b64,
  createNamespaces,
  createObject,
  eventually,
  getObject,
  patchObject,
  sharedCluster,
} from '../support/cluster.ts';
import { startNsync, type RunningNsync } from '../support/nsync.ts';
import { startFaultProxy, type Fault, type FaultProxy, type ProxiedRequest } from '../support/proxy.ts';
import {
  assertUntouched,
  convergedEventually,
  createManyNamespaces,
  plantUnowned,
  sampleValue,
  seededRandom,
  Teardown,
  faultSeed,
  WRITE_VERBS,
} from './helpers.ts';

const cluster = sharedCluster();
const prefix = `fw${randomBytes(2).toString('hex')}`;
const seed = faultSeed();
const random = seededRandom(seed);
/** Unanswered requests cost nsync its 30 s request timeout each: a few prove the point. */
let hangsLeft = 2;
/** Objects whose name starts with this get one 429 with a long Retry-After (see the last test). */
const RETRY_AFTER_PREFIX = 'ra-';
const RETRY_AFTER_SECONDS = 3;
let proxy: FaultProxy;
let nsync: RunningNsync;

function ours(request: ProxiedRequest): boolean {
  return (
    request.namespace?.startsWith(`${prefix}-`) === true &&
    (request.resource === 'secrets' || request.resource === 'configmaps')
  );
}

function policy(request: ProxiedRequest): Fault {
  if (!ours(request) || request.watch) return 'pass';
  if (request.name?.startsWith(RETRY_AFTER_PREFIX) === true) {
    const key = `${request.resource ?? ''}/${request.namespace ?? ''}/${request.name}`;
    return WRITE_VERBS.has(request.method) && (proxy.writes.get(key)?.length ?? 0) === 0 ? '429' : 'pass';
  }
  const roll = random();
  if (!WRITE_VERBS.has(request.method)) return roll < 0.1 ? '500' : 'pass';
  if (roll < 0.15) return '429';
  if (roll < 0.25) return '500';
  if (roll < 0.33) return '500-after';
  if (roll < 0.37 && hangsLeft > 0) {
    hangsLeft -= 1;
    return hangsLeft % 2 === 0 ? 'hang' : 'hang-after';
  }
  if (roll < 0.39) return 'reset';
  return 'pass';
}

const teardown = new Teardown();

before(async () => {
  proxy = teardown.add(
    await startFaultProxy({
      upstream: cluster.server,
      caFile: cluster.caFile,
      policy,
      retryAfterSeconds: (request) =>
        request.name?.startsWith(RETRY_AFTER_PREFIX) === true ? RETRY_AFTER_SECONDS : 1,
    }),
    (started) => started.close(),
  );
  const viaProxy = {
    ...cluster,
    admin: { ...cluster.admin, kubeconfigPath: proxy.kubeconfig('admin', cluster.admin.token) },
  };
  nsync = teardown.add(await startNsync(viaProxy, [`${prefix}-*`]), (started) => started.stop());
});

after(() => teardown.run());

test(
  'writes answered with 429, 500 and silence: retried with backoff, nothing lost or duplicated, exact convergence',
  { timeout: 170_000 },
  async (t) => {
    t.diagnostic(`fault seed ${String(seed)} (replay with FAULT_SEED=${String(seed)})`);
    const source = `${prefix}-src`;
    const targets = Array.from({ length: 20 }, (_, i) => `${prefix}-t-${String(i)}`);
    const pullers = targets.slice(0, 5);
    await createNamespaces(cluster, [{ name: source }]);
    await createManyNamespaces(cluster, targets);
    const planted = await plantUnowned(cluster, 'secrets', targets[5] ?? '', 'creds');
    const plantedMap = await plantUnowned(cluster, 'configmaps', targets[6] ?? '', 'settings');

    for (const namespace of pullers) {
      await createObject(cluster, 'secrets', namespace, {
        metadata: { name: 'wants', annotations: { 'nsync.dev/pull-from': `${source}/pulled` } },
        data: { own: b64('mine') },
      });
    }
    let version = 0;
    const write = async (first: boolean): Promise<void> => {
      version += 1;
      const v = `v${String(version)}`;
      const secret = { v: b64(v) };
      if (first) {
        await createObject(cluster, 'secrets', source, {
          metadata: { name: 'creds', annotations: { 'nsync.dev/push-to': `${prefix}-t-*` } },
          data: secret,
        });
        await createObject(cluster, 'configmaps', source, {
          metadata: {
            name: 'settings',
            annotations: { 'replicator.v1.mittwald.de/replicate-to': `${prefix}-t-.*` },
          },
          data: { v },
        });
        await createObject(cluster, 'secrets', source, {
          metadata: {
            name: 'tls',
            annotations: {
              'reflector.v1.k8s.emberstack.com/reflection-allowed': 'true',
              'reflector.v1.k8s.emberstack.com/reflection-auto-enabled': 'true',
            },
          },
          data: secret,
        });
        await createObject(cluster, 'secrets', source, {
          metadata: { name: 'pulled', annotations: { 'nsync.dev/pull-allowed': `${prefix}-t-*` } },
          data: secret,
        });
        return;
      }
      for (const name of ['creds', 'tls', 'pulled'])
        await patchObject(cluster, `/api/v1/namespaces/${source}/secrets/${name}`, { data: secret });
      await patchObject(cluster, `/api/v1/namespaces/${source}/configmaps/settings`, { data: { v } });
    };
    await write(true);
    // Updates flow while the faults hit: each must reach every mirror, the last one wins.
    for (let i = 0; i < 4; i += 1) {
      await eventually(
        'some mirror to get the current version',
        async () => {
          const mirror = await getObject(cluster, 'secrets', targets[0] ?? '', 'creds');
          return mirror?.data?.['v'] === b64(`v${String(version)}`) ? true : undefined;
        },
        { timeoutMs: 90_000 },
      );
      await write(false);
    }
    const latest = `v${String(version)}`;
    await convergedEventually('every Secret mirror with the last update', cluster, 'secrets', prefix, () => {
      const want = new Map<string, Record<string, string>>();
      for (const namespace of targets) {
        if (namespace !== planted.namespace) want.set(`${namespace}/creds`, { v: b64(latest) });
        want.set(`${namespace}/tls`, { v: b64(latest) });
      }
      return want;
    });
    await convergedEventually(
      'every ConfigMap mirror with the last update',
      cluster,
      'configmaps',
      prefix,
      () => {
        const want = new Map<string, Record<string, string>>();
        for (const namespace of targets) {
          if (namespace !== plantedMap.namespace) want.set(`${namespace}/settings`, { v: latest });
        }
        return want;
      },
    );
    for (const namespace of pullers) {
      await eventually(`the pull target in ${namespace}`, async () => {
        const target = await getObject(cluster, 'secrets', namespace, 'wants');
        return target?.data?.['v'] === b64(latest) && target.data['own'] === b64('mine') ? true : undefined;
      });
    }
    await assertUntouched(cluster, planted);
    await assertUntouched(cluster, plantedMap);
    assert.equal(
      proxy.writes.get(`secrets/${planted.namespace}/creds`),
      undefined,
      'no write was even tried on the unowned Secret',
    );
    assert.equal(
      proxy.writes.get(`configmaps/${plantedMap.namespace}/settings`),
      undefined,
      'nor on the unowned ConfigMap',
    );

    // The faults happened, and were retried without a tight loop on any object.
    const injected = proxy.injected;
    t.diagnostic(`injected: ${JSON.stringify(injected)}`);
    for (const fault of ['429', '500', '500-after'] as const)
      assert.ok(injected[fault] > 0, `some ${fault} were injected`);
    const attempts = [...proxy.writes]
      .filter(([key]) => !key.startsWith('events/'))
      .map(([key, list]) => [key, list.length] as const)
      .sort((a, b) => b[1] - a[1]);
    t.diagnostic(`most write attempts on one object: ${JSON.stringify(attempts.slice(0, 3))}`);
    for (const [key, count] of attempts) assert.ok(count < 50, `${key}: ${String(count)} write attempts`);
    const metrics = await nsync.metrics.registry.metrics();
    assert.ok(sampleValue(metrics, 'nsync_workqueue_retries_total') > 0, 'failed reconciles were retried');
    assert.ok(nsync.controller.liveness().ok, nsync.controller.liveness().detail);
  },
);

test('a 429 is retried no sooner than its Retry-After', async () => {
  const [source = '', target = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-ra-src` },
    { name: `${prefix}-ra-t` },
  ]);
  await createObject(cluster, 'secrets', source, {
    metadata: { name: 'ra-token', annotations: { 'nsync.dev/push-to': target } },
    data: { v: b64('one') },
  });
  await eventually('the mirror, after one 429', () => getObject(cluster, 'secrets', target, 'ra-token'));
  const attempts = proxy.writes.get(`secrets/${target}/ra-token`) ?? [];
  const [first, second] = attempts;
  assert.ok(first !== undefined && second !== undefined, 'two attempts');
  assert.equal(first.fault, '429');
  const waited = second.at - first.at;
  // A lower bound only: a slow machine makes the gap longer, never shorter.
  assert.ok(waited >= RETRY_AFTER_SECONDS * 1000 - 50, `retried after ${String(waited)} ms`);
});
