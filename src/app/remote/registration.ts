/**
 * Registered clusters (docs/multicluster.md, docs/adr/0021): one Secret per target cluster in
 * nsync's own namespace, labelled `nsync.dev/cluster=<name>`. This module only reads: it turns the
 * Secrets into what each cluster's pipeline needs, or into a reason the Secret is refused. Reasons
 * name keys and other clusters, never a value, because they end up in Events and logs.
 */
import { createHash, X509Certificate } from 'node:crypto';
import {
  inlineKubeconfig,
  KubeconfigError,
  tokenKubeconfig,
  type ResolvedKubeconfig,
} from '../../kube/kubeconfig.ts';
import { ACCEPT_FROM_ANNOTATION, NATIVE_PREFIX } from '../../rules/markers.ts';
import { namespaceNameProblem } from '../../rules/names.ts';
import { compileNamespaceGlobList } from '../../rules/patterns.ts';

/** The label that makes a Secret in nsync's namespace a cluster registration; its value is the name. */
export const CLUSTER_LABEL = `${NATIVE_PREFIX}cluster`;
/** Annotation (or data key `namespace`): confines the cluster's copies to one namespace. */
export const NAMESPACE_ANNOTATION = `${NATIVE_PREFIX}namespace`;

/** The data keys a registration may hold: a kubeconfig, or server + token + CA (+ TLS name); a namespace. */
const KUBECONFIG_KEY = 'kubeconfig';
const TOKEN_KEYS = ['server', 'token', 'ca.crt'] as const;
const TLS_SERVER_NAME_KEY = 'tls-server-name';
const NAMESPACE_KEY = 'namespace';
const KNOWN_KEYS = new Set<string>([KUBECONFIG_KEY, ...TOKEN_KEYS, TLS_SERVER_NAME_KEY, NAMESPACE_KEY]);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** What the registry keeps of a registration Secret: its data stays base64, as the API sent it. */
export interface RegistrationSecret {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly creationTimestamp: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly data: Readonly<Record<string, string>>;
}

/** A valid registration: how to reach the cluster, and what the operator said about it. */
export interface Registration {
  readonly name: string;
  readonly secret: RegistrationSecret;
  readonly kubeconfig: ResolvedKubeconfig;
  readonly namespace: string | undefined;
  /** The Secret's labels but `nsync.dev/cluster`: what cluster selectors match. */
  readonly labels: Readonly<Record<string, string>>;
  readonly acceptFrom: string | undefined;
  /**
   * A SHA-256 over everything that shapes the pipeline (data, labels, accept-from, namespace):
   * a change means a rebuild. Compared, never logged.
   */
  readonly fingerprint: string;
}

/** A refused registration: the Secret, and why (safe to show: no values). */
export interface InvalidRegistration {
  readonly secret: RegistrationSecret;
  readonly problem: string;
}

/** Clusters that exist apart from the registrations: a registration may not be one of them. */
export interface KnownClusters {
  /** This cluster's API server. */
  readonly local: URL;
  /** The contexts of `--remote-kubeconfig`. */
  readonly contexts: readonly { readonly name: string; readonly server: URL }[];
}

function decode(secret: RegistrationSecret, key: string): string | undefined {
  const value = secret.data[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

function where(secret: RegistrationSecret, key: string): string {
  return `Secret ${secret.namespace}/${secret.name} (data ${key})`;
}

/** The cluster name a registration Secret claims (its label value), whether valid or not. */
export function registeredName(secret: RegistrationSecret): string {
  return secret.labels[CLUSTER_LABEL] ?? '';
}

/** How to reach the cluster: the kubeconfig form or the token form. Throws KubeconfigError. */
function accessOf(secret: RegistrationSecret): ResolvedKubeconfig {
  const keys = Object.keys(secret.data);
  const unknown = keys.filter((key) => !KNOWN_KEYS.has(key)).sort();
  if (unknown.length > 0)
    throw new KubeconfigError(
      `unknown data key${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => `"${key}"`).join(', ')}: a registration holds "kubeconfig", or "server", "token" and "ca.crt" (optional "tls-server-name"), and optionally "namespace"`,
    );
  const kubeconfig = decode(secret, KUBECONFIG_KEY);
  const tokenForm = [...TOKEN_KEYS, TLS_SERVER_NAME_KEY].filter((key) => secret.data[key] !== undefined);
  if (kubeconfig !== undefined) {
    if (tokenForm.length > 0)
      throw new KubeconfigError(
        `both "kubeconfig" and ${tokenForm.map((key) => `"${key}"`).join(', ')}: a registration holds one form`,
      );
    return inlineKubeconfig(kubeconfig, where(secret, KUBECONFIG_KEY));
  }
  const missing = TOKEN_KEYS.filter((key) => secret.data[key] === undefined);
  if (missing.length > 0)
    throw new KubeconfigError(
      `no "kubeconfig", and ${missing.map((key) => `"${key}"`).join(', ')} missing: a registration holds "kubeconfig", or "server", "token" and "ca.crt"`,
    );
  const ca = Buffer.from(secret.data['ca.crt'] ?? '', 'base64');
  try {
    new X509Certificate(ca);
  } catch {
    throw new KubeconfigError(`${where(secret, 'ca.crt')} is not a PEM certificate`);
  }
  return tokenKubeconfig(
    {
      server: decode(secret, 'server') ?? '',
      token: decode(secret, 'token') ?? '',
      ca,
      tlsServerName: decode(secret, TLS_SERVER_NAME_KEY),
    },
    `Secret ${secret.namespace}/${secret.name}`,
  );
}

/** The namespace that confines the cluster, from the data key, the annotation or the kubeconfig's context. */
function namespaceOf(secret: RegistrationSecret, kubeconfig: ResolvedKubeconfig): string | undefined {
  const stated: [string, string | undefined][] = [
    ['data key "namespace"', decode(secret, NAMESPACE_KEY)?.trim()],
    [`annotation ${NAMESPACE_ANNOTATION}`, secret.annotations[NAMESPACE_ANNOTATION]?.trim()],
    ['the kubeconfig context', kubeconfig.namespace],
  ];
  const given = stated.filter((entry): entry is [string, string] => entry[1] !== undefined);
  const [first] = given;
  if (first === undefined) return undefined;
  for (const [source, value] of given) {
    const problem = namespaceNameProblem(value);
    if (problem !== undefined) throw new KubeconfigError(`${source}: ${problem}`);
    if (value !== first[1])
      throw new KubeconfigError(`${first[0]} and ${source} name different namespaces: state one`);
  }
  return first[1];
}

/** Parses one registration Secret on its own (conflicts with other clusters are resolveRegistrations'). */
export function parseRegistration(
  secret: RegistrationSecret,
): { ok: true; value: Registration } | { ok: false; error: string } {
  const name = registeredName(secret);
  if (!DNS_LABEL.test(name))
    return {
      ok: false,
      error: `label ${CLUSTER_LABEL} must be a cluster name of at most 63 lowercase letters, digits and "-" (a DNS label)`,
    };
  const acceptFrom = secret.annotations[ACCEPT_FROM_ANNOTATION];
  if (acceptFrom !== undefined) {
    const compiled = compileNamespaceGlobList(acceptFrom);
    if (!compiled.ok) return { ok: false, error: `annotation ${ACCEPT_FROM_ANNOTATION}: ${compiled.error}` };
  }
  let kubeconfig: ResolvedKubeconfig;
  let namespace: string | undefined;
  try {
    kubeconfig = accessOf(secret);
    namespace = namespaceOf(secret, kubeconfig);
  } catch (error) {
    if (error instanceof KubeconfigError) return { ok: false, error: error.message };
    throw error;
  }
  const labels = Object.fromEntries(Object.entries(secret.labels).filter(([key]) => key !== CLUSTER_LABEL));
  const fingerprint = createHash('sha256')
    .update(
      JSON.stringify([
        name,
        Object.entries(secret.data).sort(([a], [b]) => a.localeCompare(b)),
        Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)),
        acceptFrom ?? null,
        namespace ?? null,
      ]),
    )
    .digest('hex');
  return { ok: true, value: { name, secret, kubeconfig, namespace, labels, acceptFrom, fingerprint } };
}

/** Older first; the API server's creation time, then the Secret's name, so the order is stable. */
function byAge(a: RegistrationSecret, b: RegistrationSecret): number {
  return a.creationTimestamp === b.creationTimestamp
    ? a.name.localeCompare(b.name)
    : a.creationTimestamp.localeCompare(b.creationTimestamp);
}

/**
 * Every registration Secret, parsed and checked against the others: a name or API server that is
 * this cluster, a `--remote-kubeconfig` context, or an older registration's is refused — one
 * cluster is reached one way, and a newer Secret never takes a working cluster's place.
 */
export function resolveRegistrations(
  secrets: Iterable<RegistrationSecret>,
  known: KnownClusters,
): { valid: Registration[]; invalid: InvalidRegistration[] } {
  const valid: Registration[] = [];
  const invalid: InvalidRegistration[] = [];
  const contextNames = new Set(known.contexts.map((context) => context.name));
  const servers = new Map<string, string>([[known.local.host, 'this cluster']]);
  for (const context of known.contexts)
    if (!servers.has(context.server.host))
      servers.set(context.server.host, `context "${context.name}" of --remote-kubeconfig`);
  const names = new Map<string, string>();
  for (const secret of [...secrets].sort(byAge)) {
    const parsed = parseRegistration(secret);
    if (!parsed.ok) {
      invalid.push({ secret, problem: parsed.error });
      continue;
    }
    const registration = parsed.value;
    const server = registration.kubeconfig.server.host;
    const problem = contextNames.has(registration.name)
      ? `cluster name "${registration.name}" is already a context of --remote-kubeconfig`
      : names.has(registration.name)
        ? `cluster name "${registration.name}" is already registered by Secret ${names.get(registration.name) ?? ''}`
        : servers.has(server)
          ? `its API server is already reached as ${servers.get(server) ?? ''}`
          : undefined;
    if (problem !== undefined) {
      invalid.push({ secret, problem });
      continue;
    }
    names.set(registration.name, secret.name);
    servers.set(server, `registered cluster "${registration.name}"`);
    valid.push(registration);
  }
  return { valid, invalid };
}
