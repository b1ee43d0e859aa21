import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
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

test(
  'a server that accepts the connection and never answers: an aborted request and close() end the wait for it, not the connect timeout',
  { timeout: 15_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'nsync-transport-'));
    const held: Socket[] = [];
    const server = createTcpServer((socket) => {
      held.push(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of held) socket.destroy();
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
        '- name: silent',
        '  cluster:',
        `    server: https://127.0.0.1:${String(port)}`,
        '    insecure-skip-tls-verify: true',
        'users:',
        '- name: me',
        '  user:',
        '    token: t',
        'contexts:',
        '- name: silent',
        '  context: {cluster: silent, user: me}',
        'current-context: silent',
        '',
      ].join('\n'),
    );
    const transport = await Transport.create(loadKubeConfig({ kubeconfig: join(dir, 'config') }));
    // The test's own timeout (below the 30 s connect timeout) is what fails a wait that is not ended.
    const stop = new AbortController();
    const aborted = transport.json({ method: 'GET', path: '/api/v1/namespaces', signal: stop.signal });
    await eventuallyConnected(held);
    stop.abort();
    await assert.rejects(aborted, { name: 'AbortError' });
    const closed = transport.json({ method: 'GET', path: '/api/v1/namespaces' });
    transport.close();
    await assert.rejects(closed, /transport closed/);
  },
);

/** Waits until the silent server holds a connection: the request is in its connect phase. */
async function eventuallyConnected(held: readonly Socket[]): Promise<void> {
  while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
}
