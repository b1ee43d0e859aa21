/**
 * What differs between the kinds nsync mirrors: which fields are a kind's content, which API
 * group it lives in, and which dialects serve it. Secrets and ConfigMaps carry keyed data; Roles,
 * RoleBindings and ServiceAccounts ("identity kinds") carry a few structured fields, and since
 * they decide who may do what, they are served only from namespaces the operator trusts
 * (docs/adr/0017).
 *
 * Pure: no I/O.
 */
import type { Dialect, Kind } from './model.ts';

/** The kinds whose content is structured fields rather than keyed data. */
export type IdentityKind = 'Role' | 'RoleBinding' | 'ServiceAccount';

/** Every kind nsync knows, in `--kinds` order. */
export const ALL_KINDS: readonly Kind[] = ['Secret', 'ConfigMap', 'Role', 'RoleBinding', 'ServiceAccount'];

/**
 * The top-level fields that are an identity kind's content, as kubernetes-replicator copies them
 * (dialects.md §5). Nothing else of the object is written: a ServiceAccount's `secrets` and
 * `automountServiceAccountToken` belong to its namespace's users and the token controller.
 */
export const CONTENT_FIELDS_OF: Readonly<Record<IdentityKind, readonly string[]>> = {
  Role: ['rules'],
  RoleBinding: ['roleRef', 'subjects'],
  ServiceAccount: ['imagePullSecrets'],
};

/**
 * The fields a pull target of an identity kind receives. A RoleBinding's `roleRef` is immutable
 * and was chosen by whoever created the target (under the API server's escalation check on
 * them), so a pull copies its `subjects` only, as replicator does on update.
 */
export const PULLED_FIELDS_OF: Readonly<Record<IdentityKind, readonly string[]>> = {
  Role: ['rules'],
  RoleBinding: ['subjects'],
  ServiceAccount: ['imagePullSecrets'],
};

/** Whether a kind's content is structured fields (Role, RoleBinding, ServiceAccount). */
export function isIdentityKind(kind: Kind): kind is IdentityKind {
  return kind === 'Role' || kind === 'RoleBinding' || kind === 'ServiceAccount';
}

/** The apiVersion of a kind's objects. */
export function apiVersionOf(kind: Kind): 'v1' | 'rbac.authorization.k8s.io/v1' {
  return kind === 'Role' || kind === 'RoleBinding' ? 'rbac.authorization.k8s.io/v1' : 'v1';
}

/**
 * Whether a dialect serves a kind. reflector and kubed never served the identity kinds, so their
 * annotations on one ask for something no manifest relies on: reported, never acted on.
 */
export function dialectServesKind(dialect: Dialect, kind: Kind): boolean {
  return !isIdentityKind(kind) || dialect === 'native' || dialect === 'replicator';
}

/**
 * Namespaces that hold the cluster's own bootstrap policy and controller identities: never a
 * target of an identity kind, whatever `--exclude-namespaces` says.
 */
export const IDENTITY_RESERVED_NAMESPACES: ReadonlySet<string> = new Set([
  'kube-system',
  'kube-public',
  'kube-node-lease',
]);

/** A RoleBinding's roleRef, as its canonical JSON content field holds it. */
export interface RoleRef {
  readonly apiGroup: string;
  readonly kind: string;
  readonly name: string;
}

/** Reads a roleRef from its content field (canonical JSON); undefined when it is not one. */
export function parseRoleRef(json: string | undefined): RoleRef | undefined {
  if (json === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { apiGroup, kind, name } = parsed as Record<string, unknown>;
  if (typeof kind !== 'string' || typeof name !== 'string') return undefined;
  return { apiGroup: typeof apiGroup === 'string' ? apiGroup : '', kind, name };
}
