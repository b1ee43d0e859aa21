import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { KubeconfigError } from '../../kube/kubeconfig.ts';
import { createLogger } from '../log.ts';
import { connectRemoteClusters } from './connect.ts';

/** A kubeconfig whose contexts are [name, server, namespace?]; tokens only, so nothing connects. */
function kubeconfig(contexts: readonly (readonly [string, string, string?])[]): string {
  const lines = ['apiVersion: v1', 'kind: Config', 'clusters:'];
  for (const [name, server] of contexts) lines.push(`- name: ${name}`, '  cluster:', `    server: ${server}`);
  lines.push('users:');
  for (const [name] of contexts) lines.push(`- name: ${name}`, '  user:', `    token: t-${name}`);
  lines.push('contexts:');
  for (const [name, , namespace] of contexts) {
    lines.push(`- name: ${name}`, '  context:', `    cluster: ${name}`, `    user: ${name}`);
    if (namespace !== undefined) lines.push(`    namespace: ${namespace}`);
  }
  const path = join(mkdtempSync(join(tmpdir(), 'nsync-remote-')), 'kubeconfig');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

function logger(lines: string[]) {
  return createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
}

const HOME = new URL('https://10.0.0.1:6443');

test('every context is a target cluster, with its namespace; one reaching this cluster is left out', async () => {
  const lines: string[] = [];
  const remotes = await connectRemoteClusters(
    kubeconfig([
      ['east', 'https://10.0.0.2:6443', 'certs'],
      ['west', 'https://10.0.0.3:6443'],
      ['self', 'https://10.0.0.1:6443'],
    ]),
    HOME,
    logger(lines),
  );
  try {
    assert.deepEqual(
      remotes.map((remote) => [remote.name, remote.namespace]),
      [
        ['east', 'certs'],
        ['west', undefined],
      ],
    );
    assert.match(lines.join(''), /reaches this cluster/);
  } finally {
    for (const remote of remotes) remote.transport.close();
  }
});

test('two contexts reaching one API server are refused with both names', async () => {
  await assert.rejects(
    connectRemoteClusters(
      kubeconfig([
        ['east', 'https://10.0.0.2:6443'],
        ['east-again', 'https://10.0.0.2:6443', 'other'],
      ]),
      HOME,
      logger([]),
    ),
    (error: unknown) => error instanceof KubeconfigError && /"east" and "east-again"/.test(error.message),
  );
});

test('a missing file is a clear error', async () => {
  await assert.rejects(
    connectRemoteClusters('/nonexistent/remote-kubeconfig', HOME, logger([])),
    (error: unknown) => error instanceof KubeconfigError && /remote-kubeconfig/.test(error.message),
  );
});
