/**
 * Roles, RoleBindings and ServiceAccounts as the RBAC tests read and write them, and the API
 * server's own answer to "may this identity do that" (SubjectAccessReview, asked as admin).
 */
import type { Cluster } from '../../tools/controlplane/harness.ts';

/** The identity kinds' collections. */
export type IdentityPlural = 'roles' | 'rolebindings' | 'serviceaccounts';

/** A Role, RoleBinding or ServiceAccount as tests read it. */
export interface IdentityObject {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  rules?: { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[] }[];
  subjects?: { kind: string; name: string; namespace?: string; apiGroup?: string }[];
  roleRef?: { apiGroup: string; kind: string; name: string };
  imagePullSecrets?: { name: string }[];
  secrets?: { name: string }[];
  automountServiceAccountToken?: boolean;
}

/** The collection path of an identity kind in a namespace. */
export function identityPath(plural: IdentityPlural, namespace: string, name?: string): string {
  const base =
    plural === 'serviceaccounts'
      ? `/api/v1/namespaces/${namespace}/serviceaccounts`
      : `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/${plural}`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

/** Reads one object as admin; undefined when it does not exist. */
export async function getIdentity(
  cluster: Cluster,
  plural: IdentityPlural,
  namespace: string,
  name: string,
): Promise<IdentityObject | undefined> {
  const answer = await cluster.api<IdentityObject>('GET', identityPath(plural, namespace, name));
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) throw new Error(`GET ${plural} ${namespace}/${name}: ${String(answer.status)}`);
  return answer.body;
}

/** Creates one object as admin (or as `token`); fails on anything but 201. */
export async function createIdentity(
  cluster: Cluster,
  plural: IdentityPlural,
  namespace: string,
  body: object,
  token?: string,
): Promise<IdentityObject> {
  const path = identityPath(plural, namespace);
  const answer =
    token === undefined
      ? await cluster.api<IdentityObject>('POST', path, body)
      : await cluster.apiAs<IdentityObject>(token, 'POST', path, body);
  if (answer.status !== 201)
    throw new Error(
      `POST ${plural} in ${namespace}: ${String(answer.status)} ${JSON.stringify(answer.body)}`,
    );
  return answer.body;
}

/** Every object of an identity kind in a namespace, by name. */
export async function listIdentities(
  cluster: Cluster,
  plural: IdentityPlural,
  namespace: string,
): Promise<IdentityObject[]> {
  const answer = await cluster.api<{ items: IdentityObject[] }>('GET', identityPath(plural, namespace));
  if (answer.status !== 200) throw new Error(`LIST ${plural} in ${namespace}: ${String(answer.status)}`);
  return answer.body.items;
}

/** One access to ask the authorizer about. */
export interface Access {
  readonly verb: string;
  readonly group?: string;
  readonly resource: string;
  readonly namespace: string;
  readonly name?: string;
}

/**
 * Whether `user` (in `groups`) may do `access`, as the API server's authorizer answers now
 * (SubjectAccessReview, asked by the admin): the tenant's rights before and after an attempt.
 */
export async function mayDo(
  cluster: Cluster,
  user: string,
  groups: readonly string[],
  access: Access,
): Promise<boolean> {
  const answer = await cluster.api<{ status?: { allowed?: boolean } }>(
    'POST',
    '/apis/authorization.k8s.io/v1/subjectaccessreviews',
    {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user,
        groups,
        resourceAttributes: {
          group: access.group ?? '',
          resource: access.resource,
          verb: access.verb,
          namespace: access.namespace,
          ...(access.name === undefined ? {} : { name: access.name }),
        },
      },
    },
  );
  if (answer.status !== 201) throw new Error(`SubjectAccessReview: ${String(answer.status)}`);
  return answer.body.status?.allowed === true;
}

/** The user name and groups of a ServiceAccount, as the authorizer sees its tokens. */
export function serviceAccountUser(namespace: string, name: string): { user: string; groups: string[] } {
  return {
    user: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  };
}
