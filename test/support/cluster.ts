/**
 * What integration tests share: the control plane of the run, unique namespaces, and polling with
 * deadlines (never sleeps that assume a speed).
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { attachCluster, type Cluster, type ClusterInfo } from '../../tools/controlplane/harness.ts';

/** The control plane started by the global setup. */
export function sharedCluster(): Cluster {
  const infoFile = process.env['NSYNC_TEST_CLUSTER'];
  if (infoFile === undefined) {
    throw new Error('NSYNC_TEST_CLUSTER is not set: run integration tests with `npm run test:integration`');
  }
  return attachCluster(JSON.parse(readFileSync(infoFile, 'utf8')) as ClusterInfo);
}

/** A namespace name no other test uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Polls `check` until it returns a value other than undefined, or fails with `what` after the deadline. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
}

/** Creates namespaces (with optional labels) and returns their names. */
export async function createNamespaces(
  cluster: Cluster,
  specs: readonly { name: string; labels?: Record<string, string> }[],
): Promise<string[]> {
  for (const spec of specs) {
    const answer = await cluster.api('POST', '/api/v1/namespaces', {
      metadata: { name: spec.name, labels: spec.labels ?? {} },
    });
    if (answer.status !== 201) throw new Error(`create namespace ${spec.name}: ${answer.status}`);
  }
  return specs.map((spec) => spec.name);
}

/** A Secret or ConfigMap as tests read it. */
export interface TestObject {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: { manager?: string; operation?: string; time?: string }[];
  };
  type?: string;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** Reads an object; undefined when it does not exist. */
export async function getObject(
  cluster: Cluster,
  plural: 'secrets' | 'configmaps',
  namespace: string,
  name: string,
): Promise<TestObject | undefined> {
  const answer = await cluster.api<TestObject>('GET', `/api/v1/namespaces/${namespace}/${plural}/${name}`);
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) throw new Error(`GET ${plural} ${namespace}/${name}: ${String(answer.status)}`);
  return answer.body;
}

/** Creates an object in a namespace; fails the test on any answer but 201. */
export async function createObject(
  cluster: Cluster,
  plural: 'secrets' | 'configmaps',
  namespace: string,
  body: object,
): Promise<TestObject> {
  const answer = await cluster.api<TestObject>('POST', `/api/v1/namespaces/${namespace}/${plural}`, body);
  if (answer.status !== 201)
    throw new Error(
      `POST ${plural} in ${namespace}: ${String(answer.status)} ${JSON.stringify(answer.body)}`,
    );
  return answer.body;
}

/** JSON-merge-patches an object. */
export async function patchObject(cluster: Cluster, path: string, patch: object): Promise<TestObject> {
  const answer = await cluster.api<TestObject>('PATCH', path, patch, 'application/merge-patch+json');
  if (answer.status !== 200)
    throw new Error(`PATCH ${path}: ${String(answer.status)} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** base64 of a UTF-8 string, as Secret data holds it. */
export function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}

/** Events (events.k8s.io/v1) in a namespace about one object. */
export async function eventsAbout(
  cluster: Cluster,
  namespace: string,
  name: string,
): Promise<{ reason: string; type: string; note: string; reportingInstance: string }[]> {
  const answer = await cluster.api<{
    items: {
      reason: string;
      type: string;
      note?: string;
      reportingInstance?: string;
      regarding?: { name?: string };
    }[];
  }>('GET', `/apis/events.k8s.io/v1/namespaces/${namespace}/events`);
  return answer.body.items
    .filter((event) => event.regarding?.name === name)
    .map((event) => ({
      reason: event.reason,
      type: event.type,
      note: event.note ?? '',
      reportingInstance: event.reportingInstance ?? '',
    }));
}
