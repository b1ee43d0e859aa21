/**
 * The container image, built and run for real. tools/image/build.sh builds the repository's
 * unchanged Dockerfile with buildah (its base images are local stand-ins under their exact names:
 * no registry is reachable here), and the image's own entrypoint, user and environment then run
 * nsync with the Helm chart's arguments against the shared control plane, the way a kubelet starts
 * the pod: in-cluster configuration from a mounted ServiceAccount token and
 * KUBERNETES_SERVICE_HOST/PORT, POD_NAMESPACE and POD_NAME from the environment.
 *
 * Needs root, buildah and debootstrap (.ci/run installs them); where they are missing, or the
 * kernel refuses the mount namespace buildah's chroot isolation needs, the tests say so and skip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
} from 'node:fs';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { createNamespaces, eventually, sharedCluster, uniqueName } from './support/cluster.ts';

const root = join(import.meta.dirname, '..');
const buildahScript = join(root, 'tools', 'image', 'buildah.sh');
/**
 * Where the kubelet mounts the ServiceAccount token: nsync reads /var/run/secrets/..., which the
 * image's /var/run -> /run symlink resolves here. buildah's chroot isolation does not follow that
 * symlink for a bind mount's destination (the mount silently goes missing), so it gets the real path.
 */
const SERVICE_ACCOUNT_DIR = '/run/secrets/kubernetes.io/serviceaccount';
const NONROOT = '65532';

/** Why buildah cannot build and run the image on this machine; undefined when it can. */
function whyNot(): string | undefined {
  if (process.platform !== 'linux') return 'buildah runs on Linux only';
  if (process.getuid?.() !== 0) {
    return 'building and running the image with buildah (chroot isolation) and debootstrap needs root';
  }
  for (const tool of ['buildah', 'debootstrap']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      return `${tool} is not installed (apt-get install -y buildah debootstrap; .ci/run does)`;
    }
  }
  const probe = spawnSync('unshare', ['--mount', '--fork', 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    return `the kernel refuses a mount namespace, which buildah's chroot isolation needs: ${probe.stderr.trim()}`;
  }
  return undefined;
}

const skip = whyNot();

function buildah(args: readonly string[]): string {
  return execFileSync('bash', [buildahScript, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The last line a build script prints: what it built. Runs once, outside any test's deadline. */
function built(script: string): string {
  return (
    execFileSync('bash', [join(root, 'tools', script)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
      .trim()
      .split('\n')
      .at(-1) ?? ''
  );
}

/** A cold build (Debian root filesystem, then the Dockerfile) takes minutes; later ones are cached. */
const image = skip === undefined ? built('image/build.sh') : '';
const helmBinary = skip === undefined ? join(built('helm/build.sh'), 'helm') : '';

/** The image's OCI configuration, as a container runtime reads it. */
interface ImageConfig {
  User?: string;
  Entrypoint?: string[];
  WorkingDir?: string;
}
function imageConfig(): ImageConfig {
  const inspected = JSON.parse(buildah(['inspect', '--type', 'image', image])) as {
    OCIv1: { config: ImageConfig };
  };
  return inspected.OCIv1.config;
}

interface Manifest {
  kind: string;
  metadata: { name: string };
}
interface Container {
  args: string[];
}
interface Deployment extends Manifest {
  spec: { template: { spec: { containers: Container[] } } };
}
interface Lease {
  spec?: { holderIdentity?: string };
}
interface SecretBody {
  data?: Record<string, string>;
}

/** Where each object of the chart's RBAC is created. */
const collections: Record<string, (namespace: string) => string> = {
  ServiceAccount: (namespace) => `/api/v1/namespaces/${namespace}/serviceaccounts`,
  ClusterRole: () => '/apis/rbac.authorization.k8s.io/v1/clusterroles',
  ClusterRoleBinding: () => '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
  Role: (namespace) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`,
  RoleBinding: (namespace) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`,
};

/** `helm template` of the chart with its default values. */
function renderChart(release: string, namespace: string): Manifest[] {
  const text = execFileSync(
    helmBinary,
    ['template', release, join(root, 'deploy', 'chart', 'nsync'), '--namespace', namespace],
    { encoding: 'utf8' },
  );
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((object): object is Manifest => object !== null);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
  });
}

/**
 * The host pid of the process that runs `argv` inside the container. Its program is found on the
 * image's PATH, so its argv[0] is the full path (/nodejs/bin/node for `node`); buildah's own
 * processes, whose command lines end the same way, start with other names.
 */
function pidOf(argv: readonly string[]): number | undefined {
  const [program = '', ...rest] = argv;
  const tail = [...rest, ''].join('\0');
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const [first = '', ...others] = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if ((first === program || first.endsWith(`/${program}`)) && others.join('\0') === tail)
        return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  return undefined;
}

/** The real, effective, saved and filesystem ids from /proc/<pid>/status. */
function ids(pid: number, field: 'Uid' | 'Gid'): string[] {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return line?.split(/\s+/).slice(1, 5) ?? [];
}

test(
  'the image runs nsync with the chart’s arguments as user 65532: ready, mirrors a source',
  { skip },
  async (t) => {
    const cluster = sharedCluster();
    const [release = '', source = '', target = ''] = await createNamespaces(cluster, [
      { name: uniqueName('image-run') },
      { name: uniqueName('image-src') },
      { name: uniqueName('image-dst') },
    ]);
    const objects = renderChart(uniqueName('nsync'), release);
    const rbac = objects.filter((object) => object.kind in collections);
    const saDir = mkdtempSync(join(tmpdir(), 'nsync-image-sa-'));
    const containerName = `nsync-image-test-${randomBytes(3).toString('hex')}`;
    let child: ReturnType<typeof spawn> | undefined;
    let pid: number | undefined;
    const output: string[] = [];
    try {
      for (const object of rbac) {
        const created = await cluster.api('POST', collections[object.kind]?.(release) ?? '', object);
        assert.equal(created.status, 201, `create ${object.kind} ${object.metadata.name}`);
      }
      const serviceAccount = rbac.find((object) => object.kind === 'ServiceAccount');
      assert.ok(serviceAccount);
      const identity = await cluster.serviceAccountIdentity(release, serviceAccount.metadata.name);

      // What the kubelet mounts into the pod; readable by the image's non-root user.
      chmodSync(saDir, 0o755);
      writeFileSync(join(saDir, 'token'), identity.token, { mode: 0o644 });
      writeFileSync(join(saDir, 'namespace'), release, { mode: 0o644 });
      copyFileSync(cluster.caFile, join(saDir, 'ca.crt'));
      chmodSync(join(saDir, 'ca.crt'), 0o644);
      const server = new URL(cluster.server);

      const deployment = objects.find((object) => object.kind === 'Deployment') as Deployment | undefined;
      const container = deployment?.spec.template.spec.containers[0];
      assert.ok(container);
      const podName = `${release}-pod`;
      const env: Record<string, string> = {
        POD_NAMESPACE: release,
        POD_NAME: podName,
        KUBERNETES_SERVICE_HOST: server.hostname,
        KUBERNETES_SERVICE_PORT: server.port,
      };
      const chartArgs = container.args.map((arg) =>
        arg.replace(/\$\((\w+)\)/g, (_, name: string) => env[name] ?? ''),
      );
      assert.equal(chartArgs[0], 'run');
      assert.ok(chartArgs.includes('--in-cluster'), 'the chart runs nsync with --in-cluster');
      const port = await freePort();
      const args = [
        ...chartArgs,
        // The pod's own port would be shared with the host network here: take a free one.
        `--listen=127.0.0.1:${String(port)}`,
        // The shared control plane serves other test files: stay within this test's namespaces.
        `--exclude-namespaces=*,!${source},!${target}`,
        `--source-namespaces=${source}`,
      ];

      const config = imageConfig();
      assert.equal(config.User, `${NONROOT}:${NONROOT}`, 'the image declares the non-root user');
      const entrypoint = config.Entrypoint ?? [];
      assert.ok(entrypoint.length > 0, 'the image has an entrypoint');

      buildah(['from', '--pull=never', '--name', containerName, image]);
      // No --user: the image's own USER applies, as with a container runtime.
      child = spawn(
        'bash',
        [
          buildahScript,
          'run',
          '--isolation',
          'chroot',
          '--network',
          'host',
          '--volume',
          `${saDir}:${SERVICE_ACCOUNT_DIR}:ro`,
          ...Object.entries(env).flatMap(([name, value]) => ['--env', `${name}=${value}`]),
          containerName,
          '--',
          ...entrypoint,
          ...args,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let exitCode: number | null | undefined;
      child.on('exit', (code) => {
        exitCode = code;
      });
      for (const stream of [child.stdout, child.stderr]) {
        stream?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
      }
      /** Failures carry nsync's output: it says what it saw and did. */
      const withOutput = async <T>(waiting: Promise<T>): Promise<T> =>
        waiting.catch((error: unknown) => {
          throw new Error(`${error instanceof Error ? error.message : String(error)}\n${output.join('')}`, {
            cause: error,
          });
        });

      const nsync = await withOutput(
        eventually(
          'the entrypoint’s process',
          () => (exitCode === undefined ? pidOf([...entrypoint, ...args]) : -1),
          { timeoutMs: 60_000 },
        ),
      );
      assert.notEqual(nsync, -1, `the container exited (${String(exitCode)}):\n${output.join('')}`);
      pid = nsync;
      assert.deepEqual(ids(nsync, 'Uid'), [NONROOT, NONROOT, NONROOT, NONROOT], 'runs as uid 65532');
      assert.deepEqual(ids(nsync, 'Gid'), [NONROOT, NONROOT, NONROOT, NONROOT], 'runs as gid 65532');
      const containerRoot = readlinkSync(`/proc/${String(nsync)}/root`);
      assert.notEqual(containerRoot, '/', 'runs inside the image’s root filesystem');
      assert.ok(
        readlinkSync(`/proc/${String(nsync)}/exe`).startsWith(`${containerRoot}/`),
        'the node binary is the image’s',
      );

      await withOutput(
        eventually(
          '/readyz to answer 200',
          async () =>
            (await fetch(`http://127.0.0.1:${String(port)}/readyz`)).status === 200 ? true : undefined,
          { timeoutMs: 60_000 },
        ),
      );

      const value = randomBytes(12).toString('hex');
      const secrets = (namespace: string): string => `/api/v1/namespaces/${namespace}/secrets`;
      const made = await cluster.api('POST', secrets(source), {
        metadata: { name: 'from-image', annotations: { 'nsync.dev/push-to': target } },
        stringData: { token: value },
      });
      assert.equal(made.status, 201);
      await withOutput(
        eventually('the mirror in the target namespace', async () => {
          const mirror = await cluster.api<SecretBody>('GET', `${secrets(target)}/from-image`);
          return mirror.status === 200 &&
            mirror.body.data?.['token'] === Buffer.from(value).toString('base64')
            ? true
            : undefined;
        }),
      );

      // The pod is stopped as Kubernetes stops it: SIGTERM to the container's process.
      process.kill(nsync, 'SIGTERM');
      const code = await withOutput(
        eventually('the container to exit', () => exitCode, { timeoutMs: 60_000 }),
      );
      pid = undefined;
      assert.equal(code, 0, `exit code\n${output.join('')}`);
      const lease = await cluster.api<Lease>(
        'GET',
        `/apis/coordination.k8s.io/v1/namespaces/${release}/leases/nsync`,
      );
      assert.equal(lease.status, 200, 'nsync led through the chart’s Lease');
      assert.notEqual(lease.body.spec?.holderIdentity, podName, 'and released it on SIGTERM');
      const printed = output.join('');
      assert.ok(
        !printed.includes(value) && !printed.includes(Buffer.from(value).toString('base64')),
        'no secret value in the output',
      );
      t.diagnostic(
        `image ${image}: ${buildah(['images', '--format', '{{.Size}}', image]).split('\n')[0] ?? ''}`,
      );
    } finally {
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
      child?.kill('SIGKILL');
      spawnSync('bash', [buildahScript, 'rm', containerName], { stdio: 'ignore' });
      rmSync(saDir, { recursive: true, force: true });
      for (const object of rbac.filter((o) => o.kind.startsWith('Cluster'))) {
        await cluster.api('DELETE', `${collections[object.kind]?.('') ?? ''}/${object.metadata.name}`);
      }
      for (const namespace of [release, source, target]) {
        await cluster.api('DELETE', `/api/v1/namespaces/${namespace}`);
      }
    }
  },
);

test('the image holds the compiled controller and production dependencies only', { skip }, () => {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  // A devDependency that a production dependency also needs (e.g. @types/node) belongs in the image.
  const devOnly = Object.keys(manifest.devDependencies).filter(
    (name) => lock.packages[`node_modules/${name}`]?.dev === true,
  );
  const name = `nsync-image-files-${randomBytes(3).toString('hex')}`;
  buildah(['from', '--pull=never', '--name', name, image]);
  try {
    const present = (paths: readonly string[]): Record<string, boolean> =>
      JSON.parse(
        buildah([
          'run',
          '--isolation',
          'chroot',
          name,
          '--',
          'node',
          '-e',
          'const fs = require("node:fs"); console.log(JSON.stringify(Object.fromEntries(process.argv.slice(1).map((p) => [p, fs.existsSync(p)]))))',
          ...paths,
        ]),
      ) as Record<string, boolean>;
    const modules = (names: readonly string[]): string[] =>
      names.map((n) => `/app/node_modules/${n}/package.json`);
    const wanted = [
      '/app/dist/cli/main.js',
      '/app/package.json',
      ...modules(Object.keys(manifest.dependencies)),
    ];
    const unwanted = ['/app/src', '/app/dist/app/config.test.js', '/bin/sh', ...modules(devOnly)];
    const found = present([...wanted, ...unwanted]);
    assert.deepEqual(
      wanted.filter((path) => found[path] !== true),
      [],
      'the compiled controller and every production dependency are in the image',
    );
    assert.deepEqual(
      unwanted.filter((path) => found[path] !== false),
      [],
      'sources, compiled tests, a shell and devDependencies are not',
    );
  } finally {
    spawnSync('bash', [buildahScript, 'rm', name], { stdio: 'ignore' });
  }
});
