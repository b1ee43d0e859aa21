/**
 * Object names that Kubernetes itself or well-known controllers create by name in namespaces,
 * and that pods or controllers trust because of that name. A mirror at one of them would race the
 * publisher (kube-controller-manager writes `kube-root-ca.crt` into every new namespace, and every
 * pod there trusts it for the API server) or take its place, so no dialect, rename or mode may
 * ever make one a target. The list is deliberately by exact name (or a name prefix), never by
 * namespace alone: the publishers write these names wherever they run.
 *
 * Pure: no I/O.
 */
import type { Kind } from './model.ts';

/** One reserved name, and who publishes it (for the Event and `nsync explain`). */
export interface ReservedName {
  readonly kind: Kind;
  /** The exact name, or a prefix when `prefix` is true. */
  readonly name: string;
  readonly prefix?: boolean;
  /** Who creates or trusts objects of this name. */
  readonly owner: string;
}

/**
 * Researched from the publishers' sources and documentation (docs/security.md, "Reserved names").
 * Sorted by kind, then name; a name is reserved in every namespace.
 */
export const RESERVED_NAMES: readonly ReservedName[] = [
  // ConfigMaps published into every (or a chosen) namespace by a controller.
  { kind: 'ConfigMap', name: 'cluster-info', owner: 'kubeadm (bootstrap discovery, kube-public)' },
  {
    kind: 'ConfigMap',
    name: 'extension-apiserver-authentication',
    owner: 'kube-apiserver (client CA for aggregated API servers, kube-system)',
  },
  {
    kind: 'ConfigMap',
    name: 'istio-ca-root-cert',
    owner: 'istiod (mesh root certificate, published into every namespace)',
  },
  {
    kind: 'ConfigMap',
    name: 'kube-root-ca.crt',
    owner: "kube-controller-manager's root-ca-cert-publisher (API server CA, every namespace)",
  },
  { kind: 'ConfigMap', name: 'kubeadm-config', owner: 'kubeadm (kube-system)' },
  { kind: 'ConfigMap', name: 'kubelet-config', owner: 'kubeadm (kube-system)' },
  {
    kind: 'ConfigMap',
    name: 'linkerd-identity-trust-roots',
    owner: 'Linkerd (mesh trust anchors)',
  },
  {
    kind: 'ConfigMap',
    name: 'openshift-service-ca.crt',
    owner: "OpenShift's service CA operator (published into every namespace)",
  },
  // Secrets a controller creates by name, or acts on because of their name.
  {
    kind: 'Secret',
    name: 'bootstrap-token-',
    prefix: true,
    owner: 'the bootstrap token authenticator (node join credentials, kube-system)',
  },
  { kind: 'Secret', name: 'cacerts', owner: 'Istio (plugged-in mesh CA, read by istiod)' },
  { kind: 'Secret', name: 'istio-ca-secret', owner: 'istiod (self-signed mesh CA)' },
  { kind: 'Secret', name: 'linkerd-identity-issuer', owner: 'Linkerd (identity issuer certificate)' },
  {
    kind: 'Secret',
    name: 'sh.helm.release.v1.',
    prefix: true,
    owner: 'Helm (release records; a squatted name blocks the release)',
  },
  // Roles and RoleBindings the API server's bootstrap policy, kube-controller-manager and kubeadm
  // create and reconcile by name (system:controller:*, system::leader-locking-*, …).
  {
    kind: 'Role',
    name: 'extension-apiserver-authentication-reader',
    owner: "kube-apiserver's bootstrap policy (kube-system)",
  },
  { kind: 'Role', name: 'kubeadm:', prefix: true, owner: 'kubeadm (cluster bootstrap roles)' },
  {
    kind: 'Role',
    name: 'system:',
    prefix: true,
    owner: "Kubernetes' bootstrap policy and its controllers (system:controller:*, system::leader-locking-*)",
  },
  { kind: 'RoleBinding', name: 'kubeadm:', prefix: true, owner: 'kubeadm (cluster bootstrap bindings)' },
  {
    kind: 'RoleBinding',
    name: 'system:',
    prefix: true,
    owner:
      "Kubernetes' bootstrap policy and its controllers (system:controller:*, system::extension-apiserver-authentication-reader, OpenShift's system:image-pullers …)",
  },
  // ServiceAccounts a controller creates by name in every namespace.
  {
    kind: 'ServiceAccount',
    name: 'builder',
    owner: "OpenShift's project controller (every project's build identity)",
  },
  {
    kind: 'ServiceAccount',
    name: 'default',
    owner: "kube-controller-manager's serviceaccount controller (every namespace's default identity)",
  },
  {
    kind: 'ServiceAccount',
    name: 'deployer',
    owner: "OpenShift's project controller (every project's deployment identity)",
  },
];

/**
 * The reserved entry a target name falls under, or undefined when the name is free. `kind` is
 * the mirror's kind: a ConfigMap named like a reserved Secret is free, and the reverse.
 */
export function reservedName(kind: Kind, name: string): ReservedName | undefined {
  return RESERVED_NAMES.find(
    (entry) =>
      entry.kind === kind && (entry.prefix === true ? name.startsWith(entry.name) : name === entry.name),
  );
}
