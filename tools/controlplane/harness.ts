/**
 * A real Kubernetes control plane on loopback — etcd, kube-apiserver and kube-controller-manager,
 * built from the Go module proxy by build.sh — for integration tests, fault tests, the benchmark
 * and the demo. No fake API server anywhere (docs/adr/0002).
 *
 * Every process is a child of this one, and a detached reaper kills them and removes the
 * directory if this process dies without tearing down (a SIGKILLed test runner leaves nothing).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiserverReleaseFlags, CONTROLLERS, parseKubeVersion } from './versions.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Options for one control plane. */
export interface ControlPlaneOptions {
  /** Also run kube-controller-manager (namespace deletion, GC, default service accounts). @default true */
  readonly controllerManager?: boolean;
  /** Extra kube-apiserver flags (e.g. `--min-request-timeout=30` to close watches often). */
  readonly apiserverFlags?: readonly string[];
  /** Extra etcd flags. */
  readonly etcdFlags?: readonly string[];
  /** How long to wait for readiness. @default 120_000 */
  readonly readyTimeoutMs?: number;
  /**
   * Kubernetes release to run: `1.35`, `v1.35` or `v1.35.4`, one of those pinned under
   * tools/controlplane/kubernetes/. @default $NSYNC_KUBE_VERSION, else the newest pinned
   */
  readonly kubernetesVersion?: string;
}

/** A credential accepted by the API server: a static token user or a service account token. */
export interface Identity {
  readonly user: string;
  readonly token: string;
  /** Path of a kubeconfig file for this identity. */
  readonly kubeconfigPath: string;
}

/** What a process needs to use a control plane another process started (serialisable). */
export interface ClusterInfo {
  readonly dir: string;
  /** The Kubernetes release running, as its /version reports it (e.g. `v1.37.2`). */
  readonly version: string;
  /** The etcd release under it, as etcd's /version reports it (e.g. `3.7.3`). */
  readonly etcdVersion: string;
  readonly server: string;
  readonly caFile: string;
  readonly admin: Identity;
  /** Statically configured users with no groups: they can do only what RBAC objects grant. */
  readonly users: readonly Identity[];
}

/** A control plane to use: identities and an admin REST helper. */
export interface Cluster extends ClusterInfo {
  /** Issues a token for a (new) service account; it has no rights until RBAC grants some. */
  serviceAccountIdentity(namespace: string, name: string): Promise<Identity>;
  /** Admin REST call helper (JSON in, JSON out), for tests and demo set-up. */
  api<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<ApiResult<T>>;
  /** The same call with another identity's bearer token (least-privilege and tenant tests). */
  apiAs<T = unknown>(
    token: string,
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<ApiResult<T>>;
  /** The serialisable part, to hand to other processes. */
  info(): ClusterInfo;
}

/** A control plane this process runs. */
export interface ControlPlane extends Cluster {
  /** Restarts kube-apiserver in place (same data, same port). */
  restartApiServer(): Promise<void>;
  /** Restarts etcd in place (same data, same port). */
  restartEtcd(): Promise<void>;
  /** Stops kube-apiserver and leaves it stopped (a cluster that is down), until startApiServer. */
  stopApiServer(): Promise<void>;
  /** Starts a stopped kube-apiserver again (same data, same port); resolves once it is ready. */
  startApiServer(): Promise<void>;
  /** Stops every process and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** The status and decoded body of an API call. */
export interface ApiResult<T> {
  readonly status: number;
  readonly body: T;
}

/** Built binaries of one Kubernetes release. */
export interface ControlPlaneBinaries {
  /** Directory holding etcd, kube-apiserver and kube-controller-manager. */
  readonly dir: string;
  /** The release they are, e.g. `v1.37.2`. */
  readonly version: string;
  /** The etcd paired with it (the minor its etcd client is), e.g. `v3.7.3`. */
  readonly etcdVersion: string;
}

/**
 * The binaries of a pinned release (`1.35`, `v1.35.4`; default $NSYNC_KUBE_VERSION, else the
 * newest pinned), built on first use and cached outside the repository by build.sh.
 */
export function controlPlaneBinaries(
  kubernetesVersion: string | undefined = process.env['NSYNC_KUBE_VERSION'],
): ControlPlaneBinaries {
  const args = [join(here, 'build.sh'), ...(kubernetesVersion ? [kubernetesVersion] : [])];
  const out = execFileSync('bash', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = out.trim().split('\n').at(-1) ?? '';
  const version = parseKubeVersion(readFileSync(join(dir, 'version'), 'utf8')).gitVersion;
  const etcdVersion = readFileSync(join(dir, 'etcd-version'), 'utf8').trim();
  return { dir, version, etcdVersion };
}

/** Asks the kernel for a free loopback port. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

function kubeconfigYaml(server: string, caFile: string, user: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: nsync-local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caFile}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: nsync-local',
    '  context:',
    '    cluster: nsync-local',
    `    user: ${user}`,
    'current-context: nsync-local',
    '',
  ].join('\n');
}

/** A supervised child process that can be stopped and started again with the same arguments. */
class Component {
  readonly name: string;
  private readonly binary: string;
  private readonly args: readonly string[];
  private readonly logFile: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(name: string, binary: string, args: readonly string[], logFile: string) {
    this.name = name;
    this.binary = binary;
    this.args = args;
    this.logFile = logFile;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How the process ended, if it has (e.g. `exit code 1`); undefined while it runs. */
  get ended(): string | undefined {
    const child = this.child;
    if (!child) return undefined;
    if (child.exitCode !== null) return `exit code ${child.exitCode}`;
    if (child.signalCode !== null) return `signal ${child.signalCode}`;
    return undefined;
  }

  start(): void {
    const log = openSync(this.logFile, 'a');
    const child = spawn(this.binary, this.args, { stdio: ['ignore', log, log] });
    closeSync(log);
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        resolve();
      });
    });
  }

  /** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
  async stop(graceMs = 5_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  /** The last lines of the log, for errors that say what went wrong. */
  tail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

/**
 * Polls until `component` is ready. Fails at once, with the end of its log, if the process exits
 * first (a flag a release refuses, a port taken), instead of waiting out the whole deadline.
 */
async function waitFor(
  component: Component,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    const ended = component.ended;
    if (ended !== undefined) {
      throw new Error(`${component.name} exited (${ended}) before it was ready\n${component.tail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 500);
  }
  throw new Error(`${component.name} not ready after ${timeoutMs} ms\n${component.tail()}`);
}

/** Starts a control plane in a fresh temporary directory. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binaries = controlPlaneBinaries(options.kubernetesVersion);
  const bin = binaries.dir;
  const dir = mkdtempSync(join(tmpdir(), 'nsync-cp-'));
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const server = `https://127.0.0.1:${apiPort}`;
  const certDir = join(dir, 'certs');
  const caFile = join(certDir, 'apiserver.crt');

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const saKey = join(dir, 'sa.key');
  writeFileSync(saKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });

  const token = (): string => randomBytes(24).toString('hex');
  const adminToken = token();
  const userNames = ['alice', 'bob', 'mallory'];
  const userTokens = userNames.map(() => token());
  writeFileSync(
    join(dir, 'tokens.csv'),
    [
      `${adminToken},nsync-admin,uid-admin,"system:masters"`,
      ...userNames.map((name, i) => `${userTokens[i] ?? ''},${name},uid-${name}`),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  const identity = (user: string, secret: string): Identity => {
    const kubeconfigPath = join(dir, `kubeconfig-${user.replaceAll(':', '_')}`);
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, caFile, user, secret), { mode: 0o600 });
    return { user, token: secret, kubeconfigPath };
  };

  const etcd = new Component(
    'etcd',
    join(bin, 'etcd'),
    [
      `--data-dir=${join(dir, 'etcd')}`,
      '--unsafe-no-fsync',
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      '--log-level=warn',
      ...(options.etcdFlags ?? []),
    ],
    join(dir, 'etcd.log'),
  );
  const apiserver = new Component(
    'kube-apiserver',
    join(bin, 'kube-apiserver'),
    [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=RBAC',
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      `--service-account-issuer=${server}/`,
      `--service-account-key-file=${saKey}`,
      `--service-account-signing-key-file=${saKey}`,
      '--v=0',
      ...apiserverReleaseFlags(parseKubeVersion(binaries.version)),
      ...(options.apiserverFlags ?? []),
    ],
    join(dir, 'kube-apiserver.log'),
  );
  const admin = identity('nsync-admin', adminToken);
  const controllerManager = new Component(
    'kube-controller-manager',
    join(bin, 'kube-controller-manager'),
    [
      `--kubeconfig=${admin.kubeconfigPath}`,
      `--controllers=${CONTROLLERS.join(',')}`,
      '--use-service-account-credentials=false',
      `--root-ca-file=${caFile}`,
      '--leader-elect=false',
      '--secure-port=0',
      '--concurrent-namespace-syncs=5',
      '--v=0',
    ],
    join(dir, 'kube-controller-manager.log'),
  );
  const components = [etcd, apiserver, ...(options.controllerManager === false ? [] : [controllerManager])];

  const reaper = startReaper(dir, components);
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;

  const api = async <T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<ApiResult<T>> => apiCall<T>(server, caFile, adminToken, method, path, body, contentType);

  const apiserverReady = async (): Promise<void> => {
    await waitFor(
      apiserver,
      readyTimeoutMs,
      async () =>
        (await api('GET', '/readyz')).status === 200 &&
        (await api('GET', '/api/v1/namespaces/default')).status === 200,
    );
  };
  const etcdReady = async (): Promise<void> => {
    await waitFor(etcd, readyTimeoutMs, async () => (await fetch(`http://127.0.0.1:${etcdPort}/health`)).ok);
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const component of [...components].reverse()) await component.stop();
    reaper.kill();
    rmSync(dir, { recursive: true, force: true });
  };

  let etcdVersion: string;
  try {
    etcd.start();
    await etcdReady();
    const etcdAnswer = (await (await fetch(`http://127.0.0.1:${etcdPort}/version`)).json()) as {
      etcdserver?: string;
    };
    etcdVersion = etcdAnswer.etcdserver ?? '';
    apiserver.start();
    await apiserverReady();
    if (components.includes(controllerManager)) controllerManager.start();
  } catch (error) {
    await stop();
    throw error;
  }

  const cluster = attachCluster({
    dir,
    version: binaries.version,
    etcdVersion,
    server,
    caFile,
    admin,
    users: userNames.map((name, i) => identity(name, userTokens[i] ?? '')),
  });
  return {
    ...cluster,
    async restartApiServer() {
      await apiserver.stop();
      apiserver.start();
      await apiserverReady();
    },
    async stopApiServer() {
      await apiserver.stop();
    },
    async startApiServer() {
      apiserver.start();
      await apiserverReady();
    },
    async restartEtcd() {
      await etcd.stop();
      etcd.start();
      await etcdReady();
      await apiserverReady();
    },
    stop,
  };
}

/** Uses a control plane started elsewhere (e.g. by the test runner's global setup). */
export function attachCluster(info: ClusterInfo): Cluster {
  const api = async <T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<ApiResult<T>> =>
    apiCall<T>(info.server, info.caFile, info.admin.token, method, path, body, contentType);
  return {
    ...info,
    api,
    apiAs: async <T>(
      token: string,
      method: string,
      path: string,
      body?: unknown,
      contentType = 'application/json',
    ) => apiCall<T>(info.server, info.caFile, token, method, path, body, contentType),
    info: () => ({
      dir: info.dir,
      version: info.version,
      etcdVersion: info.etcdVersion,
      server: info.server,
      caFile: info.caFile,
      admin: info.admin,
      users: info.users,
    }),
    async serviceAccountIdentity(namespace, name) {
      const created = await api('POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, {
        metadata: { name },
      });
      if (created.status !== 201 && created.status !== 409)
        throw new Error(`create service account: ${created.status}`);
      const issued = await api<{ status?: { token?: string } }>(
        'POST',
        `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
        { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 86_400 } },
      );
      const token = issued.body.status?.token;
      if (issued.status !== 201 || token === undefined) throw new Error(`token request: ${issued.status}`);
      const user = `system:serviceaccount:${namespace}:${name}`;
      const kubeconfigPath = join(info.dir, `kubeconfig-sa-${namespace}-${name}`);
      writeFileSync(kubeconfigPath, kubeconfigYaml(info.server, info.caFile, user, token), { mode: 0o600 });
      return { user, token, kubeconfigPath };
    },
  };
}

/**
 * A detached shell that outlives us only to clean up after us: when this process is gone it
 * SIGKILLs every component and removes the directory. Harmless when teardown already ran.
 */
function startReaper(dir: string, components: readonly Component[]): { kill: () => void } {
  const script = `
    while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done
    for f in "${dir}"/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
    rm -rf "${dir}"`;
  const reaper = spawn('bash', ['-c', script], { detached: true, stdio: 'ignore' });
  reaper.unref();
  // Components write their pid files as they start, so the reaper finds restarted ones too.
  const write = (): void => {
    for (const component of components) {
      if (component.pid !== undefined)
        writeFileSync(join(dir, `${component.name}.pid`), String(component.pid));
    }
  };
  const interval = setInterval(write, 200);
  interval.unref();
  return {
    kill: () => {
      clearInterval(interval);
      reaper.kill('SIGKILL');
    },
  };
}

/** One admin HTTPS request against the control plane (harness use only; nsync has its own client). */
function apiCall<T>(
  server: string,
  caFile: string,
  token: string,
  method: string,
  path: string,
  body: unknown,
  contentType: string,
): Promise<ApiResult<T>> {
  const url = new URL(path, server);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: readFileSync(caFile),
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'application/json',
          ...(payload === undefined ? {} : { 'Content-Type': contentType }),
        },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // plain-text answers (e.g. /readyz) stay text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
