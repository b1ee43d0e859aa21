/**
 * nsync as operators run it: a separate process with probes, metrics and a graceful SIGTERM; and
 * `nsync explain`, which prints the planner's decision for every namespace.
 */
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import {
  b64,
  createNamespaces,
  createObject,
  eventually,
  getObject,
  sharedCluster,
} from './support/cluster.ts';

const cluster = sharedCluster();
const prefix = `cl${randomBytes(2).toString('hex')}`;
const bin = join(import.meta.dirname, '..', 'bin', 'nsync.js');
const guardrails = [`--exclude-namespaces=*,!${prefix}-*`, `--source-namespaces=${prefix}-*`];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
  });
}

test('nsync run as a process: ready, mirrors, metrics, and exit 0 on SIGTERM', async () => {
  const [src = '', app = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-src` },
    { name: `${prefix}-app` },
  ]);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      bin,
      'run',
      `--kubeconfig=${cluster.admin.kubeconfigPath}`,
      `--listen=127.0.0.1:${String(port)}`,
      `--lease-namespace=${src}`,
      ...guardrails,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    await eventually('/readyz to answer 200', async () =>
      (await fetch(`http://127.0.0.1:${String(port)}/readyz`)).status === 200 ? true : undefined,
    );
    assert.equal((await fetch(`http://127.0.0.1:${String(port)}/healthz`)).status, 200);
    await createObject(cluster, 'secrets', src, {
      metadata: { name: 'proc', annotations: { 'nsync.dev/push-to': app } },
      data: { k: b64('process-value') },
    });
    await eventually('the mirror made by the process', () => getObject(cluster, 'secrets', app, 'proc'));
    const metrics = await (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text();
    assert.match(metrics, /nsync_writes_total\{verb="create",outcome="success"\} [1-9]/);
    assert.match(metrics, /nsync_leader 1/);
    assert.match(metrics, /nsync_build_info\{version="0\.1\.0"/);
    assert.match(metrics, /^nsync_workqueue_depth \d+$/m);
    const lastEvent = /^nsync_watch_last_event_timestamp_seconds\{resource="secrets"\} ([\d.e+]+)$/m.exec(
      metrics,
    );
    assert.ok(lastEvent, 'the secrets watch reports its last event');
    const ageSeconds = Date.now() / 1000 - Number(lastEvent[1]);
    assert.ok(ageSeconds >= 0 && ageSeconds < 120, `the last event is recent (${String(ageSeconds)} s ago)`);
    assert.ok(!metrics.includes('process-value') && !metrics.includes(b64('process-value')));
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, `exit code 0 after SIGTERM; stderr:\n${stderr.slice(-2000)}`);
  assert.match(stderr, /"msg":"nsync stopped"/);
  const lease = await cluster.api<{ spec: { holderIdentity?: string | null } }>(
    'GET',
    `/apis/coordination.k8s.io/v1/namespaces/${src}/leases/nsync`,
  );
  assert.equal(lease.body.spec.holderIdentity ?? '', '', 'the Lease was released');
  assert.ok(
    !stderr.includes('process-value') && !stderr.includes(b64('process-value')),
    'no value in the logs',
  );
});

test('nsync explain prints a decision and its reason for every namespace', async () => {
  const [src = '', yes = '', no = '', busy = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-x-src` },
    { name: `${prefix}-x-yes` },
    { name: `${prefix}-x-no` },
    { name: `${prefix}-x-busy` },
  ]);
  await createObject(cluster, 'secrets', busy, { metadata: { name: 'explained' }, data: { own: b64('x') } });
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'explained', annotations: { 'nsync.dev/push-to': `${yes},${busy}` } },
    data: { k: b64('v') },
  });
  const { stdout } = await promisify(execFile)(process.execPath, [
    bin,
    'explain',
    'secret/explained',
    '-n',
    src,
    `--kubeconfig=${cluster.admin.kubeconfigPath}`,
    `--exclude-namespaces=*,!${prefix}-*`,
  ]);
  const line = (namespace: string): string =>
    stdout.split('\n').find((row) => row.startsWith(`${namespace} `)) ?? '';
  assert.match(line(yes), /create/);
  assert.match(line(no), /not-selected/);
  assert.match(line(busy), /conflict-unowned/);
  assert.match(line(src), /source-namespace/);
  assert.match(line('kube-system'), /excluded/);
});

test('nsync run and explain exit 2 with the reason when the kubeconfig cannot be used', async () => {
  const missing = '/nonexistent/nsync-kubeconfig';
  for (const args of [
    ['run', `--kubeconfig=${missing}`],
    ['explain', 'secret/x', '-n', 'default', `--kubeconfig=${missing}`],
  ]) {
    const outcome = await promisify(execFile)(process.execPath, [bin, ...args]).then(
      () => ({ code: 0, stderr: '' }),
      (error: unknown) => error as { code: number; stderr: string },
    );
    assert.equal(outcome.code, 2, args[0]);
    assert.match(outcome.stderr, new RegExp(`nsync ${args[0] ?? ''}: .*${missing}`));
    assert.doesNotMatch(outcome.stderr, /\n\s+at /, 'no stack trace');
  }
});
