/**
 * The Helm chart (deploy/chart/nsync) against a real API server: it lints, it renders what the
 * values ask for, every object it renders is accepted by kube-apiserver (server-side dry run with
 * strict field validation), the pod passes the restricted Pod Security Standard, the arguments are
 * accepted by nsync's own flag parser, and the RBAC it grants is exactly what nsync needs — checked
 * with a real ServiceAccount token. helm itself is built from the Go module proxy (cached).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../src/app/config.ts';
import { createNamespaces, eventually, sharedCluster, uniqueName } from './support/cluster.ts';
import { startController } from './support/nsync.ts';
import type { Identity } from '../tools/controlplane/harness.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const chartDir = join(root, 'deploy', 'chart', 'nsync');
const cluster = sharedCluster();

/** Built once per machine (a cold build takes a minute or two), outside any test's deadline. */
const helmBinary = join(
  execFileSync('bash', [join(root, 'tools', 'helm', 'build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .at(-1) ?? '',
  'helm',
);

function helm(args: readonly string[]): string {
  try {
    return execFileSync(helmBinary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    throw new Error(`helm ${args.join(' ')} failed:\n${typeof stderr === 'string' ? stderr : ''}`, {
      cause: error,
    });
  }
}

interface Metadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** One rendered object; kind-specific parts are read through the narrower types below. */
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
}

interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

interface Container {
  name: string;
  image: string;
  args: string[];
  env: EnvVar[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string | number } };
  readinessProbe: { httpGet: { path: string; port: string | number } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: {
    readOnlyRootFilesystem: boolean;
    allowPrivilegeEscalation: boolean;
    capabilities: { drop: string[] };
  };
}

interface PodSpec {
  serviceAccountName: string;
  terminationGracePeriodSeconds: number;
  securityContext: { runAsNonRoot: boolean; runAsUser: number; seccompProfile: { type: string } };
  containers: Container[];
  topologySpreadConstraints?: { topologyKey: string; whenUnsatisfiable: string }[];
  affinity?: unknown;
}

interface Deployment extends Manifest {
  spec: { replicas: number; template: { metadata: Metadata; spec: PodSpec } };
}

interface Role extends Manifest {
  rules: PolicyRule[];
}

interface Rendered {
  readonly objects: Manifest[];
  /** The one object of this kind (and name, when given); fails when there is not exactly one. */
  one(kind: string, name?: string): Manifest;
  kinds(): string[];
}

/** `helm template` with the given flags, parsed. */
function render(release: string, namespace: string, flags: readonly string[] = []): Rendered {
  const text = helm(['template', release, chartDir, '--namespace', namespace, ...flags]);
  const objects: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    assert.deepEqual(doc.errors, [], 'helm rendered invalid YAML');
    const value = doc.toJS() as Manifest | null;
    if (value !== null) objects.push(value);
  }
  return {
    objects,
    one(kind: string, name?: string): Manifest {
      const found = objects.filter(
        (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
      );
      assert.equal(found.length, 1, `exactly one ${kind}${name === undefined ? '' : ` ${name}`}`);
      const [object] = found;
      assert.ok(object);
      return object;
    },
    kinds: () => objects.map((o) => o.kind).sort(),
  };
}

/** Flags that turn on every optional object. */
const ALL_OPTIONAL = [
  '--set',
  'serviceMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true',
];
/** Values that exercise every pass-through field (strict field validation catches typos in them). */
const EVERYTHING_SET = [
  '--set-json',
  JSON.stringify({
    imagePullSecrets: [{ name: 'regcred' }],
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'infra', effect: 'NoSchedule' }],
    affinity: {
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 1,
            preference: { matchExpressions: [{ key: 'infra', operator: 'Exists' }] },
          },
        ],
      },
    },
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'nsync' } },
      },
    ],
    podAnnotations: { 'example.com/scrape': 'true' },
    podLabels: { team: 'platform' },
    priorityClassName: 'system-cluster-critical',
    extraEnv: [{ name: 'UV_THREADPOOL_SIZE', value: '2' }],
    image: { digest: `sha256:${'a'.repeat(64)}` },
    serviceAccount: { annotations: { 'example.com/role': 'nsync' } },
    service: { annotations: { 'example.com/owner': 'platform' } },
    nsync: { clusterName: 'prod-eu-1', registeredClusters: true, extraArgs: ['--workers=8'] },
  }),
];

const EXPECTED_KINDS = [
  'ClusterRole',
  'ClusterRole',
  'ClusterRole',
  'ClusterRoleBinding',
  'Deployment',
  'PodDisruptionBudget',
  'Role',
  'RoleBinding',
  'Service',
  'ServiceAccount',
];
const MIRROR_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/** The rules of a Role/ClusterRole as sorted "group/resource[/name]: verbs" lines. */
function ruleLines(role: Role): string[] {
  const lines: string[] = [];
  for (const rule of role.rules) {
    for (const group of rule.apiGroups) {
      for (const resource of rule.resources) {
        const names = rule.resourceNames ?? [''];
        for (const name of names) {
          lines.push(
            `${group}/${resource}${name === '' ? '' : `/${name}`}: ${[...rule.verbs].sort().join(',')}`,
          );
        }
      }
    }
  }
  return lines.sort();
}
const verbs = (list: readonly string[]): string => [...list].sort().join(',');

function deploymentOf(rendered: Rendered): { deployment: Deployment; container: Container } {
  const deployment = rendered.one('Deployment') as Deployment;
  const container = deployment.spec.template.spec.containers[0];
  assert.ok(container);
  return { deployment, container };
}

/** The argv and environment the container would see, as nsync's parser receives them. */
function commandLine(
  container: Container,
  podNamespace: string,
): { argv: string[]; env: Record<string, string> } {
  const env: Record<string, string> = { POD_NAMESPACE: podNamespace, POD_NAME: 'nsync-0' };
  for (const variable of container.env) if (variable.value !== undefined) env[variable.name] = variable.value;
  const [command, ...argv] = container.args.map((arg) =>
    arg.replace(/\$\((\w+)\)/g, (_, name: string) => env[name] ?? ''),
  );
  assert.equal(command, 'run', 'the container runs `nsync run`');
  return { argv, env };
}

test('helm lint passes with the defaults and with every option on', () => {
  for (const flags of [
    [],
    ALL_OPTIONAL,
    [...ALL_OPTIONAL, ...EVERYTHING_SET],
    ['--set-json', 'nsync.kinds=["secrets"]'],
  ]) {
    const out = helm(['lint', '--strict', chartDir, ...flags]);
    assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

test('the values schema and the template guards reject bad values', () => {
  const bad: readonly (readonly string[])[] = [
    ['--set-json', 'nsync.kinds=["secrets","pods"]'],
    ['--set-json', 'nsync.kinds=[]'],
    ['--set', 'nsync.logLevel=loud'],
    ['--set', 'nsync.resyncPeriod=ten minutes'],
    ['--set', 'nsync.listen=8080'],
    ['--set', 'image.pullPolicy=Sometimes'],
    ['--set', 'replicas=two'],
    ['--set', 'unknownKey=1'],
    ['--set', 'replicas=2,nsync.leaderElect=false'],
  ];
  for (const flags of bad) {
    assert.throws(() => render('nsync', 'nsync', flags), /failed/, `rejects ${flags.join(' ')}`);
  }
});

test('the defaults render the controller, its RBAC, Service and PodDisruptionBudget', () => {
  const rendered = render('nsync', 'nsync');
  assert.deepEqual(rendered.kinds(), EXPECTED_KINDS);
  for (const object of rendered.objects) {
    assert.equal(object.metadata.labels?.['app.kubernetes.io/name'], 'nsync');
    if (!object.kind.startsWith('Cluster')) assert.equal(object.metadata.namespace, 'nsync');
  }

  const { deployment, container } = deploymentOf(rendered);
  const pod = deployment.spec.template.spec;
  assert.equal(deployment.spec.replicas, 2);
  assert.equal(container.image, 'ghcr.io/nsync-dev/nsync:0.1.0');
  assert.deepEqual(container.args, [
    'run',
    '--in-cluster',
    '--exclude-namespaces=kube-system,kube-public,kube-node-lease',
    '--source-namespaces=*',
    '--kinds=secrets,configmaps',
    '--dialects=native,reflector,replicator,kubed',
    '--opt-out-label=nsync.dev/opt-out',
    '--resync-period=10m',
    '--log-level=info',
    '--leader-elect=true',
    '--lease-namespace=$(POD_NAMESPACE)',
    '--lease-name=nsync',
    '--listen=:8080',
    '--target-consent=false',
    '--max-restores=3',
    '--restore-window=10m',
    '--max-targets-per-source=10000',
    '--max-bytes-per-source=512Mi',
    '--mirror-into-own-namespace=false',
  ]);
  assert.deepEqual(
    container.env.map((variable) => [variable.name, variable.valueFrom?.fieldRef?.fieldPath]),
    [
      ['POD_NAMESPACE', 'metadata.namespace'],
      ['POD_NAME', 'metadata.name'],
      ['POD_UID', 'metadata.uid'],
    ],
  );
  assert.deepEqual(container.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  assert.deepEqual(container.livenessProbe.httpGet, { path: '/healthz', port: 'http' });
  assert.deepEqual(container.readinessProbe.httpGet, { path: '/readyz', port: 'http' });
  assert.deepEqual(container.resources, {
    requests: { cpu: '50m', memory: '128Mi' },
    limits: { memory: '256Mi' },
  });
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.runAsUser, 65532);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(pod.terminationGracePeriodSeconds, 30);
  assert.equal(pod.serviceAccountName, 'nsync');
  assert.deepEqual(
    pod.topologySpreadConstraints?.map((c) => [c.topologyKey, c.whenUnsatisfiable]),
    [['kubernetes.io/hostname', 'ScheduleAnyway']],
  );

  // Exactly the rights nsync needs, and nothing more.
  assert.deepEqual(ruleLines(rendered.one('ClusterRole', 'nsync') as Role), [
    `/configmaps: ${verbs(MIRROR_VERBS)}`,
    '/namespaces: get,list,watch',
    `/secrets: ${verbs(MIRROR_VERBS)}`,
    'events.k8s.io/events: create,patch',
    'nsync.dev/clustermirrors/status: patch',
    'nsync.dev/clustermirrors: get,list,watch',
    'nsync.dev/mirrors/status: patch',
    'nsync.dev/mirrors: get,list,watch',
  ]);
  assert.deepEqual(ruleLines(rendered.one('Role') as Role), [
    'coordination.k8s.io/leases/nsync: get,update',
    'coordination.k8s.io/leases: create',
  ]);
  assert.equal((rendered.one('Role') as Role).metadata.namespace, 'nsync');
});

test('the rendered arguments are accepted by nsync run’s own flag parser', () => {
  const defaults = commandLine(deploymentOf(render('nsync', 'team-infra')).container, 'team-infra');
  const config = parseConfig(defaults.argv, defaults.env);
  assert.deepEqual(config.kinds, ['Secret', 'ConfigMap']);
  assert.deepEqual(config.excludeNamespaces, ['kube-system', 'kube-public', 'kube-node-lease']);
  assert.deepEqual(config.sourceNamespaces, ['*']);
  assert.deepEqual(config.dialects, ['native', 'reflector', 'replicator', 'kubed']);
  assert.equal(config.optOutLabel, 'nsync.dev/opt-out');
  assert.equal(config.resyncPeriodMs, 600_000);
  assert.equal(config.logLevel, 'info');
  assert.equal(config.listen.port, 8080);
  assert.equal(config.identity, 'nsync-0');
  assert.equal(config.access.inCluster, true);
  assert.equal(config.clusterName, '');
  assert.ok(config.leaderElection.enabled);
  assert.equal(config.leaderElection.namespace, 'team-infra');
  assert.equal(config.leaderElection.name, 'nsync');

  const custom = commandLine(
    deploymentOf(
      render('nsync', 'team-infra', [
        '--set',
        'replicas=1,nsync.leaderElect=false,nsync.logLevel=debug,nsync.listen=127.0.0.1:9090',
        ...EVERYTHING_SET,
      ]),
    ).container,
    'team-infra',
  );
  const customConfig = parseConfig(custom.argv, custom.env);
  assert.equal(customConfig.leaderElection.enabled, false);
  assert.equal(customConfig.clusterName, 'prod-eu-1');
  assert.equal(customConfig.workers, 8);
  assert.equal(customConfig.logLevel, 'debug');
  assert.deepEqual(customConfig.listen, { host: '127.0.0.1', port: 9090 });
});

test('kinds=secrets drops every ConfigMap rule and flag', () => {
  const rendered = render('nsync', 'nsync', ['--set-json', 'nsync.kinds=["secrets"]']);
  assert.deepEqual(ruleLines(rendered.one('ClusterRole', 'nsync') as Role), [
    '/namespaces: get,list,watch',
    `/secrets: ${verbs(MIRROR_VERBS)}`,
    'events.k8s.io/events: create,patch',
    'nsync.dev/clustermirrors/status: patch',
    'nsync.dev/clustermirrors: get,list,watch',
    'nsync.dev/mirrors/status: patch',
    'nsync.dev/mirrors: get,list,watch',
  ]);
  assert.ok(deploymentOf(rendered).container.args.includes('--kinds=secrets'));
  const configMapsOnly = render('nsync', 'nsync', ['--set-json', 'nsync.kinds=["configmaps"]']);
  assert.ok(
    !ruleLines(configMapsOnly.one('ClusterRole', 'nsync') as Role).some((line) => line.includes('secrets')),
  );
});

test('Mirror rights aggregate into admin, edit and view; ClusterMirror rights never do', () => {
  const rendered = render('nsync', 'nsync');
  const label = (role: Manifest, to: string): string | undefined =>
    role.metadata.labels?.[`rbac.authorization.k8s.io/aggregate-to-${to}`];
  const edit = rendered.one('ClusterRole', 'nsync-mirrors-edit') as Role;
  assert.deepEqual(
    [label(edit, 'admin'), label(edit, 'edit'), label(edit, 'view')],
    ['true', 'true', undefined],
  );
  assert.deepEqual(ruleLines(edit), [
    'nsync.dev/mirrors/status: get',
    `nsync.dev/mirrors: ${verbs([...MIRROR_VERBS, 'deletecollection'])}`,
  ]);
  const view = rendered.one('ClusterRole', 'nsync-mirrors-view') as Role;
  assert.deepEqual(
    [label(view, 'admin'), label(view, 'edit'), label(view, 'view')],
    [undefined, undefined, 'true'],
  );
  assert.deepEqual(ruleLines(view), [
    'nsync.dev/mirrors/status: get,list,watch',
    'nsync.dev/mirrors: get,list,watch',
  ]);
  // Only nsync's own ClusterRole names ClusterMirrors (to read them and write their status).
  assert.deepEqual(
    rendered.objects
      .filter((object) => JSON.stringify(object).includes('clustermirrors'))
      .filter((object) => object.kind !== 'CustomResourceDefinition')
      .map((object) => `${object.kind}/${object.metadata.name}`),
    ['ClusterRole/nsync'],
  );

  const without = render('nsync', 'nsync', ['--set', 'rbac.aggregateToDefaultRoles=false']);
  assert.deepEqual(
    without.objects.filter((object) => object.kind === 'ClusterRole').map((object) => object.metadata.name),
    ['nsync'],
  );
});

test('the CRDs ship in the chart’s crds/, which Helm installs before any template', () => {
  const names = parseAllDocuments(helm(['show', 'crds', chartDir]))
    .map((doc) => (doc.toJS() as Manifest | null)?.metadata.name)
    .sort();
  assert.deepEqual(names, ['clustermirrors.nsync.dev', 'mirrors.nsync.dev']);
  // `helm template` leaves them out unless asked: they are not release objects to upgrade or delete.
  assert.ok(!render('nsync', 'nsync').kinds().includes('CustomResourceDefinition'));
  const withCrds = render('nsync', 'nsync', ['--include-crds']).kinds();
  assert.equal(withCrds.filter((kind) => kind === 'CustomResourceDefinition').length, 2);
});

/** nsync.kinds with every identity kind on (docs/adr/0017), and the namespace trusted with them. */
const RBAC_KINDS_ON = [
  '--set-json',
  'nsync.kinds=["secrets","configmaps","roles","rolebindings","serviceaccounts"]',
  '--set-json',
  'nsync.rbacSourceNamespaces=["platform"]',
];

test('Roles, RoleBindings and ServiceAccounts: no rights and no flag by default; their rights only when enabled, never escalate or bind', () => {
  const identityLine = (line: string): boolean =>
    /\/(roles|rolebindings|serviceaccounts|clusterroles|clusterrolebindings)/.test(line) ||
    /escalate|bind/.test(line);
  const defaults = render('nsync', 'nsync');
  assert.deepEqual(ruleLines(defaults.one('ClusterRole', 'nsync') as Role).filter(identityLine), []);
  assert.ok(!deploymentOf(defaults).container.args.some((arg) => arg.startsWith('--rbac-source-namespaces')));

  const enabled = render('nsync', 'nsync', RBAC_KINDS_ON);
  assert.deepEqual(ruleLines(enabled.one('ClusterRole', 'nsync') as Role).filter(identityLine), [
    `/serviceaccounts: ${verbs(MIRROR_VERBS)}`,
    `rbac.authorization.k8s.io/rolebindings: ${verbs(MIRROR_VERBS)}`,
    `rbac.authorization.k8s.io/roles: ${verbs(MIRROR_VERBS)}`,
  ]);
  const { container } = deploymentOf(enabled);
  assert.ok(container.args.includes('--kinds=secrets,configmaps,roles,rolebindings,serviceaccounts'));
  assert.ok(container.args.includes('--rbac-source-namespaces=platform'));
  const config = parseConfig(commandLine(container, 'nsync').argv, commandLine(container, 'nsync').env);
  assert.deepEqual(config.kinds, ['Secret', 'ConfigMap', 'Role', 'RoleBinding', 'ServiceAccount']);
  assert.deepEqual(config.rbacSourceNamespaces, ['platform']);

  // Bindings alone still read Roles: a binding to a Role waits until the Role exists.
  const bindingsOnly = render('nsync', 'nsync', ['--set-json', 'nsync.kinds=["secrets","rolebindings"]']);
  assert.deepEqual(ruleLines(bindingsOnly.one('ClusterRole', 'nsync') as Role).filter(identityLine), [
    `rbac.authorization.k8s.io/rolebindings: ${verbs(MIRROR_VERBS)}`,
    'rbac.authorization.k8s.io/roles: get,list,watch',
  ]);
});

test('registered clusters: off by default; on, the flag and a Role that only reads Secrets in the release namespace; clusterName required', () => {
  const defaults = render('nsync', 'team-infra');
  assert.ok(!deploymentOf(defaults).container.args.includes('--registered-clusters'));
  assert.ok(!defaults.objects.some((object) => object.metadata.name.endsWith('-cluster-registrations')));

  const rendered = render('nsync', 'team-infra', [
    '--set',
    'nsync.registeredClusters=true,nsync.clusterName=home',
  ]);
  const { container } = deploymentOf(rendered);
  const { argv, env } = commandLine(container, 'team-infra');
  const config = parseConfig(argv, env);
  assert.equal(config.registeredClusters, true);
  assert.equal(config.ownNamespace, 'team-infra');
  const role = rendered.one('Role', 'nsync-cluster-registrations') as Role;
  assert.equal(role.metadata.namespace, 'team-infra');
  assert.deepEqual(ruleLines(role), ['/secrets: get,list,watch']);
  const binding = rendered.one('RoleBinding', 'nsync-cluster-registrations') as Manifest & {
    roleRef: { kind: string; name: string };
    subjects: { kind: string; name: string; namespace: string }[];
  };
  assert.equal(binding.metadata.namespace, 'team-infra');
  assert.deepEqual(binding.roleRef, {
    apiGroup: 'rbac.authorization.k8s.io',
    kind: 'Role',
    name: 'nsync-cluster-registrations',
  });
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'nsync', namespace: 'team-infra' }]);
  assert.throws(
    () => render('nsync', 'team-infra', ['--set', 'nsync.registeredClusters=true']),
    /registeredClusters needs nsync.clusterName/,
  );
});

test('the remote kubeconfig Secret is mounted as a directory (no subPath: the kubelet must be able to swap the file)', () => {
  const rendered = render('nsync', 'nsync', [
    '--set',
    'nsync.remoteKubeconfigSecret=fleet,nsync.clusterName=home',
  ]);
  const { deployment, container } = deploymentOf(rendered);
  const spec = deployment.spec.template.spec as unknown as {
    volumes: { name: string; secret?: { secretName: string } }[];
    containers: { volumeMounts: { name: string; mountPath: string; subPath?: string }[] }[];
  };
  const mount = spec.containers[0]?.volumeMounts.find((entry) => entry.name === 'remote-kubeconfig');
  assert.deepEqual(mount && { mountPath: mount.mountPath, subPath: mount.subPath }, {
    mountPath: '/etc/nsync/remote',
    subPath: undefined,
  });
  assert.equal(
    spec.volumes.find((volume) => volume.name === 'remote-kubeconfig')?.secret?.secretName,
    'fleet',
  );
  const { argv, env } = commandLine(container, 'nsync');
  const config = parseConfig(argv, env);
  assert.equal(config.remoteKubeconfig, '/etc/nsync/remote/kubeconfig');
  assert.equal(config.remoteKubeconfigCheckMs, 10_000);
});

test('one replica without leader election has no Lease Role and no PodDisruptionBudget', () => {
  const rendered = render('nsync', 'nsync', ['--set', 'replicas=1,nsync.leaderElect=false']);
  assert.deepEqual(rendered.kinds(), [
    'ClusterRole',
    'ClusterRole',
    'ClusterRole',
    'ClusterRoleBinding',
    'Deployment',
    'Service',
    'ServiceAccount',
  ]);
  const { container } = deploymentOf(rendered);
  assert.ok(container.args.includes('--leader-elect=false'));
  assert.ok(!container.args.some((arg) => arg.startsWith('--lease')));
});

const METRICS = [
  'nsync_reconcile_total',
  'nsync_reconcile_errors_total',
  'nsync_reconcile_time_seconds',
  'nsync_workqueue_depth',
  'nsync_workqueue_wait_seconds',
  'nsync_writes_total',
  'nsync_mirrors',
  'nsync_watch_restarts_total',
  'nsync_watch_last_event_timestamp_seconds',
  'nsync_leader',
  'nsync_remote_kubeconfig_reload_errors_total',
  'nsync_build_info',
];
/** Metric names a PromQL expression uses, histogram suffixes removed. */
const metricsIn = (expr: string): string[] =>
  [...expr.matchAll(/\bnsync_[a-z_]+/g)].map((match) => match[0].replace(/_(bucket|sum|count)$/, ''));

interface PrometheusRule extends Manifest {
  spec: { groups: { name: string; rules: { alert: string; expr: string; for?: string }[] }[] };
}

test('monitoring objects: ServiceMonitor, PrometheusRule alerts and the Grafana dashboard', () => {
  const rendered = render('nsync', 'nsync', ALL_OPTIONAL);
  assert.deepEqual(
    rendered.kinds(),
    [...EXPECTED_KINDS, 'ConfigMap', 'PrometheusRule', 'ServiceMonitor'].sort(),
  );

  const monitor = rendered.one('ServiceMonitor') as Manifest & {
    spec: { endpoints: { port: string; path: string }[] };
  };
  assert.equal(monitor.apiVersion, 'monitoring.coreos.com/v1');
  assert.deepEqual(
    monitor.spec.endpoints.map((endpoint) => [endpoint.port, endpoint.path]),
    [['http', '/metrics']],
  );

  const rule = rendered.one('PrometheusRule') as PrometheusRule;
  assert.equal(rule.apiVersion, 'monitoring.coreos.com/v1');
  const alerts = new Map(rule.spec.groups.flatMap((group) => group.rules).map((r) => [r.alert, r]));
  assert.deepEqual([...alerts.keys()].sort(), [
    'NsyncDown',
    'NsyncMirrorsContested',
    'NsyncMirrorsInConflict',
    'NsyncNoLeader',
    'NsyncReconcileErrors',
    'NsyncRemoteKubeconfigRefused',
    'NsyncWatchStale',
  ]);
  assert.match(
    alerts.get('NsyncReconcileErrors')?.expr ?? '',
    /rate\(nsync_reconcile_errors_total\{.*\}\[5m\]\)\) > 0/,
  );
  assert.equal(alerts.get('NsyncReconcileErrors')?.for, '15m');
  assert.match(alerts.get('NsyncMirrorsInConflict')?.expr ?? '', /nsync_mirrors\{.*state="conflict"\}\) > 0/);
  assert.equal(alerts.get('NsyncMirrorsInConflict')?.for, '30m');
  assert.match(
    alerts.get('NsyncWatchStale')?.expr ?? '',
    /time\(\) - nsync_watch_last_event_timestamp_seconds\{.*\} > 900/,
  );
  assert.match(alerts.get('NsyncNoLeader')?.expr ?? '', /max\(nsync_leader\{.*\}\) == 0/);
  assert.equal(alerts.get('NsyncNoLeader')?.for, '5m');
  assert.match(
    alerts.get('NsyncRemoteKubeconfigRefused')?.expr ?? '',
    /increase\(nsync_remote_kubeconfig_reload_errors_total\{.*\}\[5m\]\)\) > 0/,
  );
  assert.equal(alerts.get('NsyncRemoteKubeconfigRefused')?.for, '15m');
  for (const alert of alerts.values()) {
    assert.match(alert.expr, /job="nsync",namespace="nsync"/, `${alert.alert} selects this release`);
    for (const name of metricsIn(alert.expr))
      assert.ok(METRICS.includes(name), `${alert.alert}: unknown ${name}`);
  }

  const dashboard = rendered.one('ConfigMap', 'nsync-dashboard') as Manifest & {
    data: Record<string, string>;
  };
  assert.equal(dashboard.metadata.labels?.['grafana_dashboard'], '1');
  const json = JSON.parse(dashboard.data['nsync.json'] ?? '') as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  const exprs = json.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
  const used = new Set(exprs.flatMap(metricsIn));
  for (const name of used) assert.ok(METRICS.includes(name), `dashboard: unknown metric ${name}`);
  for (const name of [
    'nsync_reconcile_total',
    'nsync_reconcile_time_seconds',
    'nsync_workqueue_depth',
    'nsync_writes_total',
    'nsync_mirrors',
    'nsync_leader',
  ]) {
    assert.ok(used.has(name), `dashboard shows ${name}`);
  }
  assert.ok(
    exprs.some((expr) => /histogram_quantile\(0\.99, .*nsync_reconcile_time_seconds_bucket/.test(expr)),
  );
  assert.ok(exprs.some((expr) => /sum by \(result\) \(rate\(nsync_reconcile_total/.test(expr)));
  assert.ok(exprs.some((expr) => /sum by \(verb, outcome\) \(rate\(nsync_writes_total/.test(expr)));
});

/** Where the API server serves a kind: found by discovery, as kubectl does. */
const discovery = new Map<string, { name: string; kind: string; namespaced: boolean }[]>();
async function collectionPath(object: Manifest, namespace: string | undefined): Promise<string> {
  const base = object.apiVersion.includes('/') ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
  let resources = discovery.get(base);
  if (resources === undefined) {
    const answer = await cluster.api<{ resources: { name: string; kind: string; namespaced: boolean }[] }>(
      'GET',
      base,
    );
    assert.equal(answer.status, 200, `discovery of ${base}`);
    resources = answer.body.resources;
    discovery.set(base, resources);
  }
  const resource = resources.find((r) => r.kind === object.kind && !r.name.includes('/'));
  assert.ok(resource, `${object.apiVersion} ${object.kind} is served`);
  if (!resource.namespaced) return `${base}/${resource.name}`;
  assert.ok(namespace, `${object.kind} ${object.metadata.name} has a namespace`);
  return `${base}/namespaces/${namespace}/${resource.name}`;
}

interface Status {
  kind?: string;
  message?: string;
}

/** Creates an object as admin; dryRun leaves nothing behind. Fields the server does not know fail. */
async function create(object: Manifest, { dryRun }: { dryRun: boolean }): Promise<void> {
  const path = await collectionPath(object, object.metadata.namespace);
  const query = `?fieldValidation=Strict${dryRun ? '&dryRun=All' : ''}`;
  const answer = await cluster.api<Status>('POST', `${path}${query}`, object);
  assert.equal(
    answer.status,
    201,
    `${dryRun ? 'dry-run ' : ''}create ${object.kind} ${object.metadata.name}: ${answer.body.message ?? ''}`,
  );
}

/** Kinds whose CRDs (Prometheus Operator) are not installed on the test control plane. */
const CRD_KINDS = new Set([
  'monitoring.coreos.com/v1 ServiceMonitor',
  'monitoring.coreos.com/v1 PrometheusRule',
]);

test('every rendered object is accepted by the API server (server-side dry run, strict fields)', async () => {
  const [namespace = ''] = await createNamespaces(cluster, [{ name: uniqueName('chart-dry') }]);
  try {
    const variants: readonly (readonly string[])[] = [
      [],
      ['--set-json', 'nsync.kinds=["secrets"]'],
      ['--set', 'replicas=1,nsync.leaderElect=false'],
      [...ALL_OPTIONAL, ...EVERYTHING_SET],
    ];
    let checked = 0;
    for (const flags of variants) {
      // A unique release per variant: cluster-scoped names must not collide with other tests.
      const rendered = render(uniqueName('nsync'), namespace, flags);
      for (const object of rendered.objects) {
        if (CRD_KINDS.has(`${object.apiVersion} ${object.kind}`)) continue;
        await create(object, { dryRun: true });
        checked += 1;
      }
    }
    assert.ok(checked >= 30, `checked ${checked} objects`);
  } finally {
    await cluster.api('DELETE', `/api/v1/namespaces/${namespace}`);
  }
});

test('the pod meets the restricted Pod Security Standard (enforced by the API server)', async () => {
  const [namespace = ''] = await createNamespaces(cluster, [
    { name: uniqueName('chart-pss'), labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
  ]);
  try {
    const rendered = render(uniqueName('nsync'), namespace);
    // The ServiceAccount admission plugin wants the pod's ServiceAccount to exist.
    await create(rendered.one('ServiceAccount'), { dryRun: false });
    const template = (rendered.one('Deployment') as Deployment).spec.template;
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'nsync-pod', namespace, labels: template.metadata.labels ?? {} },
      spec: template.spec,
    };
    await create(pod, { dryRun: true });

    // The same pod without its security context is refused: the check above is not vacuous.
    const container = template.spec.containers[0];
    assert.ok(container);
    const loose = {
      ...pod,
      spec: { ...template.spec, securityContext: {}, containers: [{ ...container, securityContext: {} }] },
    };
    const path = await collectionPath(pod, namespace);
    const refused = await cluster.api<Status>('POST', `${path}?dryRun=All`, loose);
    assert.equal(refused.status, 403);
    assert.match(refused.body.message ?? '', /violates PodSecurity "restricted/);
  } finally {
    await cluster.api('DELETE', `/api/v1/namespaces/${namespace}`);
  }
});

test('deploy/kustomize is what tools/helm/render-manifests.sh generates from the chart', () => {
  const out = mkdtempSync(join(tmpdir(), 'nsync-kustomize-'));
  try {
    execFileSync('bash', [join(root, 'tools', 'helm', 'render-manifests.sh'), out], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const committed = join(root, 'deploy', 'kustomize');
    const files = readdirSync(out).sort();
    assert.deepEqual(readdirSync(committed).sort(), files);
    for (const file of files) {
      assert.equal(
        readFileSync(join(committed, file), 'utf8'),
        readFileSync(join(out, file), 'utf8'),
        `deploy/kustomize/${file} is stale: run bash tools/helm/render-manifests.sh`,
      );
    }
    assert.ok(files.includes('kustomization.yaml'));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

interface Access {
  verb: string;
  group?: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const describeAccess = (a: Access): string =>
  `${a.verb} ${a.group ? `${a.group}/` : ''}${a.resource}${a.name ? `/${a.name}` : ''} in ${a.namespace ?? 'all namespaces'}`;

/**
 * Renders the chart for `namespace` and creates its ServiceAccount and RBAC objects for real;
 * returns the rendering, a token for the ServiceAccount, and a cleanup for cluster-scoped objects.
 */
async function installRbac(
  namespace: string,
  flags: readonly string[] = [],
): Promise<{ rendered: Rendered; identity: Identity; removeClusterObjects: () => Promise<void> }> {
  const rendered = render(uniqueName('nsync'), namespace, flags);
  const clusterScoped = rendered.objects.filter((object) => object.kind.startsWith('Cluster'));
  const removeClusterObjects = async (): Promise<void> => {
    for (const object of clusterScoped) {
      const path = await collectionPath(object, undefined);
      await cluster.api('DELETE', `${path}/${object.metadata.name}`);
    }
  };
  try {
    for (const kind of ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']) {
      for (const object of rendered.objects.filter((candidate) => candidate.kind === kind)) {
        await create(object, { dryRun: false });
      }
    }
    const identity = await cluster.serviceAccountIdentity(
      namespace,
      rendered.one('ServiceAccount').metadata.name,
    );
    return { rendered, identity, removeClusterObjects };
  } catch (error) {
    await removeClusterObjects();
    throw error;
  }
}

test('the chart’s RBAC, applied for real, lets nsync’s ServiceAccount do its job and nothing else', async () => {
  const [namespace = '', elsewhere = ''] = await createNamespaces(cluster, [
    { name: uniqueName('chart-rbac') },
    { name: uniqueName('chart-other') },
  ]);
  const { rendered, identity, removeClusterObjects } = await installRbac(namespace);
  const { token } = identity;
  const serviceAccount = rendered.one('ServiceAccount').metadata.name;
  try {
    const allowed = async (access: Access): Promise<boolean> => {
      const answer = await cluster.apiAs(
        token,
        'POST',
        '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { group: '', ...access } },
        },
      );
      assert.equal(answer.status, 201, 'SelfSubjectAccessReview');
      return (answer.body as { status?: { allowed?: boolean } }).status?.allowed === true;
    };
    // The RBAC authorizer learns of new bindings through its informers: wait for the first grant.
    await eventually('the ClusterRoleBinding to take effect', async () =>
      (await allowed({ verb: 'list', resource: 'secrets' })) ? true : undefined,
    );

    const grants: Access[] = [
      ...['secrets', 'configmaps'].flatMap((resource) => [
        ...['list', 'watch'].map((verb) => ({ verb, resource })),
        ...MIRROR_VERBS.map((verb) => ({ verb, resource, namespace: elsewhere, name: 'x' })),
      ]),
      { verb: 'get', resource: 'namespaces', name: elsewhere },
      { verb: 'list', resource: 'namespaces' },
      { verb: 'watch', resource: 'namespaces' },
      { verb: 'create', group: 'events.k8s.io', resource: 'events', namespace: elsewhere },
      { verb: 'patch', group: 'events.k8s.io', resource: 'events', namespace: elsewhere, name: 'e' },
      { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace },
      { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', namespace, name: 'nsync' },
      { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace, name: 'nsync' },
      { verb: 'list', group: 'nsync.dev', resource: 'clustermirrors' },
      { verb: 'watch', group: 'nsync.dev', resource: 'mirrors' },
      {
        verb: 'patch',
        group: 'nsync.dev',
        resource: 'mirrors',
        subresource: 'status',
        namespace: elsewhere,
        name: 'm',
      },
    ];
    const denials: Access[] = [
      { verb: 'update', group: 'nsync.dev', resource: 'clustermirrors', name: 'c' },
      { verb: 'create', group: 'nsync.dev', resource: 'mirrors', namespace: elsewhere },
      { verb: 'create', resource: 'pods', namespace },
      { verb: 'list', resource: 'pods' },
      { verb: 'create', group: 'apps', resource: 'deployments', namespace },
      { verb: 'list', group: 'apps', resource: 'deployments' },
      { verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: elsewhere },
      { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', namespace: elsewhere, name: 'nsync' },
      { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', namespace, name: 'someone-else' },
      { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace, name: 'someone-else' },
      { verb: 'delete', group: 'coordination.k8s.io', resource: 'leases', namespace, name: 'nsync' },
      { verb: 'list', group: 'coordination.k8s.io', resource: 'leases', namespace },
      { verb: 'deletecollection', resource: 'secrets', namespace: elsewhere },
      { verb: 'create', resource: 'namespaces' },
      { verb: 'delete', resource: 'namespaces', name: elsewhere },
      { verb: 'update', resource: 'namespaces', name: elsewhere },
      { verb: 'create', resource: 'events', namespace: elsewhere },
      { verb: 'list', group: 'events.k8s.io', resource: 'events' },
      { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' },
      { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
      // The identity kinds are off by default (docs/adr/0017): no rights on them at all.
      { verb: 'list', group: 'rbac.authorization.k8s.io', resource: 'roles' },
      { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', namespace: elsewhere },
      { verb: 'create', resource: 'serviceaccounts', namespace: elsewhere },
      { verb: 'get', resource: 'nodes' },
      { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace, name: serviceAccount },
    ];
    const wrong: string[] = [];
    for (const access of grants)
      if (!(await allowed(access))) wrong.push(`denied: ${describeAccess(access)}`);
    for (const access of denials) if (await allowed(access)) wrong.push(`allowed: ${describeAccess(access)}`);
    assert.deepEqual(wrong, []);

    // And plainly, with the token: what nsync does at startup and while it leads.
    assert.equal((await cluster.apiAs(token, 'GET', '/api/v1/secrets?limit=1')).status, 200);
    assert.equal(
      (await cluster.apiAs(token, 'GET', '/api/v1/configmaps?watch=1&timeoutSeconds=1')).status,
      200,
    );
    assert.equal((await cluster.apiAs(token, 'GET', '/api/v1/namespaces')).status, 200);
    const lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'nsync', namespace },
      spec: { holderIdentity: 'nsync-0', leaseDurationSeconds: 15 },
    };
    const leases = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
    const created = await cluster.apiAs(token, 'POST', leases, lease);
    assert.equal(created.status, 201);
    const renewed = await cluster.apiAs(token, 'PUT', `${leases}/nsync`, {
      ...(created.body as Manifest),
      spec: { ...lease.spec, renewTime: new Date().toISOString().replace('Z', '000Z') },
    });
    assert.equal(renewed.status, 200);
    const event = await cluster.apiAs(
      token,
      'POST',
      `/apis/events.k8s.io/v1/namespaces/${elsewhere}/events`,
      {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: 'nsync-test.1', namespace: elsewhere },
        eventTime: new Date().toISOString().replace('Z', '000Z'),
        reportingController: 'nsync.dev/nsync',
        reportingInstance: 'nsync-0',
        action: 'Mirror',
        reason: 'Test',
        type: 'Normal',
        regarding: { apiVersion: 'v1', kind: 'Secret', name: 'source', namespace: elsewhere },
        note: 'chart RBAC test',
      },
    );
    assert.equal(event.status, 201, JSON.stringify(event.body));
    assert.equal(
      (
        await cluster.apiAs(token, 'POST', `/api/v1/namespaces/${namespace}/pods`, {
          metadata: { name: 'p' },
        })
      ).status,
      403,
    );
    assert.equal(
      (
        await cluster.apiAs(
          token,
          'POST',
          `/apis/coordination.k8s.io/v1/namespaces/${elsewhere}/leases`,
          lease,
        )
      ).status,
      403,
    );
    assert.equal((await cluster.apiAs(token, 'GET', '/apis/apps/v1/deployments')).status, 403);
  } finally {
    await removeClusterObjects();
    await cluster.api('DELETE', `/api/v1/namespaces/${namespace}`);
    await cluster.api('DELETE', `/api/v1/namespaces/${elsewhere}`);
  }
});

test('with the identity kinds on, the chart’s RBAC grants their rights and still neither escalate nor bind', async () => {
  const [namespace = '', elsewhere = ''] = await createNamespaces(cluster, [
    { name: uniqueName('chart-rbk') },
    { name: uniqueName('chart-rbk-other') },
  ]);
  const { identity, removeClusterObjects } = await installRbac(namespace, RBAC_KINDS_ON);
  try {
    const allowed = async (access: Access): Promise<boolean> => {
      const answer = await cluster.apiAs(
        identity.token,
        'POST',
        '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { group: '', ...access } },
        },
      );
      assert.equal(answer.status, 201, 'SelfSubjectAccessReview');
      return (answer.body as { status?: { allowed?: boolean } }).status?.allowed === true;
    };
    await eventually('the ClusterRoleBinding to take effect', async () =>
      (await allowed({ verb: 'list', resource: 'secrets' })) ? true : undefined,
    );
    const rbac = 'rbac.authorization.k8s.io';
    const grants: Access[] = [
      ...[
        { group: rbac, resource: 'roles' },
        { group: rbac, resource: 'rolebindings' },
        { group: '', resource: 'serviceaccounts' },
      ].flatMap((kind) => [
        ...['list', 'watch'].map((verb) => ({ verb, ...kind })),
        ...MIRROR_VERBS.map((verb) => ({ verb, ...kind, namespace: elsewhere, name: 'x' })),
      ]),
    ];
    const denials: Access[] = [
      ...['roles', 'clusterroles'].flatMap((resource) =>
        ['escalate', 'bind'].map((verb) => ({ verb, group: rbac, resource, namespace: elsewhere })),
      ),
      { verb: 'create', group: rbac, resource: 'clusterroles' },
      { verb: 'create', group: rbac, resource: 'clusterrolebindings' },
      { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: elsewhere, name: 'x' },
      { verb: 'create', resource: 'pods', namespace: elsewhere },
    ];
    const wrong: string[] = [];
    for (const access of grants)
      if (!(await allowed(access))) wrong.push(`denied: ${describeAccess(access)}`);
    for (const access of denials) if (await allowed(access)) wrong.push(`allowed: ${describeAccess(access)}`);
    assert.deepEqual(wrong, []);
  } finally {
    await removeClusterObjects();
    await cluster.api('DELETE', `/api/v1/namespaces/${namespace}`);
    await cluster.api('DELETE', `/api/v1/namespaces/${elsewhere}`);
  }
});

interface LeaseBody {
  spec?: { holderIdentity?: string };
}
interface EventList {
  items: { reason?: string; regarding?: { name?: string } }[];
}

test('nsync runs with exactly the chart’s RBAC and arguments: leads, mirrors, reports, cleans up', async () => {
  const [release = '', source = '', target = ''] = await createNamespaces(cluster, [
    { name: uniqueName('chart-run') },
    { name: uniqueName('chart-src') },
    { name: uniqueName('chart-dst') },
  ]);
  const { rendered, identity, removeClusterObjects } = await installRbac(release);
  const { container } = deploymentOf(rendered);
  const podName = 'nsync-chart-0';
  const { argv, env } = commandLine(container, release);
  env['POD_NAME'] = podName;
  const config = parseConfig(
    [
      ...argv.filter((arg) => arg !== '--in-cluster'),
      // The pod's own service account, from outside the cluster: the same identity and rights.
      `--kubeconfig=${identity.kubeconfigPath}`,
      '--listen=127.0.0.1:0',
      // The shared control plane serves other test files: stay within this test's namespaces.
      `--exclude-namespaces=*,!${source},!${target}`,
      `--source-namespaces=${source}`,
    ],
    env,
  );
  const nsync = await startController(config, identity.kubeconfigPath);
  const logs = nsync.logs;
  /** Failures carry the controller's log: it says what nsync saw and did. */
  const withLogs = async <T>(waiting: Promise<T>): Promise<T> =>
    waiting.catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs.join('\n')}`, {
        cause: error,
      });
    });
  const secrets = (namespace: string): string => `/api/v1/namespaces/${namespace}/secrets`;
  try {
    const lease = `/apis/coordination.k8s.io/v1/namespaces/${release}/leases/nsync`;
    await withLogs(
      eventually('the pod to hold the Lease', async () => {
        const answer = await cluster.api<LeaseBody>('GET', lease);
        return answer.body.spec?.holderIdentity === podName ? true : undefined;
      }),
    );

    const annotations = { 'nsync.dev/push-to': target };
    const made = await cluster.api('POST', secrets(source), {
      metadata: { name: 'shared', annotations },
      stringData: { token: 'abc' },
    });
    assert.equal(made.status, 201);
    await withLogs(
      eventually('the mirror to be created', async () =>
        (await cluster.api('GET', `${secrets(target)}/shared`)).status === 200 ? true : undefined,
      ),
    );

    // An object nsync does not own blocks a mirror: nsync leaves it alone and says so in an Event.
    await cluster.api('POST', secrets(target), { metadata: { name: 'taken' }, stringData: { mine: 'yes' } });
    await cluster.api('POST', secrets(source), { metadata: { name: 'taken', annotations } });
    await withLogs(
      eventually('a ConflictWithUnownedObject Event on the source', async () => {
        const events = await cluster.api<EventList>(
          'GET',
          `/apis/events.k8s.io/v1/namespaces/${source}/events`,
        );
        return events.body.items.some(
          (event) => event.reason === 'ConflictWithUnownedObject' && event.regarding?.name === 'taken',
        )
          ? true
          : undefined;
      }),
    );

    assert.equal((await cluster.api('DELETE', `${secrets(source)}/shared`)).status, 200);
    await withLogs(
      eventually('the mirror to be deleted with its source', async () =>
        (await cluster.api('GET', `${secrets(target)}/shared`)).status === 404 ? true : undefined,
      ),
    );
    assert.equal((await cluster.api('GET', `${secrets(target)}/taken`)).status, 200, 'unowned object kept');

    await nsync.stop();
    const released = await cluster.api<LeaseBody>('GET', lease);
    assert.notEqual(released.body.spec?.holderIdentity, podName, 'the Lease is released on shutdown');
    const refused = logs.filter((line) => /forbidden|\b403\b/i.test(line));
    assert.deepEqual(refused, [], 'no request was refused by RBAC');
  } finally {
    await nsync.stop();
    await removeClusterObjects();
    for (const namespace of [release, source, target]) {
      await cluster.api('DELETE', `/api/v1/namespaces/${namespace}`);
    }
  }
});
