/**
 * The target namespace is a trust boundary too (docs/security.md, "The target namespace"). A push
 * lands in a namespace that never asked for it; that namespace must be able to refuse it, nsync
 * must never fight its own tools, nor take a name Kubernetes or another controller creates.
 *
 * Parties act with their own tokens: the attacker (a service account with rights on Secrets and
 * ConfigMaps in its namespace only) pushes; the victim (the same rights in its namespace, plus
 * reading Events there) takes the object over, refuses it and reads what nsync tells it. The
 * admin stands for the platform team (namespace annotations) and reads the API server's own
 * watch to count nsync's writes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import {
  b64,
  createNamespaces,
  eventsAbout,
  eventually,
  getObject,
  patchObject,
  sharedCluster,
  type TestObject,
} from '../support/cluster.ts';
import { startNsync, type RunningNsync } from '../support/nsync.ts';
import { countWritesBy } from '../support/writes.ts';
import { sampleValue, Teardown } from '../faults/helpers.ts';

const cluster = sharedCluster();
const prefix = `tb${randomBytes(2).toString('hex')}`;
const attacker = `${prefix}-attacker`;
const victim = `${prefix}-victim`;
const third = `${prefix}-third`;
const bin = fileURLToPath(new URL('../../bin/nsync.js', import.meta.url));
const teardown = new Teardown();
let nsync: RunningNsync;
const tokens = { attacker: '', victim: '' };
const MAX_RESTORES = 3;

type Plural = 'secrets' | 'configmaps';

/** A service account with full rights on Secrets and ConfigMaps (and reading Events) in its namespace. */
async function tenantIn(namespace: string, name: string): Promise<string> {
  const identity = await cluster.serviceAccountIdentity(namespace, name);
  const rbac = '/apis/rbac.authorization.k8s.io/v1/namespaces';
  const role = await cluster.api('POST', `${rbac}/${namespace}/roles`, {
    metadata: { name },
    rules: [
      {
        apiGroups: [''],
        resources: ['secrets', 'configmaps'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      },
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['get', 'list'] },
    ],
  });
  assert.equal(role.status, 201);
  const binding = await cluster.api('POST', `${rbac}/${namespace}/rolebindings`, {
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace }],
  });
  assert.equal(binding.status, 201);
  await eventually(`${name}'s Role to take effect`, async () =>
    (await cluster.apiAs(identity.token, 'GET', `/api/v1/namespaces/${namespace}/configmaps`)).status === 200
      ? true
      : undefined,
  );
  return identity.token;
}

/** A call with a party's token that must succeed; returns the object. */
async function as(
  token: string,
  method: string,
  path: string,
  body?: unknown,
  contentType?: string,
): Promise<TestObject> {
  const answer = await cluster.apiAs<TestObject>(token, method, path, body, contentType);
  assert.ok(
    answer.status < 300,
    `${method} ${path}: ${String(answer.status)} ${JSON.stringify(answer.body)}`,
  );
  return answer.body;
}

function path(plural: Plural, namespace: string, name?: string): string {
  return `/api/v1/namespaces/${namespace}/${plural}${name === undefined ? '' : `/${name}`}`;
}

/** Waits until an object exists (and satisfies `ready`, when given). */
async function existing(
  plural: Plural,
  namespace: string,
  name: string,
  ready: (object: TestObject) => boolean = () => true,
): Promise<TestObject> {
  return eventually(`${namespace}/${name}`, async () => {
    const object = await getObject(cluster, plural, namespace, name);
    return object !== undefined && ready(object) ? object : undefined;
  });
}

/** Events about an object, read with a token that may read them, until one has `reason`. */
async function eventAbout(
  token: string | undefined,
  namespace: string,
  name: string,
  reason: string,
): Promise<{ note: string; type: string }> {
  return eventually(`a ${reason} Event on ${namespace}/${name}`, async () => {
    if (token !== undefined) {
      const answer = await cluster.apiAs<{
        items: { reason: string; type: string; note?: string; regarding?: { name?: string } }[];
      }>(token, 'GET', `/apis/events.k8s.io/v1/namespaces/${namespace}/events`);
      assert.equal(answer.status, 200, 'the party may read the Events of its namespace');
      const event = answer.body.items.find((item) => item.regarding?.name === name && item.reason === reason);
      return event === undefined ? undefined : { note: event.note ?? '', type: event.type };
    }
    return (await eventsAbout(cluster, namespace, name)).find((event) => event.reason === reason);
  });
}

before(async () => {
  await createNamespaces(cluster, [
    { name: attacker },
    { name: victim, labels: { 'tb-victim': prefix } },
    { name: third, labels: { 'tb-victim': prefix } },
  ]);
  tokens.attacker = await tenantIn(attacker, 'attacker');
  tokens.victim = await tenantIn(victim, 'victim');
  nsync = teardown.add(
    await startNsync(
      cluster,
      [`${prefix}-*`],
      [`--max-restores=${String(MAX_RESTORES)}`, '--max-bytes-per-source=1Mi'],
    ),
    (started) => started.stop(),
  );
});

after(() => teardown.run());

/** The victim's own `app-config`, as its manifest says. */
const victimData = { url: 'postgres://victim-db' };

/** How the victim's tooling writes its manifest over the squatted mirror. */
const takeovers = {
  /** `kubectl apply` (client-side): a strategic merge patch carrying last-applied-configuration. */
  'kubectl-apply': (name: string) =>
    as(
      tokens.victim,
      'PATCH',
      `${path('configmaps', victim, name)}?fieldManager=kubectl-client-side-apply`,
      {
        metadata: {
          annotations: {
            'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name, namespace: victim },
              data: victimData,
            }),
          },
        },
        data: victimData,
      },
      'application/strategic-merge-patch+json',
    ),
  /** A GitOps tool's forced server-side apply. */
  'forced-ssa': (name: string) =>
    as(
      tokens.victim,
      'PATCH',
      `${path('configmaps', victim, name)}?fieldManager=argocd-controller&force=true`,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: victim }, data: victimData },
      'application/apply-patch+yaml',
    ),
};

test('a squatted mirror the victim takes over is restored at most --max-restores times, then left to the victim and reported where it looks', async () => {
  // The attacker pushes its `app-config` into the victim's namespace in three dialects.
  const squats = [
    {
      name: 'cfg-apply',
      takeover: takeovers['kubectl-apply'],
      pace: 300,
      annotations: { 'nsync.dev/push-to': victim },
    },
    {
      name: 'cfg-ssa',
      takeover: takeovers['forced-ssa'],
      pace: 300,
      annotations: {
        'reflector.v1.k8s.emberstack.com/reflection-allowed': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-auto-enabled': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-allowed-namespaces': victim,
      },
    },
    // Re-applies at once on every change: the tightest loop a tool could run.
    {
      name: 'cfg-loop',
      takeover: takeovers['kubectl-apply'],
      pace: 10,
      annotations: { 'replicator.v1.mittwald.de/replicate-to': victim },
    },
  ];
  for (const squat of squats) {
    await as(tokens.attacker, 'POST', path('configmaps', attacker), {
      metadata: { name: squat.name, annotations: squat.annotations },
      data: { url: 'postgres://attacker-db' },
    });
  }
  const mirrors = await Promise.all(squats.map((squat) => existing('configmaps', victim, squat.name)));
  const counters = squats.map((squat, index) =>
    countWritesBy(
      cluster,
      {
        plural: 'configmaps',
        namespace: victim,
        name: squat.name,
        resourceVersion: mirrors[index]?.metadata.resourceVersion ?? '',
      },
      'nsync',
    ),
  );
  try {
    // Each tool holds its version for 30 s, re-applying whenever it sees anything else.
    const until = Date.now() + 30_000;
    await Promise.all(
      squats.map(async (squat) => {
        while (Date.now() < until) {
          const now = await getObject(cluster, 'configmaps', victim, squat.name);
          if (now?.data?.['url'] !== victimData.url) await squat.takeover(squat.name);
          await new Promise((resolve) => setTimeout(resolve, squat.pace));
        }
      }),
    );
    await nsync.idle();
    for (const [index, squat] of squats.entries()) {
      const writes = counters[index]?.count() ?? -1;
      assert.ok(
        writes >= 1,
        `${squat.name}: an edit is still repaired (nsync restored it ${String(writes)} times)`,
      );
      assert.ok(
        writes <= MAX_RESTORES,
        `${squat.name}: nsync wrote it ${String(writes)} times in 30 s; at most ${String(MAX_RESTORES)} restores`,
      );
      const final = await getObject(cluster, 'configmaps', victim, squat.name);
      assert.equal(final?.data?.['url'], victimData.url, `${squat.name}: the victim's version stands`);
      const onMirror = await eventAbout(tokens.victim, victim, squat.name, 'MirrorContested');
      assert.equal(onMirror.type, 'Warning');
      assert.match(onMirror.note, new RegExp(`${attacker}/${squat.name}`));
      await eventAbout(undefined, attacker, squat.name, 'MirrorContested');
    }
  } finally {
    for (const counter of counters) counter.stop();
  }
  const metrics = await nsync.metrics.registry.metrics();
  assert.ok(sampleValue(metrics, 'nsync_mirrors', { state: 'contested' }) >= squats.length);
  const { stdout } = await promisify(execFile)(process.execPath, [
    bin,
    'explain',
    'configmap/cfg-loop',
    '-n',
    attacker,
    `--kubeconfig=${cluster.admin.kubeconfigPath}`,
    `--exclude-namespaces=*,!${prefix}-*`,
  ]);
  const line = stdout.split('\n').find((row) => row.startsWith(`${victim} `)) ?? '';
  assert.match(line, /contested/);
  assert.match(line, /kubectl-client-side-apply/);
});

test('the target namespace refuses a pushed mirror with nsync.dev/refuse, in any dialect: never written, deleted or re-created', async () => {
  const refusals = [
    { name: 'db-native', annotations: { 'nsync.dev/push-to': `${victim},${third}` } },
    { name: 'db-kubed', annotations: { 'kubed.appscode.com/sync': `tb-victim=${prefix}` } },
  ];
  for (const refusal of refusals) {
    await as(tokens.attacker, 'POST', path('secrets', attacker), {
      metadata: { name: refusal.name, annotations: refusal.annotations },
      data: { url: b64('postgres://attacker-db') },
    });
    await existing('secrets', victim, refusal.name);
    const refused = await as(
      tokens.victim,
      'PATCH',
      path('secrets', victim, refusal.name),
      {
        metadata: { annotations: { 'nsync.dev/refuse': 'true' } },
        data: { url: b64('postgres://victim-db') },
      },
      'application/merge-patch+json',
    );
    const counter = countWritesBy(
      cluster,
      {
        plural: 'secrets',
        namespace: victim,
        name: refusal.name,
        resourceVersion: refused.metadata.resourceVersion,
      },
      'nsync',
    );
    try {
      await as(
        tokens.attacker,
        'PATCH',
        path('secrets', attacker, refusal.name),
        { data: { url: b64('postgres://attacker-db-2') } },
        'application/merge-patch+json',
      );
      const onSource = await eventAbout(undefined, attacker, refusal.name, 'MirrorRefused');
      assert.match(onSource.note, new RegExp(`${victim}/${refusal.name}`));
      await as(tokens.attacker, 'DELETE', path('secrets', attacker, refusal.name));
      // The unrefused mirror in the third namespace goes: nsync has acted on the deletion.
      await eventually(`the mirror of ${refusal.name} in ${third} to go`, async () =>
        (await getObject(cluster, 'secrets', third, refusal.name)) === undefined ? true : undefined,
      );
      await nsync.idle();
      const after = await getObject(cluster, 'secrets', victim, refusal.name);
      assert.equal(after?.metadata.uid, refused.metadata.uid, `${refusal.name}: the refused object is kept`);
      assert.equal(
        after.metadata.resourceVersion,
        refused.metadata.resourceVersion,
        `${refusal.name}: never written`,
      );
      assert.equal(counter.count(), 0);
    } finally {
      counter.stop();
    }
  }
});

test('names Kubernetes publishes are never targets: new namespaces keep kube-controller-manager’s kube-root-ca.crt', async () => {
  // The attacker turns its own namespace's kube-root-ca.crt into a push source (replicator) and
  // renames a ConfigMap of its own to that name (native), both to every namespace of the test.
  // kube-controller-manager publishes it in a new namespace shortly after the namespace appears.
  await existing('configmaps', attacker, 'kube-root-ca.crt');
  await as(
    tokens.attacker,
    'PATCH',
    path('configmaps', attacker, 'kube-root-ca.crt'),
    { metadata: { annotations: { 'replicator.v1.mittwald.de/replicate-to': `${prefix}-.*` } } },
    'application/merge-patch+json',
  );
  await as(tokens.attacker, 'POST', path('configmaps', attacker), {
    metadata: {
      name: 'evil-ca',
      annotations: { 'nsync.dev/push-to': `${prefix}-*`, 'nsync.dev/target-name': 'kube-root-ca.crt' },
    },
    data: { 'ca.crt': '-----BEGIN CERTIFICATE-----\nattacker\n-----END CERTIFICATE-----\n' },
  });
  const created = await createNamespaces(
    cluster,
    [1, 2, 3, 4, 5].map((index) => ({ name: `${prefix}-new-${String(index)}` })),
  );
  const clusterCa = readFileSync(cluster.caFile, 'utf8');
  await eventAbout(undefined, attacker, 'evil-ca', 'ReservedName');
  await eventAbout(undefined, attacker, 'kube-root-ca.crt', 'ReservedName');
  for (const namespace of created) await existing('configmaps', namespace, 'kube-root-ca.crt');
  await nsync.idle();
  for (const namespace of created) {
    const published = await getObject(cluster, 'configmaps', namespace, 'kube-root-ca.crt');
    assert.equal(published?.data?.['ca.crt'], clusterCa, `${namespace}: the API server's CA`);
    const managers = (published.metadata.managedFields ?? []).map((entry) => entry.manager);
    assert.ok(!managers.includes('nsync'), `${namespace}: nsync never wrote it (${managers.join(', ')})`);
    assert.equal(published.metadata.labels?.['app.kubernetes.io/managed-by'], undefined);
  }
});

test('labels and annotations that make other controllers act are not copied, and the source is told', async () => {
  await as(tokens.attacker, 'POST', path('secrets', attacker), {
    metadata: {
      name: 'argo-cluster',
      labels: { 'argocd.argoproj.io/secret-type': 'cluster', team: 'attacker' },
      annotations: {
        'kubed.appscode.com/sync': `tb-victim=${prefix}`,
        'meta.helm.sh/release-name': 'victim-app',
      },
    },
    data: { server: b64('https://attacker.example') },
  });
  const mirror = await existing('secrets', victim, 'argo-cluster');
  assert.equal(mirror.metadata.labels?.['team'], 'attacker', 'ordinary labels travel (kubed copies them)');
  assert.equal(mirror.metadata.labels['argocd.argoproj.io/secret-type'], undefined);
  assert.equal(mirror.metadata.annotations?.['meta.helm.sh/release-name'], undefined);
  const told = await eventAbout(undefined, attacker, 'argo-cluster', 'MetadataNotCopied');
  assert.match(told.note, /label argocd\.argoproj\.io\/secret-type/);
  assert.match(told.note, /annotation meta\.helm\.sh\/release-name/);
});

test('a source over its fan-out budget keeps its mirrors and gets no new ones', async () => {
  const big = 'x'.repeat(400 * 1024);
  await as(tokens.attacker, 'POST', path('configmaps', attacker), {
    metadata: { name: 'big', annotations: { 'nsync.dev/push-to': victim } },
    data: { blob: big },
  });
  const kept = await existing('configmaps', victim, 'big');
  await as(
    tokens.attacker,
    'PATCH',
    path('configmaps', attacker, 'big'),
    { metadata: { annotations: { 'nsync.dev/push-to': `${victim},${third},${prefix}-new-*` } } },
    'application/merge-patch+json',
  );
  const told = await eventAbout(undefined, attacker, 'big', 'FanOutBudgetExceeded');
  assert.match(told.note, /exceed the limit of 1 MiB/);
  await nsync.idle();
  assert.equal((await getObject(cluster, 'configmaps', third, 'big')) === undefined, true, 'no new mirror');
  const still = await getObject(cluster, 'configmaps', victim, 'big');
  assert.equal(still?.metadata.uid, kept.metadata.uid, 'the existing mirror is kept');
  const metrics = await nsync.metrics.registry.metrics();
  assert.ok(sampleValue(metrics, 'nsync_mirrors', { state: 'over_budget' }) >= 1);
});

test('under --target-consent a push lands only where the namespace accepts its source, in every dialect', async () => {
  const scope = `${prefix}c`;
  const [src = '', yes = '', no = '', other = ''] = await createNamespaces(cluster, [
    { name: `${scope}-src` },
    { name: `${scope}-yes`, labels: { 'tb-consent': scope } },
    { name: `${scope}-no`, labels: { 'tb-consent': scope } },
    { name: `${scope}-other`, labels: { 'tb-consent': scope } },
  ]);
  // The platform team writes the namespaces' consent.
  await patchObject(cluster, `/api/v1/namespaces/${yes}`, {
    metadata: { annotations: { 'nsync.dev/accept-from': src } },
  });
  await patchObject(cluster, `/api/v1/namespaces/${other}`, {
    metadata: { annotations: { 'nsync.dev/accept-from': `*, !${src}` } },
  });
  const owner = await tenantIn(src, 'owner');
  const consenting = teardown.add(
    await startNsync(cluster, [`${scope}-*`], ['--target-consent']),
    (started) => started.stop(),
  );
  const sources = {
    'n-cm': { 'nsync.dev/push-to': `${scope}-*` },
    'r-cm': {
      'reflector.v1.k8s.emberstack.com/reflection-allowed': 'true',
      'reflector.v1.k8s.emberstack.com/reflection-auto-enabled': 'true',
      'reflector.v1.k8s.emberstack.com/reflection-allowed-namespaces': `${scope}-.*`,
    },
    'p-cm': { 'replicator.v1.mittwald.de/replicate-to-matching': `tb-consent=${scope}` },
    'k-cm': { 'kubed.appscode.com/sync': `tb-consent=${scope}` },
  };
  for (const [name, annotations] of Object.entries(sources)) {
    await as(owner, 'POST', path('configmaps', src), { metadata: { name, annotations }, data: { k: 'v' } });
  }
  for (const name of Object.keys(sources)) {
    await existing('configmaps', yes, name);
    const told = await eventAbout(owner, src, name, 'TargetConsentMissing');
    assert.match(told.note, new RegExp(no));
  }
  await consenting.idle();
  for (const name of Object.keys(sources)) {
    for (const namespace of [no, other]) {
      assert.equal(
        await getObject(cluster, 'configmaps', namespace, name),
        undefined,
        `${name} not in ${namespace}`,
      );
    }
  }
  // Consent given later takes effect; consent withdrawn removes the mirrors.
  await patchObject(cluster, `/api/v1/namespaces/${no}`, {
    metadata: { annotations: { 'nsync.dev/accept-from': src } },
  });
  await patchObject(cluster, `/api/v1/namespaces/${yes}`, {
    metadata: { annotations: { 'nsync.dev/accept-from': null } },
  });
  for (const name of Object.keys(sources)) {
    await existing('configmaps', no, name);
    await eventually(`${name} to leave ${yes}`, async () =>
      (await getObject(cluster, 'configmaps', yes, name)) === undefined ? true : undefined,
    );
  }
});
