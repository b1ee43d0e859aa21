/**
 * nsync's requests over HTTP/2 (docs/adr/0019), through a fault-injecting HTTPS proxy in front of
 * the real API server: streams reset and refused, whole connections cut and GOAWAY sent while a
 * fan-out is under way, a watch stream cut, 429 with Retry-After — and a proxy that offers only
 * http/1.1, where nsync must fall back and work exactly as before.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { loadKubeConfig, Transport } from '../../src/kube/transport.ts';
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
const prefix = `fh${randomBytes(2).toString('hex')}`;
const fallbackPrefix = `fb${randomBytes(2).toString('hex')}`;
const seed = faultSeed();
const random = seededRandom(seed);
const TARGETS = 60;
/** Objects whose name starts with this get one 429 with a long Retry-After. */
const RETRY_AFTER_PREFIX = 'ra-';
const RETRY_AFTER_SECONDS = 2;
/** Objects whose name starts with this get their first write refused (REFUSED_STREAM), once. */
const REFUSED_PREFIX = 'refused-';
/** While true, writes of ours meet random stream and connection faults. */
let chaos = false;

let h2proxy: FaultProxy;
let h1proxy: FaultProxy;
let nsync: RunningNsync;

function ours(request: ProxiedRequest): boolean {
  return (
    request.namespace?.startsWith(`${prefix}-`) === true &&
    (request.resource === 'secrets' || request.resource === 'configmaps')
  );
}

function firstWrite(proxy: FaultProxy, request: ProxiedRequest): boolean {
  const key = `${request.resource ?? ''}/${request.namespace ?? ''}/${request.name ?? ''}`;
  return WRITE_VERBS.has(request.method) && (proxy.writes.get(key)?.length ?? 0) === 0;
}

function policy(request: ProxiedRequest): Fault {
  if (!ours(request) || request.watch) return 'pass';
  if (request.name?.startsWith(RETRY_AFTER_PREFIX) === true)
    return firstWrite(h2proxy, request) ? '429' : 'pass';
  if (request.name?.startsWith(REFUSED_PREFIX) === true)
    return firstWrite(h2proxy, request) ? 'refuse' : 'pass';
  if (!chaos || !WRITE_VERBS.has(request.method)) return 'pass';
  const roll = random();
  if (roll < 0.08) return 'rst-stream';
  if (roll < 0.14) return 'refuse';
  if (roll < 0.16) return 'reset';
  if (roll < 0.22) return '500';
  return 'pass';
}

const teardown = new Teardown();

before(async () => {
  h2proxy = teardown.add(
    await startFaultProxy({
      upstream: cluster.server,
      caFile: cluster.caFile,
      tls: 'h2',
      policy,
      retryAfterSeconds: (request) =>
        request.name?.startsWith(RETRY_AFTER_PREFIX) === true ? RETRY_AFTER_SECONDS : 1,
    }),
    (started) => started.close(),
  );
  h1proxy = teardown.add(
    await startFaultProxy({ upstream: cluster.server, caFile: cluster.caFile, tls: 'http/1.1' }),
    (started) => started.close(),
  );
  const viaProxy = {
    ...cluster,
    admin: { ...cluster.admin, kubeconfigPath: h2proxy.kubeconfig('admin', cluster.admin.token) },
  };
  nsync = teardown.add(await startNsync(viaProxy, [`${prefix}-*`]), (started) => started.stop());
});

after(() => teardown.run());

test('a transport offers h2 and takes it; it falls back to HTTP/1.1 where only that is offered', async (t) => {
  const viaH2 = await Transport.create(
    loadKubeConfig({ kubeconfig: h2proxy.kubeconfig('probe-h2', cluster.admin.token) }),
  );
  const viaH1 = await Transport.create(
    loadKubeConfig({ kubeconfig: h1proxy.kubeconfig('probe-h1', cluster.admin.token) }),
  );
  const h1only = await Transport.create(loadKubeConfig({ kubeconfig: cluster.admin.kubeconfigPath }), {
    http2: false,
  });
  t.after(() => {
    viaH2.close();
    viaH1.close();
    h1only.close();
  });
  assert.equal(viaH2.protocol, 'unknown', 'nothing is decided before the first request');
  const h1Before = h1proxy.versions.get('1.1') ?? 0;
  for (const transport of [viaH2, viaH1, h1only]) {
    const { status } = await transport.json({ method: 'GET', path: '/api/v1/namespaces/default' });
    assert.equal(status, 200);
  }
  assert.equal(viaH2.protocol, 'h2');
  assert.equal(viaH1.protocol, 'http/1.1');
  assert.equal(h1only.protocol, 'http/1.1');
  assert.equal(h1proxy.versions.get('2.0'), undefined, 'the http/1.1-only proxy saw no h2 request');
  assert.equal((h1proxy.versions.get('1.1') ?? 0) - h1Before, 1);
});

test(
  'over HTTP/2: streams reset and refused, connections cut and GOAWAY mid fan-out: exact convergence',
  { timeout: 170_000 },
  async (t) => {
    t.diagnostic(`fault seed ${String(seed)} (replay with FAULT_SEED=${String(seed)})`);
    const source = `${prefix}-src`;
    const targets = Array.from({ length: TARGETS }, (_, i) => `${prefix}-t-${String(i)}`);
    await createNamespaces(cluster, [{ name: source }]);
    await createManyNamespaces(cluster, targets);
    const planted = await plantUnowned(cluster, 'secrets', targets[5] ?? '', 'creds');
    const resetsBefore = h2proxy.injected.reset;

    chaos = true;
    let goaways = 0;
    // GOAWAY on every session, again and again, while the fan-out runs (bounded in count).
    const goawayTimer = setInterval(() => {
      if (goaways < 40) goaways += h2proxy.goaway();
    }, 150);
    t.after(() => {
      clearInterval(goawayTimer);
    });
    await createObject(cluster, 'secrets', source, {
      metadata: { name: 'creds', annotations: { 'nsync.dev/push-to': `${prefix}-t-*` } },
      data: { v: b64('v1') },
    });
    await createObject(cluster, 'configmaps', source, {
      metadata: { name: 'settings', annotations: { 'nsync.dev/push-to': `${prefix}-t-*` } },
      data: { v: 'v1' },
    });
    await eventually(
      'a first mirror',
      async () => ((await getObject(cluster, 'secrets', targets[0] ?? '', 'creds')) ? true : undefined),
      { timeoutMs: 90_000 },
    );
    await patchObject(cluster, `/api/v1/namespaces/${source}/secrets/creds`, { data: { v: b64('v2') } });
    await patchObject(cluster, `/api/v1/namespaces/${source}/configmaps/settings`, { data: { v: 'v2' } });
    const latest = 'v2';
    await convergedEventually('every Secret mirror with the last update', cluster, 'secrets', prefix, () => {
      const want = new Map<string, Record<string, string>>();
      for (const namespace of targets)
        if (namespace !== planted.namespace) want.set(`${namespace}/creds`, { v: b64(latest) });
      return want;
    });
    await convergedEventually('every ConfigMap mirror', cluster, 'configmaps', prefix, () => {
      const want = new Map<string, Record<string, string>>();
      for (const namespace of targets) want.set(`${namespace}/settings`, { v: latest });
      return want;
    });
    chaos = false;
    clearInterval(goawayTimer);
    await assertUntouched(cluster, planted);
    assert.equal(h2proxy.writes.get(`secrets/${planted.namespace}/creds`), undefined);

    const injected = h2proxy.injected;
    t.diagnostic(`injected: ${JSON.stringify(injected)}; GOAWAY sent to ${String(goaways)} sessions`);
    for (const fault of ['rst-stream', 'refuse', 'reset', '500'] as const)
      assert.ok(injected[fault] > 0, `some ${fault} were injected`);
    assert.ok(injected.reset > resetsBefore, 'connections were cut');
    assert.ok(goaways > 0, 'GOAWAY was sent on open sessions');
    assert.equal(h2proxy.versions.get('1.1'), undefined, 'every request of nsync went over h2');
    assert.ok((h2proxy.versions.get('2.0') ?? 0) > TARGETS * 2);
    const attempts = [...h2proxy.writes]
      .filter(([key]) => !key.startsWith('events/'))
      .map(([, list]) => list.length);
    assert.ok(Math.max(...attempts) < 50, 'no tight loop on one object');

    // The watches survived all of it: a new update still reaches every mirror.
    await patchObject(cluster, `/api/v1/namespaces/${source}/configmaps/settings`, { data: { v: 'v3' } });
    await convergedEventually('every ConfigMap mirror after the storm', cluster, 'configmaps', prefix, () => {
      const want = new Map<string, Record<string, string>>();
      for (const namespace of targets) want.set(`${namespace}/settings`, { v: 'v3' });
      return want;
    });
    assert.ok(nsync.controller.liveness().ok, nsync.controller.liveness().detail);
  },
);

test('a watch stream cut over HTTP/2 is resumed, and a GOAWAY with watches open loses no event', async () => {
  const [source = '', target = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-w-src` },
    { name: `${prefix}-w-t` },
  ]);
  await createObject(cluster, 'configmaps', source, {
    metadata: { name: 'watched', annotations: { 'nsync.dev/push-to': target } },
    data: { v: 'one' },
  });
  await eventually('the mirror', () => getObject(cluster, 'configmaps', target, 'watched'));
  await eventually('watches open through the proxy', () =>
    Promise.resolve(h2proxy.openWatches() >= 2 ? true : undefined),
  );
  assert.ok(h2proxy.endWatches(false) >= 2, 'watch streams were cut');
  await patchObject(cluster, `/api/v1/namespaces/${source}/configmaps/watched`, { data: { v: 'two' } });
  await eventually('the update after the cut', async () =>
    (await getObject(cluster, 'configmaps', target, 'watched'))?.data?.['v'] === 'two' ? true : undefined,
  );
  await eventually('watches open again', () =>
    Promise.resolve(h2proxy.openWatches() >= 2 ? true : undefined),
  );
  assert.ok(h2proxy.goaway() > 0);
  await patchObject(cluster, `/api/v1/namespaces/${source}/configmaps/watched`, { data: { v: 'three' } });
  await eventually('the update after GOAWAY', async () =>
    (await getObject(cluster, 'configmaps', target, 'watched'))?.data?.['v'] === 'three' ? true : undefined,
  );
});

test('a refused stream is sent again at once, without a failed reconcile', async () => {
  const [source = '', target = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-rf-src` },
    { name: `${prefix}-rf-t` },
  ]);
  const retries = async (): Promise<number> =>
    sampleValue(await nsync.metrics.registry.metrics(), 'nsync_workqueue_retries_total');
  const before = await retries();
  await createObject(cluster, 'secrets', source, {
    metadata: { name: `${REFUSED_PREFIX}token`, annotations: { 'nsync.dev/push-to': target } },
    data: { v: b64('one') },
  });
  await eventually('the mirror', () => getObject(cluster, 'secrets', target, `${REFUSED_PREFIX}token`));
  const attempts = h2proxy.writes.get(`secrets/${target}/${REFUSED_PREFIX}token`) ?? [];
  assert.deepEqual(
    attempts.map((attempt) => attempt.fault),
    ['refuse', 'pass'],
  );
  assert.equal(await retries(), before, 'the queue never saw the refused write fail');
});

test('a 429 over HTTP/2 is retried no sooner than its Retry-After', async () => {
  const [source = '', target = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-ra-src` },
    { name: `${prefix}-ra-t` },
  ]);
  await createObject(cluster, 'secrets', source, {
    metadata: { name: `${RETRY_AFTER_PREFIX}token`, annotations: { 'nsync.dev/push-to': target } },
    data: { v: b64('one') },
  });
  await eventually('the mirror, after one 429', () =>
    getObject(cluster, 'secrets', target, `${RETRY_AFTER_PREFIX}token`),
  );
  const [first, second] = h2proxy.writes.get(`secrets/${target}/${RETRY_AFTER_PREFIX}token`) ?? [];
  assert.ok(first !== undefined && second !== undefined, 'two attempts');
  assert.equal(first.fault, '429');
  // A lower bound only: a slow machine makes the gap longer, never shorter.
  assert.ok(
    second.at - first.at >= RETRY_AFTER_SECONDS * 1000 - 50,
    `retried after ${String(second.at - first.at)} ms`,
  );
});

test('nsync through a proxy that offers only http/1.1: falls back and mirrors as before', async () => {
  const viaProxy = {
    ...cluster,
    admin: { ...cluster.admin, kubeconfigPath: h1proxy.kubeconfig('admin', cluster.admin.token) },
  };
  // A transport first: a broken fallback fails here rather than leave nsync waiting to sync.
  const probe = await Transport.create(loadKubeConfig({ kubeconfig: viaProxy.admin.kubeconfigPath }));
  try {
    await probe.json({ method: 'GET', path: '/api/v1/namespaces/default' });
    assert.equal(probe.protocol, 'http/1.1');
  } finally {
    probe.close();
  }
  const fallback = await startNsync(viaProxy, [`${fallbackPrefix}-*`]);
  try {
    const [source = '', ...targets] = await createNamespaces(cluster, [
      { name: `${fallbackPrefix}-src` },
      { name: `${fallbackPrefix}-t-1` },
      { name: `${fallbackPrefix}-t-2` },
    ]);
    await createObject(cluster, 'secrets', source, {
      metadata: { name: 'token', annotations: { 'nsync.dev/push-to': `${fallbackPrefix}-t-*` } },
      data: { v: b64('one') },
    });
    for (const target of targets)
      await eventually(`the mirror in ${target}`, () => getObject(cluster, 'secrets', target, 'token'));
    assert.equal(h1proxy.versions.get('2.0'), undefined);
    assert.ok((h1proxy.versions.get('1.1') ?? 0) > 3);
  } finally {
    await fallback.stop();
  }
});
