/**
 * Installs nsync's CRDs from the chart's own files (deploy/chart/nsync/crds) into a control plane
 * (tests, benchmark),
 * the way `helm install` or `kubectl apply` would. CRDs are cluster-scoped and the integration run
 * shares one control plane, so installing is idempotent: whichever test file comes first creates
 * them, the others find them (or bring them up to date) and wait until they are served.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { Cluster } from './harness.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where the chart keeps its CRDs: the single source of nsync's API schema. */
export const CRD_DIR = join(root, 'deploy', 'chart', 'nsync', 'crds');

interface CrdObject {
  metadata: { name: string; resourceVersion?: string };
  spec: { group: string; names: { plural: string } };
  status?: { conditions?: { type: string; status: string }[] };
}

const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

/** Polls `check` until it gives a value, or fails naming `what` after 60 s. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The CRD objects of the chart, parsed from its files. */
export function chartCrds(): CrdObject[] {
  return readdirSync(CRD_DIR)
    .filter((file) => file.endsWith('.yaml'))
    .sort()
    .map((file) => parse(readFileSync(join(CRD_DIR, file), 'utf8')) as CrdObject);
}

/**
 * Creates (or updates to the chart's version) every CRD of the chart, then waits until each is
 * Established and its resource is listable. Fails with the API server's message when it refuses a
 * CRD (a schema or CEL rule it cannot accept, e.g. over the CEL cost budget).
 */
export async function installCrds(cluster: Cluster): Promise<void> {
  for (const crd of chartCrds()) {
    const created = await cluster.api<{ message?: string }>('POST', CRDS, crd);
    if (created.status === 409) {
      const current = await cluster.api<CrdObject>('GET', `${CRDS}/${crd.metadata.name}`);
      assert.equal(current.status, 200, `GET CRD ${crd.metadata.name}`);
      const updated = await cluster.api<{ message?: string }>('PUT', `${CRDS}/${crd.metadata.name}`, {
        ...crd,
        metadata: { ...crd.metadata, resourceVersion: current.body.metadata.resourceVersion },
      });
      // Another file may have updated it in between: its content is the same files' anyway.
      assert.ok(
        updated.status === 200 || updated.status === 409,
        `update CRD ${crd.metadata.name}: ${updated.status} ${updated.body.message ?? ''}`,
      );
    } else {
      assert.equal(
        created.status,
        201,
        `create CRD ${crd.metadata.name}: ${created.status} ${created.body.message ?? ''}`,
      );
    }
  }
  for (const crd of chartCrds()) {
    await eventually(`CRD ${crd.metadata.name} to be Established`, async () => {
      const answer = await cluster.api<CrdObject>('GET', `${CRDS}/${crd.metadata.name}`);
      const established = answer.body.status?.conditions?.some(
        (condition) => condition.type === 'Established' && condition.status === 'True',
      );
      return established === true ? true : undefined;
    });
    const list = `/apis/${crd.spec.group}/v1alpha1/${crd.spec.names.plural}?limit=1`;
    await eventually(`${crd.spec.names.plural} to be served`, async () =>
      (await cluster.api('GET', list)).status === 200 ? true : undefined,
    );
  }
}
