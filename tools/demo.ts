/**
 * `npm run demo`: nsync's main job on an embedded default. Starts a real control plane on
 * loopback, runs `nsync run` as its own process against it, applies sample sources — the
 * cert-manager example of the seed document verbatim, plus native push and pull — and prints the
 * mirrors nsync made. Stops everything on exit.
 */
import { spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlane, type Cluster } from './controlplane/harness.ts';

const NAMESPACES: { name: string; labels?: Record<string, string> }[] = [
  { name: 'cert-manager' },
  { name: 'dev' },
  { name: 'staging' },
  { name: 'prod' },
  { name: 'qa' },
  { name: 'platform' },
  { name: 'team-a', labels: { tier: 'apps' } },
  { name: 'team-b', labels: { tier: 'apps' } },
  { name: 'team-legacy', labels: { tier: 'apps' } },
];

/** Placeholder PEM-shaped bytes: the demo never needs a real key. */
const pem = (label: string): string =>
  Buffer.from(`-----BEGIN ${label}-----\nZGVtbw==\n-----END ${label}-----\n`).toString('base64');

async function apply(cluster: Cluster, path: string, body: unknown): Promise<void> {
  const answer = await cluster.api('POST', path, body);
  if (answer.status !== 201)
    throw new Error(`POST ${path}: ${String(answer.status)} ${JSON.stringify(answer.body)}`);
}

async function sampleSources(cluster: Cluster): Promise<void> {
  for (const namespace of NAMESPACES) {
    await apply(cluster, '/api/v1/namespaces', {
      metadata: { name: namespace.name, labels: namespace.labels ?? {} },
    });
  }
  // The Secret cert-manager issues for the seed's reflector Certificate (secretTemplate applied).
  await apply(cluster, '/api/v1/namespaces/cert-manager/secrets', {
    metadata: {
      name: 'source-tls',
      annotations: {
        'reflector.v1.k8s.emberstack.com/reflection-allowed': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-allowed-namespaces': 'dev,staging,prod',
        'reflector.v1.k8s.emberstack.com/reflection-auto-enabled': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-auto-namespaces': 'dev,staging,prod',
        'cert-manager.io/certificate-name': 'source',
      },
    },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': pem('CERTIFICATE'), 'tls.key': pem('PRIVATE KEY'), 'ca.crt': pem('CERTIFICATE') },
  });
  // Native push: a CA bundle to every team namespace but the legacy one.
  await apply(cluster, '/api/v1/namespaces/platform/configmaps', {
    metadata: { name: 'ca-bundle', annotations: { 'nsync.dev/push-to': 'team-*, !team-legacy' } },
    data: { 'ca.crt': 'demo CA bundle' },
  });
  // Native pull: registry credentials that team namespaces may pull, and one that does.
  await apply(cluster, '/api/v1/namespaces/platform/secrets', {
    metadata: { name: 'registry', annotations: { 'nsync.dev/pull-allowed': 'team-*' } },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') },
  });
  await apply(cluster, '/api/v1/namespaces/team-a/secrets', {
    metadata: { name: 'pull-secret', annotations: { 'nsync.dev/pull-from': 'platform/registry' } },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from('{}').toString('base64') },
  });
}

interface Listed {
  items: {
    metadata: { namespace: string; name: string; annotations?: Record<string, string> };
    data?: Record<string, string>;
  }[];
}

/** The mirrors nsync made or filled, as rows (names and key counts only, never values). */
async function mirrors(cluster: Cluster): Promise<string[][]> {
  const rows: string[][] = [];
  for (const [kind, plural] of [
    ['Secret', 'secrets'],
    ['ConfigMap', 'configmaps'],
  ] as const) {
    const listed = await cluster.api<Listed>('GET', `/api/v1/${plural}`);
    for (const item of listed.body.items) {
      const annotations = item.metadata.annotations ?? {};
      const source = annotations['nsync.dev/source'] ?? annotations['nsync.dev/pull-from'];
      if (source === undefined || annotations['nsync.dev/content-hash'] === undefined) continue;
      const mode = annotations['nsync.dev/source'] === undefined ? 'pull' : 'push';
      rows.push([
        kind,
        item.metadata.namespace,
        item.metadata.name,
        mode,
        source,
        String(Object.keys(item.data ?? {}).length),
      ]);
    }
  }
  return rows.sort((a, b) => a.join('/').localeCompare(b.join('/')));
}

function table(rows: string[][]): string {
  const header = ['KIND', 'NAMESPACE', 'NAME', 'MODE', 'SOURCE', 'KEYS'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]?.length ?? 0)));
  return [header, ...rows]
    .map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  '))
    .join('\n');
}

const EXPECTED = 3 + 2 + 1; // reflector: dev, staging, prod; native push: team-a, team-b; native pull: team-a

console.log('Starting a local control plane (etcd, kube-apiserver, kube-controller-manager)…');
const cluster = await startControlPlane();
const logFile = join(cluster.dir, 'nsync.log');
const nsync = spawn(
  process.execPath,
  [
    join(import.meta.dirname, '..', 'bin', 'nsync.js'),
    'run',
    `--kubeconfig=${cluster.admin.kubeconfigPath}`,
    '--listen=127.0.0.1:0',
    '--leader-elect=false',
  ],
  { stdio: ['ignore', 'ignore', openSync(logFile, 'a')] },
);
let exitCode = 0;
try {
  console.log(`Running nsync (logs: ${logFile}); applying sample sources…`);
  await sampleSources(cluster);
  const deadline = Date.now() + 60_000;
  let rows = await mirrors(cluster);
  while (rows.length < EXPECTED && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    rows = await mirrors(cluster);
  }
  console.log(`\nMirrors made by nsync (${String(rows.length)}):\n${table(rows)}\n`);
  console.log('qa and team-legacy got nothing: the sources do not select them.');
  if (rows.length < EXPECTED) {
    console.error(`expected ${String(EXPECTED)} mirrors; nsync's last log lines:`);
    console.error(readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-20).join('\n'));
    exitCode = 1;
  }
} finally {
  nsync.kill('SIGTERM');
  await new Promise((resolve) => nsync.once('exit', resolve));
  await cluster.stop();
}
process.exitCode = exitCode;
