/**
 * A remote cluster that never answers must not hold up nsync's stop (docs/multicluster.md,
 * _Stopping_). `nsync run` with a `--remote-kubeconfig` context gets SIGTERM while a request to
 * that cluster hangs; it must exit 0 with its final log line within a generous bound. The bound is
 * a check of correctness, not a speed claim: before the fix, a hanging remote request held the
 * stop for its full 30 s timeout (the TLS connect of an HTTP/2 session did not listen to the stop
 * signal, and remote writes carried no signal at all).
 *
 * Two ways to hang, each with local syncing asserted to go on meanwhile:
 * - a blackhole: a TCP listener that accepts connections and never says a byte (a TLS handshake
 *   that never ends: the cluster's cache never syncs);
 * - a write that hangs: a private control plane as the remote, reached through the fault proxy
 *   (HTTP/2), whose writes to Secrets stop being answered after the first copy was made.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { kubed } from '../../src/rules/markers.ts';
import { startControlPlane, type ControlPlane } from '../../tools/controlplane/harness.ts';
import {
  b64,
  createNamespaces,
  createObject,
  eventually,
  getObject,
  patchObject,
  sharedCluster,
  uniqueName,
} from '../support/cluster.ts';
import { startFaultProxy, type FaultProxy } from '../support/proxy.ts';
import { logMessages, spawnNsync, Teardown, type NsyncProcess, WRITE_VERBS } from './helpers.ts';

/** How long a SIGTERM may take to end nsync: a bound on correctness, far above a normal stop. */
const STOP_BOUND_MS = 10_000;

const home = sharedCluster();
const teardown = new Teardown();
let remote: ControlPlane;

before(async () => {
  remote = teardown.add(await startControlPlane({ controllerManager: false }), (started) => started.stop());
});

after(() => teardown.run());

/** A TCP listener on loopback that accepts every connection and never writes a byte. */
async function startBlackhole(): Promise<{
  port: number;
  accepted: () => number;
  close: () => Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return {
    port: address.port,
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}

/** A kubeconfig with one context, as an operator writes it for --remote-kubeconfig. */
function remoteKubeconfig(
  dir: string,
  file: string,
  context: string,
  server: string,
  auth: { caFile?: string; token: string; namespace?: string },
): string {
  const lines = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${context}`,
    '  cluster:',
    `    server: ${server}`,
    auth.caFile === undefined
      ? '    insecure-skip-tls-verify: true'
      : `    certificate-authority: ${auth.caFile}`,
    'users:',
    `- name: ${context}`,
    '  user:',
    `    token: ${auth.token}`,
    'contexts:',
    `- name: ${context}`,
    '  context:',
    `    cluster: ${context}`,
    `    user: ${context}`,
    ...(auth.namespace === undefined ? [] : [`    namespace: ${auth.namespace}`]),
    `current-context: ${context}`,
  ];
  const path = join(dir, file);
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  return path;
}

/** A source in `namespace` copied by kubed's `sync` into every other namespace of the prefix, and by `sync-contexts` into `contexts`. */
async function createSource(namespace: string, name: string, value: string, contexts: string): Promise<void> {
  await createObject(home, 'secrets', namespace, {
    metadata: { name, annotations: { [kubed.sync]: '', [kubed.syncContexts]: contexts } },
    type: 'Opaque',
    data: { value: b64(value) },
  });
}

async function localValue(namespace: string, name: string): Promise<string | undefined> {
  const object = await getObject(home, 'secrets', namespace, name);
  const value = object?.data?.['value'];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** SIGTERM, then the exit code and how long it took, or a failure naming the bound. */
async function stopWithin(nsync: NsyncProcess, what: string): Promise<void> {
  const started = performance.now();
  nsync.child.kill('SIGTERM');
  const code = await Promise.race([
    nsync.exited,
    new Promise<string>((resolve) => {
      setTimeout(() => {
        resolve(`no exit within ${String(STOP_BOUND_MS)} ms`);
      }, STOP_BOUND_MS).unref();
    }),
  ]);
  const tookMs = Math.round(performance.now() - started);
  const said = logMessages(nsync.stderr());
  const context = `${what}: SIGTERM answered after ${String(tookMs)} ms; stderr:\n${nsync.stderr().slice(-3000)}`;
  assert.ok(!said.some((msg) => msg.endsWith('a bug in nsync')), `no unhandled rejection: ${context}`);
  assert.equal(code, 0, `exit 0 within ${String(STOP_BOUND_MS)} ms: ${context}`);
  assert.equal(said.at(-1), 'nsync stopped', `the last log line: ${context}`);
  const afterSignal = said.slice(said.indexOf('shutting down: finishing in-flight writes'));
  assert.ok(
    !afterSignal.includes('remote reconcile failed'),
    `a reconcile cut short by the stop is not reported as failed: ${context}`,
  );
}

test('SIGTERM while a remote cluster is a blackhole: local syncing goes on, and nsync exits 0 promptly', async () => {
  const prefix = uniqueName('rsb');
  const [source, target] = await createNamespaces(home, [
    { name: `${prefix}-src` },
    { name: `${prefix}-dst` },
  ]);
  assert.ok(source !== undefined && target !== undefined);
  const blackhole = await startBlackhole();
  const kubeconfig = remoteKubeconfig(
    home.dir,
    `${prefix}.kubeconfig`,
    'void',
    `https://127.0.0.1:${String(blackhole.port)}`,
    {
      token: 'unused',
    },
  );
  const nsync = spawnNsync(home.admin.kubeconfigPath, prefix, [
    '--cluster-name=home',
    `--remote-kubeconfig=${kubeconfig}`,
  ]);
  try {
    await createSource(source, 'cert', 'v1', 'void');
    await eventually(
      'a local mirror while the remote cluster hangs',
      async () => ((await localValue(target, 'cert')) === 'v1' ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    assert.ok(blackhole.accepted() > 0, 'nsync is connecting to the blackhole');
    await stopWithin(nsync, 'blackhole');
  } finally {
    await nsync.kill();
    await blackhole.close();
  }
});

test('SIGTERM while a write to a remote cluster hangs: nsync exits 0 promptly', async () => {
  const prefix = uniqueName('rsw');
  const [source, target] = await createNamespaces(home, [
    { name: `${prefix}-src` },
    { name: `${prefix}-dst` },
  ]);
  assert.ok(source !== undefined && target !== undefined);
  await createNamespaces(remote, [{ name: source }]);
  const proxy: FaultProxy = await startFaultProxy({
    upstream: remote.server,
    caFile: remote.caFile,
    tls: 'h2',
  });
  const kubeconfig = remoteKubeconfig(home.dir, `${prefix}.kubeconfig`, 'stuck', proxy.url, {
    caFile: remote.caFile,
    token: remote.admin.token,
  });
  const nsync = spawnNsync(home.admin.kubeconfigPath, prefix, [
    '--cluster-name=home',
    `--remote-kubeconfig=${kubeconfig}`,
  ]);
  try {
    await createSource(source, 'cert', 'v1', 'stuck');
    await eventually(
      'the remote copy, before anything hangs',
      async () => {
        const copy = await getObject(remote, 'secrets', source, 'cert');
        return copy?.data?.['value'] === b64('v1') ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    proxy.setPolicy((request) =>
      WRITE_VERBS.has(request.method) && request.resource === 'secrets' && request.name === 'cert'
        ? 'hang'
        : 'pass',
    );
    await patchObject(home, `/api/v1/namespaces/${source}/secrets/cert`, { data: { value: b64('v2') } });
    await eventually(
      'a local mirror updated while the remote write hangs',
      async () => ((await localValue(target, 'cert')) === 'v2' ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await eventually('the remote write to hang', () => (proxy.injected.hang > 0 ? true : undefined), {
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    await stopWithin(nsync, 'hanging write');
  } finally {
    await nsync.kill();
    await proxy.close();
  }
});
