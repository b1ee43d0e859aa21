import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ApiError } from './errors.ts';
import { loadKubeConfig, Transport } from './transport.ts';

test('an http: server with a token file: no TLS settings needed, and a 401 makes the token be re-read', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nsync-transport-'));
  const seen: (string | undefined)[] = [];
  const server = createServer((request, response) => {
    seen.push(request.headers.authorization);
    const ok = request.headers.authorization === 'Bearer fresh';
    response.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json' });
    response.end(ok ? '{"kind":"Status"}' : '{"kind":"Status","reason":"Unauthorized","message":"no"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  writeFileSync(join(dir, 'token'), 'stale\n');
  writeFileSync(
    join(dir, 'config'),
    [
      'apiVersion: v1',
      'clusters:',
      '- name: local',
      '  cluster:',
      `    server: http://127.0.0.1:${String(port)}`,
      'users:',
      '- name: me',
      '  user:',
      '    tokenFile: token',
      'contexts:',
      '- name: local',
      '  context: {cluster: local, user: me}',
      'current-context: local',
    ].join('\n'),
  );
  const transport = await Transport.create(
    loadKubeConfig({ kubeconfig: join(dir, 'config') }, { env: {}, serviceAccountDir: dir }),
  );
  t.after(() => {
    transport.close();
  });

  await assert.rejects(transport.json({ method: 'GET', path: '/api' }), (error: unknown) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 401);
    return true;
  });
  writeFileSync(join(dir, 'token'), 'fresh\n');
  const { status } = await transport.json({ method: 'GET', path: '/api' });
  assert.equal(status, 200);
  assert.deepEqual(seen, ['Bearer stale', 'Bearer fresh']);
});

/** An https: kubeconfig whose server is a TCP listener that accepts and never says a byte. */
async function blackhole(t: {
  after: (fn: () => void) => void;
}): Promise<{ kubeconfig: string; accepted: () => number }> {
  const dir = mkdtempSync(join(tmpdir(), 'nsync-blackhole-'));
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  writeFileSync(
    join(dir, 'config'),
    [
      'apiVersion: v1',
      'clusters:',
      '- name: void',
      '  cluster:',
      `    server: https://127.0.0.1:${String(port)}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: me',
      '  user: {token: unused}',
      'contexts:',
      '- name: void',
      '  context: {cluster: void, user: me}',
      'current-context: void',
    ].join('\n'),
  );
  return { kubeconfig: join(dir, 'config'), accepted: () => sockets.size };
}

/** Resolves 'settled' when `promise` settles before `ms`, else 'pending' (a bound, not a speed claim). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<'settled' | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    promise.then(
      () => 'settled' as const,
      () => 'settled' as const,
    ),
    new Promise<'pending'>((resolve) => {
      timer = setTimeout(() => {
        resolve('pending');
      }, ms);
    }),
  ]);
  clearTimeout(timer);
  return result;
}

test('a request waiting for an HTTP/2 connection that never completes its TLS handshake ends when its signal aborts', async (t) => {
  const { kubeconfig, accepted } = await blackhole(t);
  const transport = await Transport.create(
    loadKubeConfig({ kubeconfig }, { env: {}, serviceAccountDir: '/nonexistent' }),
  );
  t.after(() => {
    transport.close();
  });
  const stop = new AbortController();
  const request = transport.json({ method: 'GET', path: '/api', signal: stop.signal });
  request.catch(() => undefined);
  while (accepted() === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  stop.abort();
  assert.equal(
    await settlesWithin(request, 5_000),
    'settled',
    'the aborted request did not wait out the connect timeout',
  );
  await assert.rejects(request);
});

test('withSignal: every request of the view ends when its signal aborts, the transport itself goes on', async (t) => {
  const { kubeconfig, accepted } = await blackhole(t);
  const transport = await Transport.create(
    loadKubeConfig({ kubeconfig }, { env: {}, serviceAccountDir: '/nonexistent' }),
  );
  t.after(() => {
    transport.close();
  });
  const stop = new AbortController();
  const view = transport.withSignal(stop.signal);
  const viaView = view.json({ method: 'GET', path: '/api' });
  const direct = transport.json({ method: 'GET', path: '/api', timeoutMs: 60_000 });
  viaView.catch(() => undefined);
  direct.catch(() => undefined);
  while (accepted() === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  stop.abort();
  assert.equal(await settlesWithin(viaView, 5_000), 'settled', 'the view’s request ended with its signal');
  assert.equal(await settlesWithin(direct, 200), 'pending', 'a request without that signal still waits');
  // close() ends the handshake still in progress, so nothing holds the process afterwards.
  transport.close();
  assert.equal(await settlesWithin(direct, 5_000), 'settled', 'close() ended the connect');
  await assert.rejects(direct);
  await assert.rejects(view.json({ method: 'GET', path: '/api' }), 'an aborted view refuses new requests');
});
