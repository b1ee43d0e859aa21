import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import { EventRecorder } from '../events.ts';
import { createLogger } from '../log.ts';
import { Metrics } from '../metrics.ts';
import type { RemoteAccess } from './cluster.ts';
import { connectContexts, resolveRemoteContexts } from './connect.ts';
import { RemoteKubeconfigReloader } from './kubeconfig-reloader.ts';

const TOKEN = 'tok-SECRET-4242';
const HOME = new URL('https://10.0.0.1:6443');

/** A kubeconfig of contexts [name, server, token]; nothing connects until a request is made. */
function kubeconfigText(contexts: readonly (readonly [string, string, string])[]): string {
  const lines = ['apiVersion: v1', 'kind: Config', 'clusters:'];
  for (const [name, server] of contexts) lines.push(`- name: ${name}`, '  cluster:', `    server: ${server}`);
  lines.push('users:');
  for (const [name, , token] of contexts) lines.push(`- name: ${name}`, '  user:', `    token: ${token}`);
  lines.push('contexts:');
  for (const [name] of contexts)
    lines.push(`- name: ${name}`, '  context:', `    cluster: ${name}`, `    user: ${name}`);
  return `${lines.join('\n')}\n`;
}

/** A reloader on a file in a fresh directory, a host that records what it is asked, and what is said. */
async function setUp(text: string) {
  const path = join(mkdtempSync(join(tmpdir(), 'nsync-reload-')), 'kubeconfig');
  writeFileSync(path, text);
  const logs: string[] = [];
  const log = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  const metrics = new Metrics('test', { defaultMetrics: false });
  const notes: string[] = [];
  const events = new EventRecorder(
    {
      create: (_resource, _namespace, body) => {
        notes.push((body as { note: string }).note);
        return Promise.resolve(body);
      },
    },
    log,
    metrics,
    { instance: 'pod-0', repeatAfterMs: 0 },
  );
  const initial = resolveRemoteContexts(path, HOME, log);
  const running = new Map<string, RemoteAccess>();
  for (const access of await connectContexts(initial, 'test')) running.set(access.name, access);
  const calls: string[] = [];
  const reloader = new RemoteKubeconfigReloader({
    path,
    localServer: HOME,
    periodMs: 60_000,
    userAgent: 'test',
    initial,
    eventSubject: { kind: 'Pod', namespace: 'nsync', name: 'pod-0', uid: '' },
    events,
    metrics,
    log,
    host: {
      addRemote: (access) => {
        calls.push(`add ${access.name}`);
        running.set(access.name, access);
      },
      removeRemote: (name) => {
        calls.push(`remove ${name}`);
        running.get(name)?.transport.close();
        running.delete(name);
      },
    },
    contextsChanged: (contexts) => {
      calls.push(`contexts ${contexts.map((context) => context.name).join(',')}`);
      return Promise.resolve();
    },
  });
  const errors = async (): Promise<number> =>
    (await metrics.remoteKubeconfigReloadErrors.get()).values[0]?.value ?? 0;
  const close = (): void => {
    for (const access of running.values()) access.transport.close();
  };
  return { path, reloader, calls, logs, notes, errors, close, running };
}

test('per context: unchanged kept, changed rebuilt, new added, gone removed; in an order that frees names first', async () => {
  const { path, reloader, calls, close } = await setUp(
    kubeconfigText([
      ['east', 'https://10.0.0.2:6443', 'a'],
      ['west', 'https://10.0.0.3:6443', 'b'],
      ['north', 'https://10.0.0.4:6443', 'c'],
    ]),
  );
  try {
    await reloader.check();
    assert.deepEqual(calls, [], 'the file as it was at start changes nothing');
    writeFileSync(
      path,
      kubeconfigText([
        ['east', 'https://10.0.0.2:6443', 'a'],
        ['west', 'https://10.0.0.3:6443', 'b2'],
        ['south', 'https://10.0.0.5:6443', 'd'],
      ]),
    );
    await reloader.check();
    assert.deepEqual(calls, [
      'remove north',
      'remove west',
      'contexts east,west,south',
      'add west',
      'add south',
    ]);
    assert.deepEqual(reloader.names(), ['east', 'west', 'south']);
    calls.length = 0;
    await reloader.check();
    assert.deepEqual(calls, [], 'an unchanged file is not applied again');
  } finally {
    close();
  }
});

test('an unusable file changes nothing, is counted, logged once and reported; fixed, it applies', async () => {
  const start = kubeconfigText([['east', 'https://10.0.0.2:6443', TOKEN]]);
  const { path, reloader, calls, logs, notes, errors, close } = await setUp(start);
  try {
    writeFileSync(path, `clusters: [\n  token: ${TOKEN}\n  - {`);
    await reloader.check();
    await reloader.check();
    assert.deepEqual(calls, []);
    assert.equal(await errors(), 2, 'every refused check counts');
    assert.equal(logs.filter((line) => line.includes('remote kubeconfig refused')).length, 1);
    assert.match(notes[0] ?? '', /not applied, the running clusters are kept: .*is not valid YAML/);
    writeFileSync(
      path,
      kubeconfigText([
        ['east', 'https://10.0.0.2:6443', TOKEN],
        ['again', 'https://10.0.0.2:6443', TOKEN],
      ]),
    );
    await reloader.check();
    assert.deepEqual(calls, []);
    assert.match(notes.at(-1) ?? '', /contexts "east" and "again" reach the same API server/);
    writeFileSync(path, kubeconfigText([['west', 'https://10.0.0.3:6443', TOKEN]]));
    await reloader.check();
    assert.deepEqual(calls, ['remove east', 'contexts west', 'add west']);
    assert.equal(await errors(), 3);
  } finally {
    close();
  }
});

test('property: whatever the file becomes, no message quotes the token', async () => {
  const good = kubeconfigText([
    ['east', 'https://10.0.0.2:6443', TOKEN],
    ['west', 'https://10.0.0.3:6443', `${TOKEN}-w`],
  ]);
  const { path, reloader, logs, notes, close } = await setUp(good);
  // Edits an operator or a half-written file could make: whole lines dropped, a character put
  // anywhere, the file cut short anywhere. A token cut short must not show either: no message
  // holds "SECRET" (no edit can splice it into a name).
  const lines = good.split('\n');
  const edit = fc.tuple(
    fc.nat({ max: lines.length }),
    fc.nat({ max: lines.length }),
    fc.nat({ max: good.length }),
    fc.constantFrom('', ':', '-', ' ', '\n', '[', '{', '"', "'", '\t', '&', '*', '!', '%'),
    fc.nat({ max: good.length }),
  );
  try {
    await fc.assert(
      fc.asyncProperty(edit, async ([a, b, at, insert, end]) => {
        const [from, to] = a <= b ? [a, b] : [b, a];
        const kept = [...lines.slice(0, from), ...lines.slice(to)].join('\n');
        const text = (kept.slice(0, at) + insert + kept.slice(at)).slice(0, end);
        writeFileSync(path, text);
        await reloader.check();
        for (const line of [...logs, ...notes]) assert.ok(!line.includes('SECRET'), `quoted: ${line}`);
      }),
      { numRuns: 200 },
    );
  } finally {
    close();
  }
});
