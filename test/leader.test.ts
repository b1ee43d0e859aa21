/**
 * Two replicas on one Lease: only the leader writes; when it is SIGKILLed during churn the
 * standby takes over, no update is lost, and — by the API server's own audit log — the two never
 * wrote at the same time.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { startControlPlane, type Cluster } from '../tools/controlplane/harness.ts';
import {
  b64,
  createNamespaces,
  createObject,
  eventually,
  getObject,
  patchObject,
} from './support/cluster.ts';

const bin = join(import.meta.dirname, '..', 'bin', 'nsync.js');

function startReplica(cluster: Cluster, identity: string, leaseNamespace: string): ChildProcess {
  return spawn(
    process.execPath,
    [
      bin,
      'run',
      `--kubeconfig=${cluster.admin.kubeconfigPath}`,
      '--listen=127.0.0.1:0',
      `--identity=${identity}`,
      `--lease-namespace=${leaseNamespace}`,
      '--lease-duration=6s',
      '--renew-deadline=4s',
      '--retry-period=1s',
      '--exclude-namespaces=*,!lead-*',
    ],
    { stdio: 'ignore' },
  );
}

async function holder(cluster: Cluster, namespace: string): Promise<string> {
  const lease = await cluster.api<{ spec?: { holderIdentity?: string | null } }>(
    'GET',
    `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/nsync`,
  );
  return lease.status === 200 ? (lease.body.spec?.holderIdentity ?? '') : '';
}

interface AuditEvent {
  verb: string;
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  stage: string;
}

test('the standby takes over from a SIGKILLed leader: no lost update, never two writers', async () => {
  const dir = tmpdir();
  const policy = join(dir, `nsync-audit-policy-${String(process.pid)}.yaml`);
  const auditLog = join(dir, `nsync-audit-${String(process.pid)}.log`);
  writeFileSync(
    policy,
    [
      'apiVersion: audit.k8s.io/v1',
      'kind: Policy',
      'omitStages: [RequestReceived]',
      'rules:',
      '- level: Metadata',
      '  resources: [{ group: "", resources: [secrets] }]',
      '  verbs: [create, update, patch, delete]',
      '- level: None',
      '',
    ].join('\n'),
  );
  const cluster = await startControlPlane({
    controllerManager: false,
    apiserverFlags: [
      `--audit-policy-file=${policy}`,
      `--audit-log-path=${auditLog}`,
      '--audit-log-mode=blocking',
    ],
  });
  const replicas: ChildProcess[] = [];
  try {
    const [src = '', ...targets] = await createNamespaces(
      cluster,
      ['lead-src', 'lead-a', 'lead-b', 'lead-c'].map((name) => ({ name })),
    );
    const first = startReplica(cluster, 'replica-one', src);
    replicas.push(first);
    await eventually('replica-one to lead', async () =>
      (await holder(cluster, src)) === 'replica-one' ? true : undefined,
    );
    replicas.push(startReplica(cluster, 'replica-two', src));

    await createObject(cluster, 'secrets', src, {
      metadata: { name: 'churn', annotations: { 'nsync.dev/push-to': targets.join(',') } },
      data: { v: b64('0') },
    });
    const UPDATES = 40;
    for (let i = 1; i <= UPDATES; i += 1) {
      await patchObject(cluster, `/api/v1/namespaces/${src}/secrets/churn`, { data: { v: b64(String(i)) } });
      if (i === 15) first.kill('SIGKILL');
    }
    await eventually(
      'replica-two to take over the lease',
      async () => ((await holder(cluster, src)) === 'replica-two' ? true : undefined),
      { timeoutMs: 60_000 },
    );
    for (const namespace of targets) {
      await eventually(
        `the last update in ${namespace}`,
        async () => {
          const mirror = await getObject(cluster, 'secrets', namespace, 'churn');
          return mirror?.data?.['v'] === b64(String(UPDATES)) ? true : undefined;
        },
        { timeoutMs: 60_000 },
      );
    }

    const writes = readFileSync(auditLog, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as AuditEvent)
      .filter((event) => event.stage === 'ResponseComplete' && event.objectRef?.resource === 'secrets')
      .filter((event) => targets.includes(event.objectRef?.namespace ?? ''));
    const by = (identity: string): AuditEvent[] =>
      writes.filter((event) => event.userAgent?.includes(`(${identity})`));
    const one = by('replica-one');
    const two = by('replica-two');
    assert.ok(
      one.length > 0 && two.length > 0,
      `both replicas wrote in turn (${String(one.length)}, ${String(two.length)})`,
    );
    assert.equal(one.length + two.length, writes.length, 'every mirror write came from a replica');
    const lastOfOne = Math.max(...one.map((event) => Date.parse(event.stageTimestamp)));
    const firstOfTwo = Math.min(...two.map((event) => Date.parse(event.requestReceivedTimestamp)));
    assert.ok(lastOfOne < firstOfTwo, 'the standby wrote only after the leader’s last write completed');
  } finally {
    for (const replica of replicas) replica.kill('SIGKILL');
    await cluster.stop();
  }
});
