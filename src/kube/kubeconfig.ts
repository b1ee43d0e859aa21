/**
 * Finds the cluster and the credentials the way kubectl does, without @kubernetes/client-node:
 * importing that package costs ~84 MiB of RSS (its generated API), more than half of nsync's
 * memory goal, for what is a YAML file and a few headers (docs/adr/0008).
 *
 * Covered here: kubeconfig files (explicit, $KUBECONFIG merged, ~/.kube/config), contexts, the
 * in-cluster service account, tokens, token files, client certificates, basic auth and exec
 * plugins (the sources that refresh are in ./credentials.ts). Kubeconfigs that need more
 * (auth-provider plugins, proxy-url, impersonation) are handed to client-node, imported only then
 * (./kubeconfig-fallback.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { loadAll, YAMLException } from 'js-yaml';
import {
  ANONYMOUS,
  constant,
  ExecCredentials,
  FileToken,
  readMaterial,
  readToken,
  type CredentialSource,
} from './credentials.ts';
import { KubeconfigError } from './errors.ts';
import { connectViaClientNode, type FallbackSpec } from './kubeconfig-fallback.ts';

export type { Credential, CredentialSource } from './credentials.ts';
export { TOKEN_FILE_PERIOD_MS } from './credentials.ts';
export { KubeconfigError } from './errors.ts';

/** Where to find the cluster. */
export interface ClusterAccess {
  /** A kubeconfig file; undefined = the default chain ($KUBECONFIG, ~/.kube/config, in-cluster). */
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
  /** Force the in-cluster service account. */
  readonly inCluster?: boolean;
}

/** What the loader reads besides the files it is pointed at; injectable so tests need no real pod. */
export interface KubeconfigEnvironment {
  /** KUBECONFIG, HOME, KUBERNETES_SERVICE_HOST/PORT, and the environment of exec plugins. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** @default '/var/run/secrets/kubernetes.io/serviceaccount' */
  readonly serviceAccountDir?: string;
  /** Wall clock (ms) for token re-reads and exec credential expiry. @default Date.now */
  readonly now?: () => number;
}

/** TLS settings of the connection pool; empty for an http: server. */
export interface TlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly rejectUnauthorized?: boolean;
  readonly servername?: string;
}

/** Everything the transport needs to reach one API server. */
export interface Connection {
  readonly server: URL;
  readonly tls: TlsMaterial;
  readonly credentials: CredentialSource;
  /** Set only by the client-node fallback for proxy-url: requests must go through its agent. */
  readonly agent?: Agent;
}

/** A kubeconfig resolved to one context. Holds no secrets in enumerable, loggable fields. */
export interface ResolvedKubeconfig {
  /** Where it came from, for messages: the file(s) read, or 'in-cluster'. */
  readonly origin: string;
  /** undefined in-cluster. */
  readonly context: string | undefined;
  /** The context's namespace (in-cluster: the service account's), if it sets one. */
  readonly namespace: string | undefined;
  readonly server: URL;
  /** What needs @kubernetes/client-node; empty when nsync's own loader covers everything. */
  readonly fallback: readonly string[];
  /** Reads nothing more for the common cases; imports client-node for a fallback. */
  connect(): Promise<Connection>;
}

/** Where Kubernetes mounts the pod's service account. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const EXEC_API_VERSIONS = new Set([
  'client.authentication.k8s.io/v1',
  'client.authentication.k8s.io/v1beta1',
]);

/**
 * The context names of one kubeconfig file, in file order: the target clusters of kubed's
 * `sync-contexts` (docs/adr/0018). Throws KubeconfigError when the file cannot be read or parsed.
 */
export function kubeconfigContexts(path: string): string[] {
  return [...mergeFiles([{ path, required: true }]).contexts.keys()];
}

/** One context of a kubeconfig file, resolved, with a fingerprint of everything that shapes it. */
export interface FingerprintedContext {
  readonly context: string;
  readonly config: ResolvedKubeconfig;
  /**
   * SHA-256 over the context's entry and its cluster's and user's entries (server, CA,
   * credentials, namespace, and the file relative paths are read from): equal means the same
   * connection. Compared, never logged.
   */
  readonly fingerprint: string;
}

/**
 * Every context of one kubeconfig file, resolved from a single read (a file swapped between two
 * reads could otherwise mix old and new contexts): `--remote-kubeconfig` at start and at every
 * reload (docs/adr/0028). Throws KubeconfigError naming the file and context, never a value.
 */
export function loadEachContext(
  path: string,
  environment: KubeconfigEnvironment = {},
): FingerprintedContext[] {
  const env = environment.env ?? process.env;
  const now = environment.now ?? Date.now;
  const merged = mergeFiles([{ path, required: true }]);
  return [...merged.contexts.values()].map((context) => {
    const fields = new Fields(context.body, `context "${context.name}"`);
    const cluster = merged.clusters.get(fields.string('cluster') ?? '');
    const userName = fields.string('user');
    const user = userName === undefined ? undefined : merged.users.get(userName);
    const fingerprint = createHash('sha256')
      .update(
        JSON.stringify([
          context.name,
          context.body,
          cluster?.body ?? null,
          cluster?.file ?? null,
          user?.body ?? null,
          user?.file ?? null,
        ]),
      )
      .digest('hex');
    return {
      context: context.name,
      config: resolveContext(merged, context.name, path, env, now),
      fingerprint,
    };
  });
}

/** Loads the kubeconfig as kubectl would and resolves its current (or the given) context. */
export function loadKubeConfig(
  access: ClusterAccess,
  environment: KubeconfigEnvironment = {},
): ResolvedKubeconfig {
  const env = environment.env ?? process.env;
  const now = environment.now ?? Date.now;
  const serviceAccount = new ServiceAccount(env, environment.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
  if (access.inCluster === true) return serviceAccount.resolve(now);

  const files =
    access.kubeconfig !== undefined && access.kubeconfig !== ''
      ? [{ path: access.kubeconfig, required: true }]
      : defaultChain(env);
  const merged = mergeFiles(files);
  const origin = merged.read.length > 0 ? merged.read.join(':') : files.map((file) => file.path).join(':');

  // kubectl uses the service account when the kubeconfig says nothing usable (no file, an empty
  // file, no current-context): the same binary and flags then work in a pod and on a laptop.
  const contextName = access.context ?? merged.currentContext;
  if (contextName === undefined) {
    if (serviceAccount.possible()) return serviceAccount.resolve(now);
    const empty = merged.clusters.size === 0 && merged.users.size === 0 && merged.contexts.size === 0;
    throw new KubeconfigError(
      merged.read.length === 0
        ? `no kubeconfig found (looked for ${origin || '~/.kube/config'}) and not running in a cluster (${serviceAccount.missing()})`
        : empty
          ? `kubeconfig ${origin} is empty and not running in a cluster (${serviceAccount.missing()})`
          : `kubeconfig ${origin} sets no current-context: pass --context`,
    );
  }
  return resolveContext(merged, contextName, origin, env, now);
}

/**
 * What a kubeconfig held in a Secret may not use (a registered cluster, docs/adr/0021): plugins
 * would let whoever writes the Secret run a command in nsync's pod, file references would let them
 * read its files (the service account token among them), and proxy-url and impersonation need
 * client-node, which nsync does not load for a Secret.
 */
const INLINE_REFUSED: Readonly<Record<'cluster' | 'user', readonly string[]>> = {
  cluster: ['certificate-authority', 'proxy-url'],
  user: [
    'exec',
    'auth-provider',
    'tokenFile',
    'client-certificate',
    'client-key',
    'as',
    'as-groups',
    'as-uid',
    'as-user-extra',
  ],
};

/**
 * A kubeconfig given as text (a Secret's data), resolved to its current-context from the text
 * alone: it never runs a command, reads a file or needs client-node. `where` names the text in
 * errors, which never quote a value.
 */
export function inlineKubeconfig(text: string, where: string): ResolvedKubeconfig {
  const merged = emptyMerged();
  mergeDocument(merged, parseDocument(text, where), where, '');
  const contextName = merged.currentContext;
  if (contextName === undefined) throw new KubeconfigError(`${where} sets no current-context`);
  const context = merged.contexts.get(contextName);
  const fields = context === undefined ? undefined : new Fields(context.body, `context "${contextName}"`);
  for (const [part, name] of [
    ['cluster', fields?.string('cluster')],
    ['user', fields?.string('user')],
  ] as const) {
    const entry =
      name === undefined ? undefined : (part === 'cluster' ? merged.clusters : merged.users).get(name);
    for (const key of INLINE_REFUSED[part]) {
      if (entry !== undefined && entry.body[key] !== undefined && entry.body[key] !== null)
        throw new KubeconfigError(
          `${where}: ${part} "${entry.name}" uses ${key}, which a kubeconfig in a Secret may not (nsync runs no command and reads no file for it)`,
        );
    }
  }
  return resolveContext(merged, contextName, where, {}, Date.now);
}

/** A bearer token for an https: API server, with the CA that signed its serving certificate. */
export interface TokenAccess {
  readonly server: string;
  readonly token: string;
  /** PEM. */
  readonly ca: Buffer;
  /** The name to verify the server's certificate against, when it is not the server's host. */
  readonly tlsServerName?: string | undefined;
}

/**
 * A server, token and CA (a registered cluster's other form) as a resolved kubeconfig. Only
 * https: — a bearer token is never sent in clear text. `where` names it in errors.
 */
export function tokenKubeconfig(access: TokenAccess, where: string): ResolvedKubeconfig {
  const server = serverUrl(access.server.trim(), true, where);
  if (server.protocol !== 'https:') throw new KubeconfigError(`${where}: server must be an https: URL`);
  const token = access.token.trim();
  if (token === '' || !/^[\x21-\x7e]+$/.test(token))
    throw new KubeconfigError(`${where}: token must be one line of printable characters without spaces`);
  const servername = access.tlsServerName?.trim();
  const connection: Connection = {
    server,
    tls: { ca: access.ca, ...(servername === undefined || servername === '' ? {} : { servername }) },
    credentials: constant({ Authorization: `Bearer ${token}` }),
  };
  return {
    origin: where,
    context: undefined,
    namespace: undefined,
    server,
    fallback: [],
    connect: () => Promise.resolve(connection),
  };
}

/** One context of merged kubeconfig files, resolved to its cluster and credentials. */
function resolveContext(
  merged: Merged,
  contextName: string,
  origin: string,
  env: Readonly<Record<string, string | undefined>>,
  now: () => number,
): ResolvedKubeconfig {
  const context = merged.contexts.get(contextName);
  if (context === undefined)
    throw new KubeconfigError(`context "${contextName}" not found in kubeconfig ${origin || '(none found)'}`);
  const contextFields = new Fields(context.body, `context "${contextName}"`);
  const clusterName = contextFields.string('cluster');
  if (clusterName === undefined)
    throw new KubeconfigError(`context "${contextName}" names no cluster (kubeconfig ${origin})`);
  const cluster = merged.clusters.get(clusterName);
  if (cluster === undefined)
    throw new KubeconfigError(
      `cluster "${clusterName}" of context "${contextName}" not found in kubeconfig ${origin}`,
    );
  const userName = contextFields.string('user');
  const user = userName === undefined ? undefined : merged.users.get(userName);
  if (userName !== undefined && user === undefined)
    throw new KubeconfigError(
      `user "${userName}" of context "${contextName}" not found in kubeconfig ${origin}`,
    );

  const resolvedCluster = resolveCluster(cluster);
  const resolvedUser = resolveUser(user, resolvedCluster, env, now);
  const fallback = [...resolvedCluster.fallback, ...resolvedUser.fallback];
  const base = {
    origin,
    context: contextName,
    namespace: contextFields.string('namespace'),
    server: resolvedCluster.server,
    fallback,
  };
  if (fallback.length > 0) {
    const spec: FallbackSpec = {
      kubeconfig: clientNodeKubeconfig(contextName, resolvedCluster, user, userName),
      server: resolvedCluster.server,
      proxied: resolvedCluster.proxied,
      now,
    };
    return { ...base, connect: () => connectViaClientNode(spec) };
  }
  const connection: Connection = {
    server: resolvedCluster.server,
    tls: { ...resolvedCluster.tls(), ...resolvedUser.tls() },
    credentials: resolvedUser.credentials,
  };
  return { ...base, connect: () => Promise.resolve(connection) };
}

// ---------------------------------------------------------------------------------------------
// Files and merging

type Mapping = Readonly<Record<string, unknown>>;

/** A named cluster, user or context, with the file it came from (relative paths are its). */
interface Entry {
  readonly name: string;
  readonly body: Mapping;
  readonly file: string;
}

interface Merged {
  readonly clusters: Map<string, Entry>;
  readonly users: Map<string, Entry>;
  readonly contexts: Map<string, Entry>;
  currentContext: string | undefined;
  /** Files that existed and were read, in order. */
  readonly read: string[];
}

function defaultChain(
  env: Readonly<Record<string, string | undefined>>,
): { path: string; required: boolean }[] {
  const list = env['KUBECONFIG'];
  if (list !== undefined && list !== '') {
    // Only $KUBECONFIG then, even if none of its files exists (kubectl does not add ~/.kube/config).
    const paths = [...new Set(list.split(':').filter((path) => path !== ''))];
    return paths.map((path) => ({ path, required: false }));
  }
  const home = env['HOME'];
  return home === undefined || home === '' ? [] : [{ path: join(home, '.kube', 'config'), required: false }];
}

/** Nothing read yet. */
function emptyMerged(): Merged {
  return { clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: undefined, read: [] };
}

/** kubectl's merge: the first file that defines a name wins, and the first current-context set. */
function mergeFiles(files: readonly { path: string; required: boolean }[]): Merged {
  const merged = emptyMerged();
  for (const { path, required } of files) {
    const document = readDocument(path, required);
    if (document === undefined) continue;
    merged.read.push(path);
    mergeDocument(merged, document, `kubeconfig ${path}`, resolve(path));
  }
  return merged;
}

/** Adds one document's entries that no earlier document defined. */
function mergeDocument(merged: Merged, document: Mapping, where: string, file: string): void {
  const fields = new Fields(document, where);
  for (const [list, key, into] of [
    ['clusters', 'cluster', merged.clusters],
    ['users', 'user', merged.users],
    ['contexts', 'context', merged.contexts],
  ] as const) {
    for (const entry of fields.namedList(list, key, file)) {
      if (!into.has(entry.name)) into.set(entry.name, entry);
    }
  }
  merged.currentContext ??= fields.string('current-context');
}

/** The file's first YAML document; undefined for an optional file that does not exist. */
function readDocument(path: string, required: boolean): Mapping | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!required && code === 'ENOENT') return undefined;
    throw new KubeconfigError(`cannot read kubeconfig ${path}: ${code ?? 'error'}`, { cause: error });
  }
  return parseDocument(text, `kubeconfig ${path}`);
}

/** The text's first YAML document, which must be a mapping; `where` names it in errors. */
function parseDocument(text: string, where: string): Mapping {
  let documents: unknown[];
  try {
    documents = loadAll(text);
  } catch (error) {
    // The parser's own message quotes the lines around the error, which can hold a token.
    const at =
      error instanceof YAMLException && error.mark
        ? ` at line ${String(error.mark.line + 1)}, column ${String(error.mark.column + 1)}`
        : '';
    const reason = error instanceof YAMLException ? `: ${error.reason}` : '';
    throw new KubeconfigError(`${where} is not valid YAML${reason}${at}`);
  }
  const [document] = documents;
  if (document === undefined || document === null) return {};
  if (!isMapping(document)) throw new KubeconfigError(`${where} is not a YAML mapping`);
  return document;
}

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Typed reads of one YAML mapping; errors say where, never what the value was. */
class Fields {
  readonly body: Mapping;
  readonly where: string;

  constructor(body: Mapping, where: string) {
    this.body = body;
    this.where = where;
  }

  /** A string field; empty counts as unset, as Go's zero value does. */
  string(key: string): string | undefined {
    const value = this.body[key];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw new KubeconfigError(`${this.where}: ${key} must be a string`);
    return value;
  }

  boolean(key: string): boolean {
    const value = this.body[key];
    if (value === undefined || value === null) return false;
    if (typeof value !== 'boolean') throw new KubeconfigError(`${this.where}: ${key} must be true or false`);
    return value;
  }

  mapping(key: string): Mapping | undefined {
    const value = this.body[key];
    if (value === undefined || value === null) return undefined;
    if (!isMapping(value)) throw new KubeconfigError(`${this.where}: ${key} must be a mapping`);
    return value;
  }

  list(key: string): readonly unknown[] {
    const value = this.body[key];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw new KubeconfigError(`${this.where}: ${key} must be a list`);
    return value;
  }

  strings(key: string): string[] {
    return this.list(key).map((item, index) => {
      if (typeof item !== 'string')
        throw new KubeconfigError(`${this.where}: ${key}[${String(index)}] must be a string`);
      return item;
    });
  }

  /** `clusters: [{name, cluster: {...}}]` and its kin. */
  namedList(key: string, bodyKey: string, file: string): Entry[] {
    return this.list(key).map((item, index) => {
      const at = `${this.where}: ${key}[${String(index)}]`;
      if (!isMapping(item)) throw new KubeconfigError(`${at} must be a mapping`);
      const fields = new Fields(item, at);
      const name = fields.string('name');
      if (name === undefined) throw new KubeconfigError(`${at} has no name`);
      return { name, body: fields.mapping(bodyKey) ?? {}, file };
    });
  }

  /** A file path field, relative to the kubeconfig file that holds it (kubectl resolves them so). */
  path(key: string, file: string): string | undefined {
    const value = this.string(key);
    return value === undefined ? undefined : resolve(dirname(file), value);
  }
}

// ---------------------------------------------------------------------------------------------
// Clusters

interface ResolvedCluster {
  readonly name: string;
  readonly server: URL;
  /** The entry with its paths made absolute, for exec plugins' cluster info and the fallback. */
  readonly body: Mapping;
  readonly fallback: readonly string[];
  readonly proxied: boolean;
  /** Reads the CA file; never called for a fallback (client-node reads it), empty for http:. */
  tls(): TlsMaterial;
  caData(): Buffer | undefined;
}

function resolveCluster(entry: Entry): ResolvedCluster {
  const where = `cluster "${entry.name}"`;
  const fields = new Fields(entry.body, where);
  const serverText = fields.string('server');
  if (serverText === undefined) throw new KubeconfigError(`${where} has no server`);
  const caFile = fields.path('certificate-authority', entry.file);
  const caData = fields.string('certificate-authority-data');
  const insecure = fields.boolean('insecure-skip-tls-verify');
  const servername = fields.string('tls-server-name');
  const server = serverUrl(serverText, caFile !== undefined || caData !== undefined || insecure, where);
  const proxied = fields.string('proxy-url') !== undefined;
  const fallback = proxied ? [`${where}: proxy-url`] : [];

  const readCa = (): Buffer | undefined =>
    caData !== undefined
      ? Buffer.from(caData, 'base64')
      : caFile === undefined
        ? undefined
        : readMaterial(caFile, `certificate-authority of ${where}`);
  return {
    name: entry.name,
    server,
    body: { ...entry.body, ...(caFile === undefined ? {} : { 'certificate-authority': caFile }) },
    fallback,
    proxied,
    caData: readCa,
    tls() {
      if (server.protocol === 'http:') return {};
      // As client-go refuses it: trusting one CA and none at once is a mistake worth stopping at.
      if (insecure && (caFile !== undefined || caData !== undefined))
        throw new KubeconfigError(`${where}: certificate-authority together with insecure-skip-tls-verify`);
      const ca = readCa();
      return {
        ...(ca === undefined ? {} : { ca }),
        ...(insecure ? { rejectUnauthorized: false } : {}),
        ...(servername === undefined ? {} : { servername }),
      };
    },
  };
}

/** client-go's defaulting: a server without a scheme is https when TLS is configured, else http. */
function serverUrl(text: string, tlsConfigured: boolean, where: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text)
    ? text
    : `${tlsConfigured ? 'https' : 'http'}://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new KubeconfigError(`${where}: server is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new KubeconfigError(`${where}: server must be an https: or http: URL`);
  return url;
}

// ---------------------------------------------------------------------------------------------
// Users

interface ResolvedUser {
  readonly credentials: CredentialSource;
  readonly fallback: readonly string[];
  /** Reads the client certificate files; never called for a fallback, empty for http:. */
  tls(): TlsMaterial;
}

function resolveUser(
  entry: Entry | undefined,
  cluster: ResolvedCluster,
  env: Readonly<Record<string, string | undefined>>,
  now: () => number,
): ResolvedUser {
  if (entry === undefined) return { credentials: ANONYMOUS, fallback: [], tls: () => ({}) };
  const where = `user "${entry.name}"`;
  const fields = new Fields(entry.body, where);
  const fallback: string[] = [];
  const authProvider = fields.mapping('auth-provider');
  if (authProvider !== undefined) {
    const name = new Fields(authProvider, `${where}: auth-provider`).string('name') ?? '(unnamed)';
    fallback.push(`${where}: auth-provider "${name}"`);
  }
  if (fields.string('as') !== undefined) fallback.push(`${where}: impersonation (as)`);
  // client-node drops these silently; acting as a different identity than configured is worse
  // than not starting.
  for (const key of ['as-groups', 'as-uid', 'as-user-extra'])
    if (entry.body[key] !== undefined && entry.body[key] !== null)
      throw new KubeconfigError(`${where}: ${key} (impersonation) is not supported by nsync`);

  const token = fields.string('token');
  const tokenFile = fields.path('tokenFile', entry.file);
  const username = fields.string('username');
  const password = fields.string('password');
  if ((token !== undefined || tokenFile !== undefined) && (username !== undefined || password !== undefined))
    throw new KubeconfigError(`${where}: more than one authentication method (token and username/password)`);
  const certFile = fields.path('client-certificate', entry.file);
  const certData = fields.string('client-certificate-data');
  const keyFile = fields.path('client-key', entry.file);
  const keyData = fields.string('client-key-data');
  const hasCert = certFile !== undefined || certData !== undefined;
  const hasKey = keyFile !== undefined || keyData !== undefined;
  if (hasCert !== hasKey)
    throw new KubeconfigError(
      `${where}: ${hasCert ? 'client-certificate without client-key' : 'client-key without client-certificate'}`,
    );
  const exec = fields.mapping('exec');
  const execPlugin =
    exec === undefined ? undefined : execPluginOf(exec, where, entry.file, cluster, env, now);

  // Precedence as in client-go: a token file over an inline token (which stays as the fallback if
  // the file cannot be read), a token or basic auth over an exec plugin.
  let credentials: CredentialSource;
  if (tokenFile !== undefined) credentials = new FileToken(tokenFile, now, token);
  else if (token !== undefined) credentials = constant({ Authorization: `Bearer ${token}` });
  else if (username !== undefined || password !== undefined)
    credentials = constant({
      Authorization: `Basic ${Buffer.from(`${username ?? ''}:${password ?? ''}`).toString('base64')}`,
    });
  else credentials = execPlugin ?? ANONYMOUS;

  return {
    credentials,
    fallback,
    tls() {
      if (cluster.server.protocol === 'http:' || !hasCert) return {};
      const cert =
        certData !== undefined
          ? Buffer.from(certData, 'base64')
          : readMaterial(certFile ?? '', `client-certificate of ${where}`);
      const key =
        keyData !== undefined
          ? Buffer.from(keyData, 'base64')
          : readMaterial(keyFile ?? '', `client-key of ${where}`);
      return { cert, key };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Exec plugins (client.authentication.k8s.io/v1 and v1beta1)

function execPluginOf(
  exec: Mapping,
  where: string,
  file: string,
  cluster: ResolvedCluster,
  env: Readonly<Record<string, string | undefined>>,
  now: () => number,
): ExecCredentials {
  const at = `${where}: exec`;
  const fields = new Fields(exec, at);
  const apiVersion = fields.string('apiVersion');
  if (apiVersion === undefined || !EXEC_API_VERSIONS.has(apiVersion))
    throw new KubeconfigError(
      `${at}: apiVersion must be one of ${[...EXEC_API_VERSIONS].join(', ')}${apiVersion === undefined ? '' : ` (not "${apiVersion}")`}`,
    );
  const commandText = fields.string('command');
  if (commandText === undefined) throw new KubeconfigError(`${at} has no command`);
  // kubectl resolves a command with a path separator against the kubeconfig's directory and
  // looks a bare name up in $PATH.
  const command =
    commandText.includes(sep) && !isAbsolute(commandText) ? resolve(dirname(file), commandText) : commandText;
  const pluginEnv: Record<string, string> = {};
  for (const [index, item] of fields.list('env').entries()) {
    const entry = new Fields(isMapping(item) ? item : {}, `${at}: env[${String(index)}]`);
    const name = entry.string('name');
    if (name === undefined) throw new KubeconfigError(`${at}: env[${String(index)}] has no name`);
    pluginEnv[name] = entry.string('value') ?? '';
  }
  // nsync never has a terminal to prompt on.
  if (fields.string('interactiveMode') === 'Always')
    throw new KubeconfigError(`${at}: interactiveMode Always needs a terminal; nsync runs without one`);
  const provideClusterInfo = fields.boolean('provideClusterInfo');
  return new ExecCredentials(
    {
      where: at,
      apiVersion,
      command,
      args: fields.strings('args'),
      env: pluginEnv,
      installHint: fields.string('installHint'),
      info: () =>
        JSON.stringify({
          apiVersion,
          kind: 'ExecCredential',
          spec: { interactive: false, ...(provideClusterInfo ? { cluster: clusterInfo(cluster) } : {}) },
        }),
    },
    env,
    now,
  );
}

/** The ExecCredential spec.cluster a plugin gets with provideClusterInfo. */
function clusterInfo(cluster: ResolvedCluster): Record<string, unknown> {
  const fields = new Fields(cluster.body, `cluster "${cluster.name}"`);
  const info: Record<string, unknown> = { server: cluster.server.href.replace(/\/$/, '') };
  const ca = cluster.caData();
  if (ca !== undefined) info['certificate-authority-data'] = ca.toString('base64');
  for (const key of ['tls-server-name', 'proxy-url']) {
    const value = fields.string(key);
    if (value !== undefined) info[key] = value;
  }
  for (const key of ['insecure-skip-tls-verify', 'disable-compression'])
    if (fields.boolean(key)) info[key] = true;
  for (const item of fields.list('extensions')) {
    if (isMapping(item) && item['name'] === 'client.authentication.k8s.io/exec')
      info['config'] = item['extension'];
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// In-cluster

/** The pod's service account, as client-go's rest.InClusterConfig reads it. */
class ServiceAccount {
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly dir: string;

  constructor(env: Readonly<Record<string, string | undefined>>, dir: string) {
    this.env = env;
    this.dir = dir;
  }

  private get tokenPath(): string {
    return join(this.dir, 'token');
  }

  /** Why this is not a pod, or '' when it looks like one. */
  missing(): string {
    const host = this.env['KUBERNETES_SERVICE_HOST'];
    const port = this.env['KUBERNETES_SERVICE_PORT'];
    if (host === undefined || host === '' || port === undefined || port === '')
      return 'KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set';
    if (!existsSync(this.tokenPath)) return `no service account token at ${this.tokenPath}`;
    return '';
  }

  possible(): boolean {
    return this.missing() === '';
  }

  resolve(now: () => number): ResolvedKubeconfig {
    const missing = this.missing();
    if (missing !== '') throw new KubeconfigError(`not running in a cluster: ${missing}`);
    const host = this.env['KUBERNETES_SERVICE_HOST'] ?? '';
    const port = this.env['KUBERNETES_SERVICE_PORT'] ?? '';
    const server = new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`);
    // Read now so that a broken mount fails at start, not at the first request.
    const credentials = new FileToken(this.tokenPath, now, readToken(this.tokenPath));
    const caPath = join(this.dir, 'ca.crt');
    // Without ca.crt client-go trusts the system roots; so does Node without a `ca`.
    const ca = existsSync(caPath) ? readMaterial(caPath, 'service account CA') : undefined;
    const namespacePath = join(this.dir, 'namespace');
    const namespace = existsSync(namespacePath)
      ? readFileSync(namespacePath, 'utf8').trim() || undefined
      : undefined;
    const connection: Connection = { server, tls: ca === undefined ? {} : { ca }, credentials };
    return {
      origin: 'in-cluster',
      context: undefined,
      namespace,
      server,
      fallback: [],
      connect: () => Promise.resolve(connection),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Fallback

/**
 * The resolved context as a kubeconfig of its own, paths absolute, for client-node's
 * loadFromString (which has no file to resolve relative paths against).
 */
function clientNodeKubeconfig(
  contextName: string,
  cluster: ResolvedCluster,
  user: Entry | undefined,
  userName: string | undefined,
): Record<string, unknown> {
  // client-node refuses an http: server unless TLS verification is off; for http: it means nothing.
  const clusterBody =
    cluster.server.protocol === 'http:'
      ? { ...cluster.body, 'insecure-skip-tls-verify': true, 'certificate-authority': undefined }
      : cluster.body;
  let userBody: Record<string, unknown> = {};
  if (user !== undefined) {
    const fields = new Fields(user.body, `user "${user.name}"`);
    userBody = { ...user.body };
    for (const key of ['client-certificate', 'client-key', 'tokenFile']) {
      const path = fields.path(key, user.file);
      if (path !== undefined) userBody[key] = path;
    }
    const exec = fields.mapping('exec');
    const command = exec === undefined ? undefined : new Fields(exec, 'exec').string('command');
    if (exec !== undefined && command !== undefined && command.includes(sep) && !isAbsolute(command))
      userBody['exec'] = { ...exec, command: resolve(dirname(user.file), command) };
  }
  // client-node applies no TLS settings at all to a context without a user.
  const name = userName ?? 'nsync-anonymous';
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster.name, cluster: clusterBody }],
    users: [{ name, user: userBody }],
    contexts: [{ name: contextName, context: { cluster: cluster.name, user: name } }],
    'current-context': contextName,
  };
}
