/**
 * nsync as operators run it: a separate process with probes, metrics and a graceful SIGTERM; and
 * `nsync explain`, which prints the planner's decision for every namespace.
 */
import assert from 'node:assert/strict';
import { spawn, execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
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

/**
 * A kubeconfig whose current context points at nothing (port 1 of loopback refuses), and a context
 * `nsync-test` for the real cluster with `namespace` set: what kubectl's --context and the
 * context's namespace mean can only pass if both are honoured.
 */
function twoContextKubeconfig(namespace: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'nsync-cli-'));
  const path = join(dir, 'kubeconfig');
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: real',
      `  cluster: {server: '${cluster.server}', certificate-authority: '${cluster.caFile}'}`,
      '- name: nowhere',
      "  cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}",
      'users:',
      '- name: admin',
      `  user: {token: '${cluster.admin.token}'}`,
      'contexts:',
      '- name: nsync-test',
      `  context: {cluster: real, user: admin, namespace: '${namespace}'}`,
      '- name: broken',
      '  context: {cluster: nowhere, user: admin}',
      'current-context: broken',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return path;
}

interface ExplainJson {
  apiVersion: string;
  kind: string;
  source: { kind: string; namespace: string; name: string; exists: boolean };
  targets: {
    namespace: string;
    name: string;
    mode: string;
    decision: string;
    reason: string;
    write: string | null;
    keptKeys: string[];
  }[];
  writes: Record<string, number>;
  problems: unknown[];
}

/** Checks the document `explain -o json` printed for the source made in the test below. */
function assertExplainJson(
  stdout: string,
  names: { src: string; yes: string; no: string; busy: string },
): void {
  const document = JSON.parse(stdout) as ExplainJson;
  assert.equal(document.apiVersion, 'nsync.dev/explain/v1');
  assert.equal(document.kind, 'Explanation');
  assert.deepEqual(document.source, { kind: 'Secret', namespace: names.src, name: 'json', exists: true });
  const target = (namespace: string) => document.targets.find((entry) => entry.namespace === namespace);
  for (const entry of document.targets) {
    assert.deepEqual(Object.keys(entry), [
      'namespace',
      'name',
      'mode',
      'decision',
      'reason',
      'write',
      'keptKeys',
    ]);
    assert.ok(entry.reason !== '', `a reason for ${entry.namespace}`);
  }
  assert.deepEqual(
    { ...target(names.yes), reason: '' },
    {
      namespace: names.yes,
      name: 'json',
      mode: 'push',
      decision: 'create',
      reason: '',
      write: 'create',
      keptKeys: [],
    },
  );
  assert.equal(target(names.busy)?.decision, 'conflict-unowned');
  assert.equal(target(names.busy)?.write, null);
  assert.equal(target(names.no)?.decision, 'not-selected');
  assert.equal(target(names.src)?.decision, 'source-namespace');
  assert.equal(target('kube-system')?.decision, 'excluded');
  assert.deepEqual(document.writes, { create: 1, replace: 0, patch: 0, delete: 0 });
  assert.deepEqual(document.problems, []);
  assert.ok(!stdout.includes(b64('json-value')), 'no value in the output');
}

test('kubectl-nsync explain -o json, invoked as kubectl invokes a plugin: --context, the context namespace, KUBECONFIG, --kubeconfig', async () => {
  const [src = '', yes = '', no = '', busy = ''] = await createNamespaces(cluster, [
    { name: `${prefix}-j-src` },
    { name: `${prefix}-j-yes` },
    { name: `${prefix}-j-no` },
    { name: `${prefix}-j-busy` },
  ]);
  await createObject(cluster, 'secrets', busy, { metadata: { name: 'json' }, data: { own: b64('x') } });
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'json', annotations: { 'nsync.dev/push-to': `${yes},${busy}` } },
    data: { k: b64('json-value') },
  });
  const kubeconfig = twoContextKubeconfig(src);
  const plugin = join(import.meta.dirname, '..', 'bin', 'kubectl-nsync.js');
  const run = (args: readonly string[], env: NodeJS.ProcessEnv) =>
    promisify(execFile)(process.execPath, [plugin, ...args], { env: { PATH: process.env['PATH'], ...env } });
  const names = { src, yes, no, busy };
  const exclude = `--exclude-namespaces=*,!${prefix}-*`;

  // kubectl hands its global flags after the plugin name through, and the environment as it is.
  const viaEnv = await run(
    ['explain', 'secret/json', '--context', 'nsync-test', '-n', src, '-o', 'json', exclude],
    {
      KUBECONFIG: kubeconfig,
    },
  );
  assertExplainJson(viaEnv.stdout, names);
  // No -n: the context's namespace, as kubectl. --output=json, and kubectl's `kind name` spelling.
  const viaFlag = await run(
    [
      'explain',
      'secret',
      'json',
      `--kubeconfig=${kubeconfig}`,
      '--context=nsync-test',
      '--output=json',
      exclude,
    ],
    {},
  );
  assertExplainJson(viaFlag.stdout, names);

  // Without --context, the kubeconfig's current context: the one that points nowhere. A clear
  // error at once, not a list retried for ever; an unknown context is a usage error.
  const outcome = (args: readonly string[]) =>
    run(args, { KUBECONFIG: kubeconfig }).then(
      () => ({ code: 0, stderr: '' }),
      (error: unknown) => error as { code: number; stderr: string },
    );
  const unreachable = await outcome(['explain', 'secret/json', '-n', src, '-o', 'json', exclude]);
  assert.equal(unreachable.code, 1, unreachable.stderr);
  assert.match(
    unreachable.stderr,
    /^kubectl nsync explain: cannot list namespaces at https:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/,
  );
  const unknown = await outcome([
    'explain',
    'secret/json',
    '-n',
    src,
    '-o',
    'json',
    exclude,
    '--context=missing',
  ]);
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /^kubectl nsync explain: .*missing/m);

  const badOutput = await outcome(['explain', 'secret/json', '-n', src, '-o', 'yaml']);
  assert.equal(badOutput.code, 2);
  assert.equal(
    badOutput.stderr,
    'kubectl nsync explain: -o/--output: expected json (or no -o for the table), got "yaml"\n',
  );
});

/** kubectl on this machine, or why not. */
function findKubectl(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
const kubectl = findKubectl();

test(
  'a real kubectl finds the plugin on PATH: kubectl nsync explain … -o json',
  { skip: kubectl === undefined ? 'no kubectl on PATH (the plugin itself is tested directly above)' : false },
  async () => {
    const [src = '', yes = ''] = await createNamespaces(cluster, [
      { name: `${prefix}-k-src` },
      { name: `${prefix}-k-yes` },
    ]);
    await createObject(cluster, 'secrets', src, {
      metadata: { name: 'viakubectl', annotations: { 'nsync.dev/push-to': yes } },
      data: { k: b64('v') },
    });
    // As npm installs a package's "bin": a link named kubectl-nsync on PATH, next to a Node 24.
    const dir = mkdtempSync(join(tmpdir(), 'nsync-plugin-'));
    symlinkSync(join(import.meta.dirname, '..', 'bin', 'kubectl-nsync.js'), join(dir, 'kubectl-nsync'));
    const PATH = [dir, dirname(process.execPath), process.env['PATH'] ?? ''].join(delimiter);
    const env = { PATH, KUBECONFIG: twoContextKubeconfig(src), HOME: dir };
    const { stdout } = await promisify(execFile)(
      kubectl ?? 'kubectl',
      [
        'nsync',
        'explain',
        'secret/viakubectl',
        '--context',
        'nsync-test',
        '-o',
        'json',
        `--exclude-namespaces=*,!${prefix}-*`,
      ],
      { env },
    );
    const document = JSON.parse(stdout) as ExplainJson;
    assert.equal(document.apiVersion, 'nsync.dev/explain/v1');
    assert.deepEqual(document.source, { kind: 'Secret', namespace: src, name: 'viakubectl', exists: true });
    assert.equal(document.targets.find((entry) => entry.namespace === yes)?.decision, 'create');
    const { stdout: listed } = await promisify(execFile)(kubectl ?? 'kubectl', ['plugin', 'list'], { env });
    assert.match(listed, /kubectl-nsync/);
  },
);
