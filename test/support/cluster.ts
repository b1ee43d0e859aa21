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
