/**
 * `nsync explain` per remote cluster (docs/multicluster.md, "Seeing what happens"), as operators run
 * it: separate processes, `nsync` and the kubectl plugin, against the shared control plane ("home")
 * and a second real control plane ("east"). Beside east, the remote kubeconfig holds a context whose
 * server refuses connections, one whose server accepts them and never answers, and one whose
 * credentials east refuses: each is reported with its reason, and explain still ends by itself.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { kubed } from '../src/rules/markers.ts';
import { startControlPlane, type ControlPlane } from '../tools/controlplane/harness.ts';
import {
  b64,
  createNamespaces,
  createObject,
  eventually,
  getObject,
  sharedCluster,
  uniqueName,
} from './support/cluster.ts';
import { startNsync } from './support/nsync.ts';

const home = sharedCluster();
const prefix = uniqueName('xr');
const src = `${prefix}-src`;
/** A source namespace east does not have. */
const lonely = `${prefix}-lonely`;
const nsyncBin = join(import.meta.dirname, '..', 'bin', 'nsync.js');
const pluginBin = join(import.meta.dirname, '..', 'bin', 'kubectl-nsync.js');
/** Explain must end by itself well before this; a hang is killed and fails the test. */
const HANG_LIMIT_MS = 150_000;
/**
 * The silent cluster's deadline ends its wait (below the transport's 30 s connect timeout, which
 * would end it otherwise with another message); long enough for east to list on a busy machine.
 */
const CLUSTER_TIMEOUT = '10s';

let east: ControlPlane;
let silent: Server;
const held: Socket[] = [];
/** east, down, silent and nobody: what explain is given. */
let fleetKubeconfig: string;

interface Context {
  readonly name: string;
  readonly server: string;
  readonly token: string;
  readonly ca?: string;
}

function writeKubeconfig(path: string, contexts: readonly Context[]): string {
  const lines = ['apiVersion: v1', 'kind: Config', 'clusters:'];
  for (const { name, server, ca } of contexts) {
    lines.push(`- name: ${name}`, '  cluster:', `    server: ${server}`);
    lines.push(ca === undefined ? '    insecure-skip-tls-verify: true' : `    certificate-authority: ${ca}`);
  }
  lines.push('users:');
  for (const { name, token } of contexts) lines.push(`- name: ${name}`, '  user:', `    token: ${token}`);
  lines.push('contexts:');
  for (const { name } of contexts)
    lines.push(`- name: ${name}`, '  context:', `    cluster: ${name}`, `    user: ${name}`);
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  return path;
}

function sourceSecret(name: string, value: string, annotations: Record<string, string> = {}): object {
  return { metadata: { name, annotations }, type: 'Opaque', data: { value: b64(value) } };
}

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; a hang past HANG_LIMIT_MS is killed and reported as such. */
async function run(bin: string, args: readonly string[]): Promise<Outcome> {
  return promisify(execFile)(process.execPath, [bin, ...args], { timeout: HANG_LIMIT_MS }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: unknown) => {
      const failed = error as { code: number | null; killed?: boolean; stdout: string; stderr: string };
      assert.ok(failed.killed !== true, `explain did not end within ${String(HANG_LIMIT_MS)} ms`);
      return { code: failed.code ?? -1, stdout: failed.stdout, stderr: failed.stderr };
    },
  );
}

/** explain's arguments for one source in `src`, as for the deployment that pushes to the fleet. */
function explainArgs(name: string, ...extra: string[]): string[] {
  return [
    'explain',
    `secret/${name}`,
    '-n',
    src,
    `--kubeconfig=${home.admin.kubeconfigPath}`,
    `--exclude-namespaces=*,!${prefix}-*`,
    `--source-namespaces=${prefix}-*`,
    '--cluster-name=home',
    `--remote-kubeconfig=${fleetKubeconfig}`,
    `--cluster-timeout=${CLUSTER_TIMEOUT}`,
    ...extra,
  ];
}

interface ClusterEntry {
  name: string;
  origin: string;
  server: string;
  namespace: string | null;
  status: string;
  reason: string | null;
  targets: { namespace: string; name: string; mode: string; decision: string; write: string | null }[];
  writes: Record<string, number>;
  problems: unknown[];
}

interface Document {
  apiVersion: string;
  source: { kind: string; namespace: string; name: string; exists: boolean };
  targets: { namespace: string; decision: string }[];
  problems: unknown[];
  clusters: ClusterEntry[];
}

function clusterOf(document: Document, name: string): ClusterEntry {
  const entry = document.clusters.find((cluster) => cluster.name === name);
  assert.ok(entry, `cluster ${name} in ${JSON.stringify(document.clusters.map((cluster) => cluster.name))}`);
  return entry;
}

/** The lines of one cluster's section of the table: from its heading to the next heading. */
function section(stdout: string, cluster: string): string {
  const lines = stdout.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`Cluster ${cluster} (`));
  assert.ok(start >= 0, `a section for ${cluster} in:\n${stdout}`);
  const end = lines.findIndex((line, index) => index > start && line.startsWith('Cluster '));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

before(async () => {
  east = await startControlPlane({ controllerManager: false });
  // A server that takes connections and never says a word: only a deadline ends a wait on it.
  silent = createServer((socket) => {
    held.push(socket);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const address = silent.address();
  const silentPort = typeof address === 'object' && address !== null ? address.port : 0;
  await createNamespaces(home, [{ name: src }, { name: lonely }]);
  await createNamespaces(east, [{ name: src }]);
  const eastContext = { name: 'east', server: east.server, token: east.admin.token, ca: east.caFile };
  const nobody = east.users[0];
  assert.ok(nobody !== undefined, 'the harness has a user without rights');
  // The same API server under another name, with credentials RBAC grants nothing.
  const eastPort = new URL(east.server).port;
  fleetKubeconfig = writeKubeconfig(join(east.dir, `fleet-${prefix}.kubeconfig`), [
    eastContext,
    { name: 'down', server: 'https://127.0.0.1:1', token: 'unused' },
    { name: 'silent', server: `https://127.0.0.1:${String(silentPort)}`, token: 'unused' },
    { name: 'nobody', server: `https://localhost:${eastPort}`, token: nobody.token },
  ]);

  // One source that nsync has already copied to east (so explain finds it in sync there), made
  // by a real nsync that is stopped before the other sources exist.
  await createObject(
    home,
    'secrets',
    src,
    sourceSecret('copied', 'copied-value', { [kubed.syncContexts]: 'east' }),
  );
  const nsync = await startNsync(
    home,
    [`${prefix}-*`],
    [
      '--cluster-name=home',
      `--remote-kubeconfig=${writeKubeconfig(join(east.dir, `east-${prefix}.kubeconfig`), [eastContext])}`,
    ],
  );
  try {
    await eventually('the copy in east', () => getObject(east, 'secrets', src, 'copied'), {
      timeoutMs: 120_000,
      intervalMs: 250,
    });
  } finally {
    await nsync.stop();
  }
  // Not copied yet; one whose name east already holds for someone else; one that names no cluster.
  await createObject(
    home,
    'secrets',
    src,
    sourceSecret('fresh', 'fresh-value', { [kubed.syncContexts]: 'east' }),
  );
  await createObject(east, 'secrets', src, sourceSecret('taken', 'theirs'));
  await createObject(
    home,
    'secrets',
    src,
    sourceSecret('taken', 'taken-value', { [kubed.syncContexts]: 'east' }),
  );
  await createObject(home, 'secrets', src, sourceSecret('homebound', 'home-value'));
  await createObject(
    home,
    'secrets',
    lonely,
    sourceSecret('far', 'far-value', { [kubed.syncContexts]: 'east' }),
  );
});

after(async () => {
  for (const socket of held) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
  await east.stop();
});

test('explain shows, per remote cluster, the decision in its namespace; unreachable, silent and forbidden clusters with their reason', async () => {
  const outcome = await run(nsyncBin, explainArgs('taken'));
  assert.equal(outcome.code, 0, outcome.stderr);
  const { stdout } = outcome;
  assert.match(stdout, /^Cluster home \(this cluster\):$/m);
  // This cluster: sync-contexts pushes nothing here, and is served (no "not enabled" problem).
  assert.match(section(stdout, 'home'), /^No targets: /m);
  assert.doesNotMatch(section(stdout, 'home'), /sync-contexts/);
  const eastSection = section(stdout, 'east');
  assert.match(
    eastSection,
    new RegExp(`^Cluster east \\(kubeconfig context, ${new URL(east.server).origin}\\):$`, 'm'),
  );
  assert.match(eastSection, new RegExp(`^${src} +taken +push +conflict-unowned +\\S`, 'm'));
  assert.match(eastSection, /^Writes planned: 0 /m);
  assert.match(
    section(stdout, 'down'),
    /^Cluster down \(kubeconfig context, https:\/\/127\.0\.0\.1:1\): unreachable: cannot reach https:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/,
  );
  assert.match(
    section(stdout, 'silent'),
    new RegExp(
      `: unreachable: no complete answer from https://127\\.0\\.0\\.1:\\d+ within ${CLUSTER_TIMEOUT.replace('s', ' s')}`,
    ),
  );
  assert.match(section(stdout, 'nobody'), /\): forbidden: GET \/api\/v1\/.*403/);
  for (const value of ['taken-value', 'theirs']) {
    assert.ok(!stdout.includes(value) && !stdout.includes(b64(value)), 'no value in the output');
  }
  // Read only: the object nsync does not own in east is as it was.
  const there = await getObject(east, 'secrets', src, 'taken');
  assert.equal(Buffer.from(there?.data?.['value'] ?? '', 'base64').toString('utf8'), 'theirs');
});

test('kubectl nsync explain -o json carries a clusters entry per cluster: create, in-sync, nothing to do, unreachable', async () => {
  const fresh = await run(pluginBin, explainArgs('fresh', '-o', 'json'));
  assert.equal(fresh.code, 0, fresh.stderr);
  const document = JSON.parse(fresh.stdout) as Document;
  assert.equal(document.apiVersion, 'nsync.dev/explain/v1');
  assert.deepEqual(document.source, { kind: 'Secret', namespace: src, name: 'fresh', exists: true });
  assert.deepEqual(document.targets, []);
  assert.deepEqual(document.problems, []);
  assert.deepEqual(
    document.clusters.map((cluster) => [cluster.name, cluster.status]),
    [
      ['east', 'planned'],
      ['down', 'unreachable'],
      ['silent', 'unreachable'],
      ['nobody', 'forbidden'],
    ],
  );
  const eastEntry = clusterOf(document, 'east');
  assert.deepEqual(
    {
      ...eastEntry,
      targets: eastEntry.targets.map(({ namespace, name, mode, decision, write }) => ({
        namespace,
        name,
        mode,
        decision,
        write,
      })),
    },
    {
      name: 'east',
      origin: 'kubeconfig',
      server: new URL(east.server).origin,
      namespace: null,
      status: 'planned',
      reason: null,
      targets: [{ namespace: src, name: 'fresh', mode: 'push', decision: 'create', write: 'create' }],
      writes: { create: 1, replace: 0, patch: 0, delete: 0 },
      problems: [],
    },
  );
  assert.match(clusterOf(document, 'down').reason ?? '', /ECONNREFUSED/);
  assert.deepEqual(clusterOf(document, 'silent').targets, []);
  assert.ok(!fresh.stdout.includes(b64('fresh-value')), 'no value in the output');
  // explain wrote nothing: still no copy in east.
  assert.equal(await getObject(east, 'secrets', src, 'fresh'), undefined);

  // --cluster narrows to one cluster (the others are not even contacted).
  const copied = await run(pluginBin, explainArgs('copied', '--output=json', '--cluster', 'east'));
  assert.equal(copied.code, 0, copied.stderr);
  const narrowed = JSON.parse(copied.stdout) as Document;
  assert.deepEqual(
    narrowed.clusters.map((cluster) => cluster.name),
    ['east'],
  );
  assert.deepEqual(
    clusterOf(narrowed, 'east').targets.map(({ namespace, decision, write }) => ({
      namespace,
      decision,
      write,
    })),
    [{ namespace: src, decision: 'in-sync', write: null }],
  );

  const homebound = await run(pluginBin, explainArgs('homebound', '-o', 'json', '--cluster=east'));
  assert.equal(homebound.code, 0, homebound.stderr);
  const nothing = clusterOf(JSON.parse(homebound.stdout) as Document, 'east');
  assert.equal(nothing.status, 'planned');
  assert.deepEqual(nothing.targets, []);
  assert.match(nothing.reason ?? '', /^Nothing to do: the source does not name this cluster/);

  // Named, but its namespace does not exist in east: said so, never created.
  const far = await run(pluginBin, [
    ...explainArgs('far', '-o', 'json', '--cluster=east').map((arg) => (arg === src ? lonely : arg)),
  ]);
  assert.equal(far.code, 0, far.stderr);
  const missing = clusterOf(JSON.parse(far.stdout) as Document, 'east');
  assert.deepEqual([missing.status, missing.targets], ['planned', []]);
  assert.match(
    missing.reason ?? '',
    /^No target: the namespace it would be copied into does not exist there/,
  );

  // --cluster=<this cluster's name>: no remote cluster; a name that is no cluster: a usage error.
  const local = await run(pluginBin, explainArgs('fresh', '-o', 'json', '--cluster=home'));
  assert.equal(local.code, 0, local.stderr);
  assert.deepEqual((JSON.parse(local.stdout) as Document).clusters, []);
  const badTimeout = await run(pluginBin, explainArgs('fresh', '--cluster-timeout=soon'));
  assert.equal(badTimeout.code, 2);
  assert.match(badTimeout.stderr, /^kubectl nsync explain: --cluster-timeout: expected a duration/);
  const unknown = await run(pluginBin, explainArgs('fresh', '--cluster=nowhere'));
  assert.equal(unknown.code, 2);
  assert.equal(
    unknown.stderr,
    'kubectl nsync explain: --cluster: no cluster named "nowhere" (this one is "home"; remote: east, down, silent, nobody)\n',
  );
});
