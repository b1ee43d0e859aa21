/**
 * deploy/target — the only rights nsync has in a cluster it copies into — applied by the tests
 * exactly as shipped, so a test that passes proves those rights are enough.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load, loadAll } from 'js-yaml';
import type { Cluster } from '../../tools/controlplane/harness.ts';

/** One object of deploy/target. */
export type Manifest = { kind: string; metadata: { name: string; namespace?: string } } & Record<
  string,
  unknown
>;

/**
 * Where deploy/target's RoleBinding goes: into the one namespace nsync copies into there, or — for
 * a registration that names no namespace, whose copies nsync watches cluster-wide — as the
 * ClusterRoleBinding the file's comment asks for.
 */
export type MirrorBinding = { readonly namespace: string } | 'cluster-wide';

const RBAC = '/apis/rbac.authorization.k8s.io/v1';

const PATHS: Readonly<Record<string, (namespace: string) => string>> = {
  Namespace: () => '/api/v1/namespaces',
  ServiceAccount: (namespace) => `/api/v1/namespaces/${namespace}/serviceaccounts`,
  ClusterRole: () => `${RBAC}/clusterroles`,
  ClusterRoleBinding: () => `${RBAC}/clusterrolebindings`,
  RoleBinding: (namespace) => `${RBAC}/namespaces/${namespace}/rolebindings`,
};

/** deploy/target's objects as kustomize puts them together, the RoleBinding placed by `binding`. */
export function targetSideManifests(binding: MirrorBinding): Manifest[] {
  const dir = join(import.meta.dirname, '..', '..', 'deploy', 'target');
  const kustomization = load(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
    resources: string[];
  };
  return kustomization.resources
    .flatMap((file) => loadAll(readFileSync(join(dir, file), 'utf8')) as Manifest[])
    .map((object) => {
      if (object.kind !== 'RoleBinding') return object;
      if (binding !== 'cluster-wide')
        return { ...object, metadata: { ...object.metadata, namespace: binding.namespace } };
      const { namespace: _bound, ...metadata } = object.metadata;
      return { ...object, kind: 'ClusterRoleBinding', metadata };
    });
}

/** Creates `manifests` in `cluster` with its admin; anything but 201 fails the test. */
export async function applyManifests(cluster: Cluster, manifests: readonly Manifest[]): Promise<void> {
  for (const object of manifests) {
    const path = PATHS[object.kind];
    assert.ok(path !== undefined, `deploy/target holds only known kinds, not ${object.kind}`);
    const answer = await cluster.api('POST', path(object.metadata.namespace ?? ''), object);
    assert.equal(
      answer.status,
      201,
      `${object.kind} ${object.metadata.name}: ${JSON.stringify(answer.body)}`,
    );
  }
}
