import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  KubeconfigError,
  loadKubeConfig,
  TOKEN_FILE_PERIOD_MS,
  type ClusterAccess,
  type Connection,
  type KubeconfigEnvironment,
  type ResolvedKubeconfig,
} from './kubeconfig.ts';

// Recognisable fake secrets: no error message may ever contain one.
const TOKEN = 'tok-SECRET-0001';
const OTHER_TOKEN = 'tok-SECRET-0002';
const PASSWORD = 'pw-SECRET-0003';
const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nkey-SECRET-0004\n-----END PRIVATE KEY-----\n';
const CERT_PEM = '-----BEGIN CERTIFICATE-----\ncert-0005\n-----END CERTIFICATE-----\n';
const CA_PEM = '-----BEGIN CERTIFICATE-----\nca-0006\n-----END CERTIFICATE-----\n';
const SECRETS = [TOKEN, OTHER_TOKEN, PASSWORD, 'key-SECRET-0004', 'SECRET'];

const root = mkdtempSync(join(tmpdir(), 'nsync-kubeconfig-'));
after(() => {
  rmSync(root, { recursive: true, force: true });
});
let dirs = 0;
/** A fresh directory under the test's temp root. */
function tempDir(): string {
  dirs += 1;
  const dir = join(root, String(dirs));
  mkdirSync(dir, { recursive: true });
  return dir;
}

function write(path: string, text: string): string {
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');

/** A kubeconfig as JSON (which is YAML). */
function kubeconfig(config: {
  clusters?: Record<string, Record<string, unknown>>;
  users?: Record<string, Record<string, unknown>>;
  contexts?: Record<string, Record<string, unknown>>;
  current?: string;
}): string {
  const named = (entries: Record<string, Record<string, unknown>> | undefined, key: string): unknown[] =>
    Object.entries(entries ?? {}).map(([name, body]) => ({ name, [key]: body }));
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: named(config.clusters, 'cluster'),
    users: named(config.users, 'user'),
    contexts: named(config.contexts, 'context'),
    ...(config.current === undefined ? {} : { 'current-context': config.current }),
  });
}

/** One context `main` → cluster `c` → user `u`. */
function simple(
  cluster: Record<string, unknown>,
  user?: Record<string, unknown>,
  namespace?: string,
): string {
  return kubeconfig({
    clusters: { c: cluster },
    ...(user === undefined ? {} : { users: { u: user } }),
    contexts: {
      main: {
        cluster: 'c',
        ...(user === undefined ? {} : { user: 'u' }),
        ...(namespace ? { namespace } : {}),
      },
    },
    current: 'main',
  });
}

/** No $KUBECONFIG, an empty home, no pod: only what a test passes counts. */
function isolated(extra: KubeconfigEnvironment = {}): KubeconfigEnvironment {
  return {
    env: { HOME: tempDir() },
    serviceAccountDir: join(tempDir(), 'no-service-account'),
    ...extra,
  };
}

function load(access: ClusterAccess, environment: KubeconfigEnvironment = isolated()): ResolvedKubeconfig {
  return loadKubeConfig(access, environment);
}

async function connect(access: ClusterAccess, environment?: KubeconfigEnvironment): Promise<Connection> {
  return load(access, environment).connect();
}

async function headersOf(connection: Connection): Promise<Readonly<Record<string, string>>> {
  return (await connection.credentials.current()).headers;
}

/** Asserts a KubeconfigError whose message matches and quotes none of the fake secrets. */
async function rejectsClearly(run: () => unknown, message: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof KubeconfigError, `expected a KubeconfigError, got ${String(caught)}`);
  assert.match(caught.message, message);
  for (const secret of SECRETS) assert.ok(!caught.message.includes(secret), 'the error quotes a secret');
}

/** A mutable clock. */
function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return {
    now: () => time,
    advance: (ms) => {
      time += ms;
    },
  };
}

describe('which kubeconfig', () => {
  test('an explicit path: server, CA, token, namespace', async () => {
    const dir = tempDir();
    const path = write(
      join(dir, 'config'),
      simple(
        { server: 'https://api.example:6443', 'certificate-authority-data': b64(CA_PEM) },
        { token: TOKEN },
        'team-a',
      ),
    );
    const resolved = load({ kubeconfig: path });
    assert.equal(resolved.origin, path);
    assert.equal(resolved.context, 'main');
    assert.equal(resolved.namespace, 'team-a');
    assert.equal(resolved.server.href, 'https://api.example:6443/');
    assert.deepEqual(resolved.fallback, []);
    const connection = await resolved.connect();
    assert.equal(connection.tls.ca?.toString(), CA_PEM);
    assert.equal(connection.tls.rejectUnauthorized, undefined);
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` });
  });

  test('an explicit path that does not exist is an error, not a fallback to in-cluster', async () => {
    const missing = join(tempDir(), 'nope');
    await rejectsClearly(() => load({ kubeconfig: missing }), /cannot read kubeconfig .*nope: ENOENT/);
  });

  test('the explicit path wins over $KUBECONFIG', () => {
    const dir = tempDir();
    const explicit = write(join(dir, 'explicit'), simple({ server: 'https://explicit' }));
    const fromEnv = write(join(dir, 'env'), simple({ server: 'https://env' }));
    const resolved = load({ kubeconfig: explicit }, isolated({ env: { KUBECONFIG: fromEnv } }));
    assert.equal(resolved.server.host, 'explicit');
  });

  test('$KUBECONFIG merges like kubectl: the first file to define a name wins, and the first current-context', () => {
    const dir = tempDir();
    const first = write(
      join(dir, 'first'),
      kubeconfig({
        clusters: { shared: { server: 'https://from-first' } },
        users: { u: { token: TOKEN } },
        contexts: { 'ctx-first': { cluster: 'shared', user: 'u' } },
      }),
    );
    const second = write(
      join(dir, 'second'),
      kubeconfig({
        clusters: { shared: { server: 'https://from-second' }, only: { server: 'https://only-second' } },
        users: { u: { token: OTHER_TOKEN } },
        contexts: { 'ctx-second': { cluster: 'only', user: 'u' }, 'ctx-first': { cluster: 'only' } },
        current: 'ctx-second',
      }),
    );
    const third = write(join(dir, 'third'), kubeconfig({ current: 'ctx-first' }));
    const list = ['', join(dir, 'missing'), first, second, first, third].join(':');
    const environment = isolated({ env: { KUBECONFIG: list } });

    const resolved = load({}, environment);
    assert.equal(resolved.context, 'ctx-second', 'current-context of the first file that sets one');
    assert.equal(resolved.server.host, 'only-second');
    assert.equal(resolved.origin, [first, second, third].join(':'));

    const other = load({ context: 'ctx-first' }, environment);
    assert.equal(
      other.server.host,
      'from-first',
      'cluster "shared" and context "ctx-first" of the first file',
    );
  });

  test('the user of the first file wins too', async () => {
    const dir = tempDir();
    const first = write(join(dir, 'a'), kubeconfig({ users: { u: { token: TOKEN } } }));
    const second = write(join(dir, 'b'), simple({ server: 'https://x' }, { token: OTHER_TOKEN }));
    const connection = await connect({}, isolated({ env: { KUBECONFIG: `${first}:${second}` } }));
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` });
  });

  test('~/.kube/config when $KUBECONFIG is unset', () => {
    const home = tempDir();
    mkdirSync(join(home, '.kube'));
    write(join(home, '.kube', 'config'), simple({ server: 'https://home' }));
    const resolved = load({}, isolated({ env: { HOME: home } }));
    assert.equal(resolved.server.host, 'home');
    assert.equal(resolved.origin, join(home, '.kube', 'config'));
  });

  test('a $KUBECONFIG of missing files does not read ~/.kube/config (kubectl does not either)', async () => {
    const home = tempDir();
    mkdirSync(join(home, '.kube'));
    write(join(home, '.kube', 'config'), simple({ server: 'https://home' }));
    const environment = isolated({ env: { HOME: home, KUBECONFIG: join(home, 'absent') } });
    await rejectsClearly(
      () => load({}, environment),
      /no kubeconfig found .*absent.* not running in a cluster/,
    );
  });

  test('no kubeconfig and no pod: the error says where it looked', async () => {
    await rejectsClearly(
      () => load({}),
      /no kubeconfig found \(looked for .*\.kube\/config\) and not running in a cluster \(KUBERNETES_SERVICE_HOST/,
    );
  });

  test('an empty file counts as no kubeconfig', async () => {
    const path = write(join(tempDir(), 'empty'), '\n# nothing\n');
    await rejectsClearly(
      () => load({ kubeconfig: path }),
      /kubeconfig .*empty is empty and not running in a cluster/,
    );
  });

  test('invalid YAML names the file and line, not the text around it', async () => {
    const path = write(
      join(tempDir(), 'broken'),
      `users:\n- name: u\n  user:\n    token: ${TOKEN}\n  [oops\n`,
    );
    await rejectsClearly(
      () => load({ kubeconfig: path }),
      /kubeconfig .*broken is not valid YAML.* at line \d+/,
    );
  });

  test('a field of the wrong type is named, its value is not', async () => {
    const path = write(join(tempDir(), 'config'), simple({ server: 'https://x' }, { token: 12345 }));
    await rejectsClearly(() => load({ kubeconfig: path }), /user "u": token must be a string/);
  });
});

describe('contexts', () => {
  const two = (): string =>
    write(
      join(tempDir(), 'config'),
      kubeconfig({
        clusters: { one: { server: 'https://one' }, two: { server: 'https://two' } },
        users: { u: { token: TOKEN } },
        contexts: {
          first: { cluster: 'one', user: 'u' },
          second: { cluster: 'two', user: 'u', namespace: 'ns2' },
          'no-cluster': { cluster: 'gone', user: 'u' },
          'no-user': { cluster: 'one', user: 'ghost' },
          anonymous: { cluster: 'one' },
        },
        current: 'first',
      }),
    );

  test('--context overrides current-context', () => {
    const resolved = load({ kubeconfig: two(), context: 'second' });
    assert.equal(resolved.context, 'second');
    assert.equal(resolved.server.host, 'two');
    assert.equal(resolved.namespace, 'ns2');
  });

  test('errors name the missing context, cluster and user', async () => {
    const path = two();
    await rejectsClearly(
      () => load({ kubeconfig: path, context: 'nope' }),
      /context "nope" not found in kubeconfig/,
    );
    await rejectsClearly(
      () => load({ kubeconfig: path, context: 'no-cluster' }),
      /cluster "gone" of context "no-cluster" not found/,
    );
    await rejectsClearly(
      () => load({ kubeconfig: path, context: 'no-user' }),
      /user "ghost" of context "no-user" not found/,
    );
  });

  test('a context without a user is anonymous', async () => {
    const connection = await connect({ kubeconfig: two(), context: 'anonymous' });
    assert.deepEqual(await headersOf(connection), {});
  });

  test('a kubeconfig without current-context asks for --context', async () => {
    const path = write(join(tempDir(), 'config'), kubeconfig({ clusters: { c: { server: 'https://x' } } }));
    await rejectsClearly(() => load({ kubeconfig: path }), /sets no current-context: pass --context/);
  });
});

describe('clusters', () => {
  test('certificate-authority is read from a file relative to the kubeconfig, not the working directory', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'pki'));
    write(join(dir, 'pki', 'ca.pem'), CA_PEM);
    const path = write(
      join(dir, 'config'),
      simple({ server: 'https://x', 'certificate-authority': 'pki/ca.pem' }),
    );
    const connection = await connect({ kubeconfig: path });
    assert.equal(connection.tls.ca?.toString(), CA_PEM);
  });

  test('relative paths of a merged file resolve against that file, not the first one', async () => {
    const a = tempDir();
    const b = tempDir();
    write(join(b, 'ca.pem'), CA_PEM);
    write(join(b, 'token'), `${TOKEN}\n`);
    const first = write(join(a, 'config'), kubeconfig({ current: 'main' }));
    const second = write(
      join(b, 'config'),
      simple({ server: 'https://x', 'certificate-authority': './ca.pem' }, { tokenFile: 'token' }),
    );
    const connection = await connect({}, isolated({ env: { KUBECONFIG: `${first}:${second}` } }));
    assert.equal(connection.tls.ca?.toString(), CA_PEM);
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` });
  });

  test('a missing CA file is an error naming the file and cluster', async () => {
    const dir = tempDir();
    const path = write(
      join(dir, 'config'),
      simple({ server: 'https://x', 'certificate-authority': 'absent.pem' }),
    );
    await rejectsClearly(
      () => connect({ kubeconfig: path }),
      /cannot read certificate-authority of cluster "c" .*absent\.pem: ENOENT/,
    );
  });

  test('insecure-skip-tls-verify and tls-server-name', async () => {
    const path = write(
      join(tempDir(), 'config'),
      simple({
        server: 'https://10.0.0.1',
        'insecure-skip-tls-verify': true,
        'tls-server-name': 'api.internal',
      }),
    );
    const connection = await connect({ kubeconfig: path });
    assert.deepEqual(connection.tls, { rejectUnauthorized: false, servername: 'api.internal' });
  });

  test('a CA together with insecure-skip-tls-verify is refused, as kubectl does', async () => {
    const path = write(
      join(tempDir(), 'config'),
      simple({
        server: 'https://x',
        'insecure-skip-tls-verify': true,
        'certificate-authority-data': b64(CA_PEM),
      }),
    );
    await rejectsClearly(() => connect({ kubeconfig: path }), /certificate-authority together with insecure/);
  });

  test('an http: server needs no TLS settings, and its TLS files are not read', async () => {
    const dir = tempDir();
    const path = write(
      join(dir, 'config'),
      simple({ server: 'http://127.0.0.1:8080', 'certificate-authority': 'absent.pem' }, { token: TOKEN }),
    );
    const connection = await connect({ kubeconfig: path });
    assert.equal(connection.server.protocol, 'http:');
    assert.deepEqual(connection.tls, {});
  });

  test('a server without a scheme is https when TLS is configured, else http (client-go)', () => {
    const dir = tempDir();
    const tls = write(join(dir, 'a'), simple({ server: 'api:6443', 'insecure-skip-tls-verify': true }));
    const plain = write(join(dir, 'b'), simple({ server: 'localhost:8080' }));
    assert.equal(load({ kubeconfig: tls }).server.href, 'https://api:6443/');
    assert.equal(load({ kubeconfig: plain }).server.href, 'http://localhost:8080/');
  });

  test('a cluster without a server is named', async () => {
    const path = write(join(tempDir(), 'config'), simple({ 'insecure-skip-tls-verify': true }));
    await rejectsClearly(() => load({ kubeconfig: path }), /cluster "c" has no server/);
  });
});

describe('users', () => {
  test('username and password: Basic', async () => {
    const path = write(
      join(tempDir(), 'config'),
      simple({ server: 'https://x' }, { username: 'ann', password: PASSWORD }),
    );
    const connection = await connect({ kubeconfig: path });
    assert.deepEqual(await headersOf(connection), {
      Authorization: `Basic ${Buffer.from(`ann:${PASSWORD}`).toString('base64')}`,
    });
  });

  test('a token and basic auth together is refused', async () => {
    const path = write(
      join(tempDir(), 'config'),
      simple({ server: 'https://x' }, { token: TOKEN, username: 'ann', password: PASSWORD }),
    );
    await rejectsClearly(() => load({ kubeconfig: path }), /user "u": more than one authentication method/);
  });

  test('client certificate and key from data', async () => {
    const path = write(
      join(tempDir(), 'config'),
      simple(
        { server: 'https://x' },
        { 'client-certificate-data': b64(CERT_PEM), 'client-key-data': b64(KEY_PEM) },
      ),
    );
    const connection = await connect({ kubeconfig: path });
    assert.equal(connection.tls.cert?.toString(), CERT_PEM);
    assert.equal(connection.tls.key?.toString(), KEY_PEM);
    assert.deepEqual(await headersOf(connection), {});
  });

  test('client certificate and key from files relative to the kubeconfig', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'certs'));
    write(join(dir, 'certs', 'me.crt'), CERT_PEM);
    write(join(dir, 'certs', 'me.key'), KEY_PEM);
    const path = write(
      join(dir, 'config'),
      simple({ server: 'https://x' }, { 'client-certificate': 'certs/me.crt', 'client-key': 'certs/me.key' }),
    );
    const connection = await connect({ kubeconfig: path });
    assert.equal(connection.tls.cert?.toString(), CERT_PEM);
    assert.equal(connection.tls.key?.toString(), KEY_PEM);
  });

  test('a certificate without its key is refused, naming the user', async () => {
    const path = write(
      join(tempDir(), 'config'),
      simple({ server: 'https://x' }, { 'client-certificate-data': b64(CERT_PEM) }),
    );
    await rejectsClearly(() => load({ kubeconfig: path }), /user "u": client-certificate without client-key/);
  });

  test('a missing key file is named, its would-be contents are not', async () => {
    const dir = tempDir();
    write(join(dir, 'me.crt'), CERT_PEM);
    const path = write(
      join(dir, 'config'),
      simple({ server: 'https://x' }, { 'client-certificate': 'me.crt', 'client-key': 'me.key' }),
    );
    await rejectsClearly(
      () => connect({ kubeconfig: path }),
      /cannot read client-key of user "u" .*me\.key: ENOENT/,
    );
  });

  test('tokenFile is re-read once a minute and at once after a 401', async () => {
    const dir = tempDir();
    const tokenPath = write(join(dir, 'token'), `${TOKEN}\n`);
    const path = write(join(dir, 'config'), simple({ server: 'https://x' }, { tokenFile: 'token' }));
    const time = clock();
    const connection = await connect({ kubeconfig: path }, isolated({ now: time.now }));
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` });

    write(tokenPath, OTHER_TOKEN);
    time.advance(TOKEN_FILE_PERIOD_MS - 1);
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` }, 'cached');
    time.advance(1);
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${OTHER_TOKEN}` }, 're-read');

    write(tokenPath, TOKEN);
    connection.credentials.invalidate();
    assert.deepEqual(
      await headersOf(connection),
      { Authorization: `Bearer ${TOKEN}` },
      're-read after a 401',
    );
  });

  test('a token file that cannot be read keeps the last good token; with none, the error names the file', async () => {
    const dir = tempDir();
    const tokenPath = write(join(dir, 'token'), TOKEN);
    const path = write(join(dir, 'config'), simple({ server: 'https://x' }, { tokenFile: tokenPath }));
    const time = clock();
    const connection = await connect({ kubeconfig: path }, isolated({ now: time.now }));
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` });
    rmSync(tokenPath);
    time.advance(TOKEN_FILE_PERIOD_MS);
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` });

    const fresh = await connect({ kubeconfig: path }, isolated({ now: time.now }));
    await rejectsClearly(() => fresh.credentials.current(), /cannot read token file .*token: ENOENT/);
  });

  test('impersonation beyond `as` is refused rather than silently dropped', async () => {
    const path = write(
      join(tempDir(), 'config'),
      simple({ server: 'https://x' }, { token: TOKEN, as: 'bob', 'as-groups': ['admins'] }),
    );
    await rejectsClearly(
      () => load({ kubeconfig: path }),
      /user "u": as-groups \(impersonation\) is not supported/,
    );
  });
});

describe('in-cluster', () => {
  function pod(files: { token?: string; ca?: string; namespace?: string }): string {
    const dir = tempDir();
    if (files.token !== undefined) write(join(dir, 'token'), files.token);
    if (files.ca !== undefined) write(join(dir, 'ca.crt'), files.ca);
    if (files.namespace !== undefined) write(join(dir, 'namespace'), files.namespace);
    return dir;
  }
  const serviceEnv = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

  test('the service account: server from the environment, CA, token, namespace', async () => {
    const dir = pod({ token: `${TOKEN}\n`, ca: CA_PEM, namespace: 'nsync-system\n' });
    const resolved = load({ inCluster: true }, { env: serviceEnv, serviceAccountDir: dir });
    assert.equal(resolved.origin, 'in-cluster');
    assert.equal(resolved.context, undefined);
    assert.equal(resolved.namespace, 'nsync-system');
    assert.equal(resolved.server.href, 'https://10.96.0.1/');
    const connection = await resolved.connect();
    assert.equal(connection.tls.ca?.toString(), CA_PEM);
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` });
  });

  test('an IPv6 service host is bracketed', () => {
    const dir = pod({ token: TOKEN });
    const resolved = load(
      { inCluster: true },
      {
        env: { KUBERNETES_SERVICE_HOST: 'fd00:10:96::1', KUBERNETES_SERVICE_PORT: '6443' },
        serviceAccountDir: dir,
      },
    );
    assert.equal(resolved.server.href, 'https://[fd00:10:96::1]:6443/');
  });

  test('the bound token is re-read as it rotates', async () => {
    const dir = pod({ token: TOKEN, ca: CA_PEM });
    const time = clock();
    const connection = await connect(
      { inCluster: true },
      { env: serviceEnv, serviceAccountDir: dir, now: time.now },
    );
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` });
    write(join(dir, 'token'), OTHER_TOKEN);
    time.advance(TOKEN_FILE_PERIOD_MS);
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${OTHER_TOKEN}` });
  });

  test('used when no kubeconfig exists', () => {
    const dir = pod({ token: TOKEN });
    const resolved = load({}, { env: { ...serviceEnv, HOME: tempDir() }, serviceAccountDir: dir });
    assert.equal(resolved.origin, 'in-cluster');
  });

  test('forced but not in a pod: the error says what is missing', async () => {
    await rejectsClearly(
      () => load({ inCluster: true }, { env: {}, serviceAccountDir: pod({ token: TOKEN }) }),
      /not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set/,
    );
    await rejectsClearly(
      () => load({ inCluster: true }, { env: serviceEnv, serviceAccountDir: pod({}) }),
      /not running in a cluster: no service account token at .*token/,
    );
    await rejectsClearly(
      () => load({ inCluster: true }, { env: serviceEnv, serviceAccountDir: pod({ token: '\n' }) }),
      /token file .*token is empty/,
    );
  });
});

describe('exec plugins', () => {
  /**
   * A plugin that records each run (its args, KUBERNETES_EXEC_INFO and a variable from `env`) and
   * prints the ExecCredential of the answer file, which tests change between runs.
   */
  function plugin(): {
    dir: string;
    script: string;
    answer: (credential: unknown) => void;
    runs: () => {
      args: string[];
      info: { apiVersion: string; kind: string; spec: Record<string, unknown> };
      variable: string;
    }[];
  } {
    const dir = tempDir();
    const script = write(
      join(dir, 'plugin.mjs'),
      [
        "import { appendFileSync, readFileSync } from 'node:fs';",
        'appendFileSync(process.env.RUNS, JSON.stringify({ args: process.argv.slice(2), info: JSON.parse(process.env.KUBERNETES_EXEC_INFO), variable: process.env.PLUGIN_VARIABLE }) + "\\n");',
        "const answer = readFileSync(process.env.ANSWER, 'utf8');",
        'process.stdout.write(answer);',
        'process.exitCode = Number(process.env.EXIT_CODE ?? 0);',
      ].join('\n'),
    );
    write(join(dir, 'runs'), '');
    return {
      dir,
      script,
      answer: (credential) =>
        write(join(dir, 'answer'), typeof credential === 'string' ? credential : JSON.stringify(credential)),
      runs: () =>
        readFileSync(join(dir, 'runs'), 'utf8')
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as ReturnType<ReturnType<typeof plugin>['runs']>[number]),
    };
  }

  function execUser(
    p: { dir: string; script: string },
    exec: Record<string, unknown> = {},
    env: Record<string, string> = {},
  ): Record<string, unknown> {
    return {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: process.execPath,
        args: [p.script, '--flag'],
        env: Object.entries({
          RUNS: join(p.dir, 'runs'),
          ANSWER: join(p.dir, 'answer'),
          PLUGIN_VARIABLE: 'from-kubeconfig',
          ...env,
        }).map(([name, value]) => ({ name, value })),
        interactiveMode: 'IfAvailable',
        ...exec,
      },
    };
  }

  const credential = (
    status: Record<string, unknown>,
    apiVersion = 'client.authentication.k8s.io/v1',
  ): unknown => ({
    apiVersion,
    kind: 'ExecCredential',
    status,
  });

  test('runs the command with args, env and KUBERNETES_EXEC_INFO; uses status.token', async () => {
    const p = plugin();
    p.answer(credential({ token: TOKEN }));
    const path = write(join(p.dir, 'config'), simple({ server: 'https://x' }, execUser(p)));
    const connection = await connect({ kubeconfig: path });
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` });
    const [run] = p.runs();
    assert.ok(run);
    assert.deepEqual(run.args, ['--flag']);
    assert.equal(run.variable, 'from-kubeconfig');
    assert.deepEqual(run.info, {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: { interactive: false },
    });
  });

  test('v1beta1, and the cluster info with provideClusterInfo', async () => {
    const p = plugin();
    p.answer(credential({ token: TOKEN }, 'client.authentication.k8s.io/v1beta1'));
    const path = write(
      join(p.dir, 'config'),
      simple(
        {
          server: 'https://api.example:6443',
          'certificate-authority-data': b64(CA_PEM),
          'tls-server-name': 'api.internal',
          extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { audience: 'nsync' } }],
        },
        execUser(p, { apiVersion: 'client.authentication.k8s.io/v1beta1', provideClusterInfo: true }),
      ),
    );
    const connection = await connect({ kubeconfig: path });
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` });
    assert.deepEqual(p.runs()[0]?.info.spec, {
      interactive: false,
      cluster: {
        server: 'https://api.example:6443',
        'certificate-authority-data': b64(CA_PEM),
        'tls-server-name': 'api.internal',
        config: { audience: 'nsync' },
      },
    });
  });

  test('a credential is reused until its expirationTimestamp, then the plugin runs again', async () => {
    const p = plugin();
    const time = clock(Date.parse('2030-01-01T00:00:00Z'));
    p.answer(credential({ token: TOKEN, expirationTimestamp: '2030-01-01T00:10:00Z' }));
    const path = write(join(p.dir, 'config'), simple({ server: 'https://x' }, execUser(p)));
    const connection = await connect({ kubeconfig: path }, isolated({ now: time.now }));
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` });
    p.answer(credential({ token: OTHER_TOKEN, expirationTimestamp: '2030-01-01T01:00:00Z' }));
    time.advance(10 * 60_000 - 1);
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` });
    assert.equal(p.runs().length, 1);
    time.advance(1);
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${OTHER_TOKEN}` });
    assert.equal(p.runs().length, 2);
  });

  test('without an expiry the credential is kept until a 401; concurrent requests share one run', async () => {
    const p = plugin();
    p.answer(credential({ token: TOKEN }));
    const path = write(join(p.dir, 'config'), simple({ server: 'https://x' }, execUser(p)));
    const time = clock();
    const connection = await connect({ kubeconfig: path }, isolated({ now: time.now }));
    const all = await Promise.all([1, 2, 3, 4].map(() => headersOf(connection)));
    assert.ok(all.every((headers) => headers['Authorization'] === `Bearer ${TOKEN}`));
    time.advance(24 * 3600_000);
    await headersOf(connection);
    assert.equal(p.runs().length, 1);
    p.answer(credential({ token: OTHER_TOKEN }));
    connection.credentials.invalidate();
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${OTHER_TOKEN}` });
    assert.equal(p.runs().length, 2);
  });

  test('a client certificate from the plugin (PEM) rides with each request', async () => {
    const p = plugin();
    p.answer(credential({ clientCertificateData: CERT_PEM, clientKeyData: KEY_PEM }));
    const path = write(join(p.dir, 'config'), simple({ server: 'https://x' }, execUser(p)));
    const connection = await connect({ kubeconfig: path });
    const current = await connection.credentials.current();
    assert.deepEqual(current.headers, {});
    assert.equal(current.cert?.toString(), CERT_PEM);
    assert.equal(current.key?.toString(), KEY_PEM);
  });

  test('a relative command with a slash runs from the kubeconfig directory', async () => {
    const p = plugin();
    p.answer(credential({ token: TOKEN }));
    mkdirSync(join(p.dir, 'bin'));
    const wrapper = write(join(p.dir, 'bin', 'auth'), `#!/bin/sh\nexec "${process.execPath}" "$@"\n`);
    chmodSync(wrapper, 0o700);
    const path = write(
      join(p.dir, 'config'),
      simple({ server: 'https://x' }, execUser(p, { command: './bin/auth' })),
    );
    const connection = await connect({ kubeconfig: path });
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` });
  });

  test('a missing command: the error carries the installHint', async () => {
    const p = plugin();
    const path = write(
      join(p.dir, 'config'),
      simple(
        { server: 'https://x' },
        execUser(p, {
          command: join(p.dir, 'no-such-plugin'),
          installHint: 'Install it with: brew install no-such-plugin',
        }),
      ),
    );
    const connection = await connect({ kubeconfig: path });
    await rejectsClearly(
      () => connection.credentials.current(),
      /command ".*no-such-plugin" not found\n\nInstall it with: brew install no-such-plugin/,
    );
  });

  test('failures say what went wrong and never quote what the plugin printed', async () => {
    const p = plugin();
    const path = (exec: Record<string, unknown> = {}, env: Record<string, string> = {}): string =>
      write(join(p.dir, 'config'), simple({ server: 'https://x' }, execUser(p, exec, env)));
    const attempt = async (config: string): Promise<unknown> =>
      (await connect({ kubeconfig: config })).credentials.current();

    p.answer(credential({ token: TOKEN }));
    await rejectsClearly(() => attempt(path({}, { EXIT_CODE: '3' })), /failed \(exit code 3\)/);
    p.answer(`not json ${TOKEN}`);
    await rejectsClearly(() => attempt(path()), /did not print an ExecCredential \(not JSON\)/);
    p.answer(credential({ token: TOKEN }, 'client.authentication.k8s.io/v1beta1'));
    await rejectsClearly(
      () => attempt(path()),
      /answered with another apiVersion than client\.authentication\.k8s\.io\/v1/,
    );
    p.answer(credential({}));
    await rejectsClearly(() => attempt(path()), /returned neither a token nor a client certificate/);
    p.answer(credential({ clientCertificateData: CERT_PEM }));
    await rejectsClearly(() => attempt(path()), /client certificate without its key/);
    p.answer(credential({ token: TOKEN, expirationTimestamp: 'soon' }));
    await rejectsClearly(() => attempt(path()), /invalid expirationTimestamp/);
  });

  test('configurations kubectl would refuse are refused at load', async () => {
    const p = plugin();
    const path = (exec: Record<string, unknown>): string =>
      write(join(p.dir, 'config'), simple({ server: 'https://x' }, execUser(p, exec)));
    await rejectsClearly(
      () => load({ kubeconfig: path({ apiVersion: 'client.authentication.k8s.io/v1alpha1' }) }),
      /user "u": exec: apiVersion must be one of .* \(not "client\.authentication\.k8s\.io\/v1alpha1"\)/,
    );
    await rejectsClearly(() => load({ kubeconfig: path({ interactiveMode: 'Always' }) }), /needs a terminal/);
    await rejectsClearly(() => load({ kubeconfig: path({ command: '' }) }), /exec has no command/);
  });
});

describe('the @kubernetes/client-node fallback', () => {
  /** An unsigned JWT that expires in an hour: client-node's oidc provider uses it as is. */
  const idToken = [
    b64url({ alg: 'none' }),
    b64url({ sub: 'ann', exp: Math.floor(Date.now() / 1000) + 3600 }),
    'sig',
  ].join('.');
  function b64url(value: unknown): string {
    return Buffer.from(JSON.stringify(value)).toString('base64url');
  }

  test('only what the own loader does not cover needs it', () => {
    const dir = tempDir();
    const own = write(join(dir, 'own'), simple({ server: 'https://x' }, { token: TOKEN }));
    assert.deepEqual(load({ kubeconfig: own }).fallback, []);
    const provider = write(
      join(dir, 'provider'),
      simple(
        { server: 'https://x', 'proxy-url': 'http://proxy:3128' },
        { 'auth-provider': { name: 'gcp', config: {} }, as: 'bob' },
      ),
    );
    assert.deepEqual(load({ kubeconfig: provider }).fallback, [
      'cluster "c": proxy-url',
      'user "u": auth-provider "gcp"',
      'user "u": impersonation (as)',
    ]);
  });

  test('an oidc auth-provider gets its headers and TLS from client-node', async () => {
    const dir = tempDir();
    write(join(dir, 'ca.pem'), CA_PEM);
    const path = write(
      join(dir, 'config'),
      simple(
        { server: 'https://x', 'certificate-authority': 'ca.pem' },
        { 'auth-provider': { name: 'oidc', config: { 'id-token': idToken, 'client-id': 'nsync' } } },
      ),
    );
    const resolved = load({ kubeconfig: path });
    assert.deepEqual(resolved.fallback, ['user "u": auth-provider "oidc"']);
    const connection = await resolved.connect();
    assert.equal(
      connection.tls.ca?.toString(),
      CA_PEM,
      'the relative CA path was made absolute for client-node',
    );
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${idToken}` });
    assert.equal(connection.agent, undefined, 'no proxy: nsync keeps its own pool');
  });

  test('impersonation (as) adds Impersonate-User to the token', async () => {
    const path = write(
      join(tempDir(), 'config'),
      simple({ server: 'https://x' }, { token: TOKEN, as: 'bob' }),
    );
    const connection = await connect({ kubeconfig: path });
    assert.deepEqual(await headersOf(connection), {
      Authorization: `Bearer ${TOKEN}`,
      'Impersonate-User': 'bob',
    });
  });

  test('proxy-url: requests go through client-node’s proxy agent, also for an http: server', async () => {
    const path = write(
      join(tempDir(), 'config'),
      simple({ server: 'http://127.0.0.1:8080', 'proxy-url': 'http://127.0.0.1:3128' }, { token: TOKEN }),
    );
    const connection = await connect({ kubeconfig: path });
    assert.ok(connection.agent !== undefined);
    assert.deepEqual(connection.tls, {});
    assert.deepEqual(await headersOf(connection), { Authorization: `Bearer ${TOKEN}` });
  });
});
