/**
 * The core behaviours of nsync against the real control plane: push mirrors follow their source,
 * namespaces and annotations; nothing unowned is touched; mirrors are restored; types and
 * content are kept; pull needs consent.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { startNsync, type RunningNsync } from './support/nsync.ts';
import {
  b64,
  createNamespaces,
  createObject,
  eventsAbout,
  eventually,
  getObject,
  patchObject,
  sharedCluster,
  type TestObject,
} from './support/cluster.ts';

const cluster = sharedCluster();
/** Every namespace of this file starts with it; nsync is confined to them. */
const prefix = `mt${randomBytes(2).toString('hex')}`;
let nsync: RunningNsync;
let counter = 0;

/** A fresh set of namespaces for one test: `${prefix}-${n}-${suffix}`. */
async function namespaces(
  ...specs: (string | { name: string; labels: Record<string, string> })[]
): Promise<string[]> {
  counter += 1;
  const base = `${prefix}-${String(counter)}`;
  return createNamespaces(
    cluster,
    specs.map((spec) =>
      typeof spec === 'string'
        ? { name: `${base}-${spec}` }
        : { name: `${base}-${spec.name}`, labels: spec.labels },
    ),
  );
}

/** Reconciles this file's nsync has finished, whatever their result. */
async function reconcileCount(): Promise<number> {
  const metric = await nsync.metrics.reconcileTotal.get();
  return metric.values.reduce((sum, sample) => sum + sample.value, 0);
}

const secretPath = (namespace: string, name: string): string =>
  `/api/v1/namespaces/${namespace}/secrets/${name}`;

/** Waits until a Secret exists (and satisfies `ready`), or fails. */
async function secretEventually(
  namespace: string,
  name: string,
  what: string,
  ready: (secret: TestObject) => boolean = () => true,
): Promise<TestObject> {
  return eventually(what, async () => {
    const secret = await getObject(cluster, 'secrets', namespace, name);
    return secret !== undefined && ready(secret) ? secret : undefined;
  });
}

async function goneEventually(namespace: string, name: string, what: string): Promise<void> {
  await eventually(what, async () =>
    (await getObject(cluster, 'secrets', namespace, name)) === undefined ? true : undefined,
  );
}

before(async () => {
  nsync = await startNsync(cluster, [`${prefix}-*`]);
});

after(async () => {
  await nsync.stop();
});

test('a source created, updated and deleted: its mirrors are created, updated and deleted', async () => {
  const [src = '', a = '', b = '', other = ''] = await namespaces('src', 'app-a', 'app-b', 'other');
  const pushTo = `${a.slice(0, -2)}-*`; // matches app-a and app-b, not other
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'db', annotations: { 'nsync.dev/push-to': pushTo } },
    data: { password: b64('one') },
  });
  for (const namespace of [a, b]) {
    const mirror = await secretEventually(namespace, 'db', `the mirror in ${namespace}`);
    assert.equal(mirror.data?.['password'], b64('one'));
    assert.equal(mirror.metadata.labels?.['app.kubernetes.io/managed-by'], 'nsync');
    assert.equal(mirror.metadata.annotations?.['nsync.dev/source'], `${src}/db`);
  }
  await nsync.idle();
  assert.equal(
    await getObject(cluster, 'secrets', other, 'db'),
    undefined,
    'a namespace not selected gets nothing',
  );

  await patchObject(cluster, secretPath(src, 'db'), { data: { password: b64('two'), user: b64('admin') } });
  for (const namespace of [a, b]) {
    await secretEventually(
      namespace,
      'db',
      `the update in ${namespace}`,
      (secret) => secret.data?.['password'] === b64('two') && secret.data['user'] === b64('admin'),
    );
  }
  await patchObject(cluster, secretPath(src, 'db'), { data: { user: null } });
  await secretEventually(
    a,
    'db',
    'a removed key to disappear',
    (secret) => secret.data?.['user'] === undefined,
  );

  assert.equal((await cluster.api('DELETE', secretPath(src, 'db'))).status, 200);
  for (const namespace of [a, b])
    await goneEventually(namespace, 'db', `the mirror in ${namespace} to be deleted`);
});

test('namespaces created later get mirrors; label changes add and remove them', async () => {
  const [src = ''] = await namespaces('src');
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'token', annotations: { 'nsync.dev/push-to-selector': 'mirror=yes' } },
    data: { token: b64('t') },
  });
  const [late = '', unlabelled = ''] = await namespaces(
    { name: 'late', labels: { mirror: 'yes' } },
    'unlabelled',
  );
  await secretEventually(late, 'token', 'a mirror in a namespace created after the source');

  await patchObject(cluster, `/api/v1/namespaces/${unlabelled}`, { metadata: { labels: { mirror: 'yes' } } });
  await secretEventually(unlabelled, 'token', 'a mirror after the namespace was labelled');
  await patchObject(cluster, `/api/v1/namespaces/${late}`, { metadata: { labels: { mirror: null } } });
  await goneEventually(late, 'token', 'the mirror to go when the label goes');
  assert.ok(await getObject(cluster, 'secrets', unlabelled, 'token'), 'the other mirror stays');
});

test('a terminating namespace gets no mirror', async () => {
  const [src = '', doomed = ''] = await namespaces('src', 'doomed');
  // A finalizer on an object inside keeps the namespace Terminating while the test looks.
  await createObject(cluster, 'configmaps', doomed, {
    metadata: { name: 'hold', finalizers: ['nsync.dev/test-hold'] },
  });
  assert.equal((await cluster.api('DELETE', `/api/v1/namespaces/${doomed}`)).status, 200);
  await eventually('the namespace to be Terminating', async () => {
    const answer = await cluster.api<{ status?: { phase?: string } }>('GET', `/api/v1/namespaces/${doomed}`);
    return answer.body.status?.phase === 'Terminating' ? true : undefined;
  });
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'late', annotations: { 'nsync.dev/push-to': `${prefix}-*` } },
    data: { k: b64('v') },
  });
  const [witness = ''] = await namespaces('witness');
  await secretEventually(witness, 'late', 'the mirror in a live namespace (the source was reconciled)');
  await nsync.idle();
  assert.equal(await getObject(cluster, 'secrets', doomed, 'late'), undefined);
  await patchObject(cluster, `/api/v1/namespaces/${doomed}/configmaps/hold`, {
    metadata: { finalizers: null },
  });
});

test('narrowing a source deletes the mirrors that no longer qualify; the source is never a target', async () => {
  const [src = '', keep = '', drop = ''] = await namespaces('src', 'keep', 'drop');
  const created = await createObject(cluster, 'secrets', src, {
    metadata: { name: 'wide', annotations: { 'nsync.dev/push-to': '*' } },
    data: { k: b64('v') },
  });
  await secretEventually(keep, 'wide', 'the mirror in keep');
  await secretEventually(drop, 'wide', 'the mirror in drop');
  const narrowed = await patchObject(cluster, secretPath(src, 'wide'), {
    metadata: { annotations: { 'nsync.dev/push-to': keep } },
  });
  await goneEventually(drop, 'wide', 'the mirror in drop to be deleted');
  assert.ok(await getObject(cluster, 'secrets', keep, 'wide'));
  const source = await getObject(cluster, 'secrets', src, 'wide');
  assert.equal(source?.metadata.uid, created.metadata.uid, 'the source is the same object');
  assert.equal(
    source.metadata.resourceVersion,
    narrowed.metadata.resourceVersion,
    'nsync never wrote to the source',
  );
  assert.equal(source.metadata.labels?.['app.kubernetes.io/managed-by'], undefined);
});

test('a mirror edited or deleted by someone else is restored', async () => {
  const [src = '', app = ''] = await namespaces('src', 'app');
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'cred', annotations: { 'nsync.dev/push-to': app } },
    data: { password: b64('right') },
  });
  const mirror = await secretEventually(app, 'cred', 'the mirror');
  // Twice: the second edit lands on a mirror nsync has already rewritten, whose managedFields it set.
  for (const round of ['first', 'second']) {
    const edited = await cluster.api(
      'PATCH',
      `${secretPath(app, 'cred')}?fieldManager=kubectl-edit`,
      { data: { password: b64('wrong'), extra: b64('x') } },
      'application/merge-patch+json',
    );
    assert.equal(edited.status, 200);
    await secretEventually(
      app,
      'cred',
      `the ${round} edit to be undone`,
      (secret) => secret.data?.['password'] === b64('right') && secret.data['extra'] === undefined,
    );
  }
  // An annotation a user adds to a mirror is kept and costs no write.
  const annotated = await patchObject(cluster, secretPath(app, 'cred'), {
    metadata: { annotations: { note: 'mine' } },
  });
  // Make nsync reconcile this source once more, and wait until it has.
  const before = await reconcileCount();
  await patchObject(cluster, secretPath(src, 'cred'), { metadata: { labels: { touched: 'yes' } } });
  await eventually('another reconcile of the source', async () =>
    (await reconcileCount()) > before &&
    nsync.controller.queue.depth() === 0 &&
    nsync.controller.queue.inFlight() === 0
      ? true
      : undefined,
  );
  const still = await getObject(cluster, 'secrets', app, 'cred');
  assert.equal(still?.metadata.annotations?.['note'], 'mine');
  assert.equal(
    still.metadata.resourceVersion,
    annotated.metadata.resourceVersion,
    'no rewrite for a user annotation',
  );
  assert.equal((await cluster.api('DELETE', secretPath(app, 'cred'))).status, 200);
  const recreated = await secretEventually(
    app,
    'cred',
    'the deleted mirror to be re-created',
    (secret) => secret.metadata.uid !== mirror.metadata.uid,
  );
  assert.equal(recreated.data?.['password'], b64('right'));
});

test('a same-named object nsync does not own is never modified or deleted; the conflict is a Warning Event', async () => {
  const [src = '', mine = '', theirs = ''] = await namespaces('src', 'mine', 'theirs');
  const foreign = await createObject(cluster, 'secrets', theirs, {
    metadata: { name: 'shared', labels: { owner: 'team' } },
    data: { own: b64('theirs') },
  });
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'shared', annotations: { 'nsync.dev/push-to': `${mine},${theirs}` } },
    data: { k: b64('v') },
  });
  await secretEventually(mine, 'shared', 'the mirror where nothing was in the way');
  const events = await eventually('a conflict Event on the source', async () => {
    const found = await eventsAbout(cluster, src, 'shared');
    return found.some((event) => event.reason === 'ConflictWithUnownedObject') ? found : undefined;
  });
  const conflict = events.find((event) => event.reason === 'ConflictWithUnownedObject');
  assert.equal(conflict?.type, 'Warning');
  assert.match(conflict.note, new RegExp(`${theirs}/shared`));
  // Narrowing then deleting the source must not touch the foreign object either.
  await patchObject(cluster, secretPath(src, 'shared'), {
    metadata: { annotations: { 'nsync.dev/push-to': mine } },
  });
  assert.equal((await cluster.api('DELETE', secretPath(src, 'shared'))).status, 200);
  await goneEventually(mine, 'shared', 'the owned mirror to be deleted with its source');
  const after = await getObject(cluster, 'secrets', theirs, 'shared');
  assert.equal(
    after?.metadata.resourceVersion,
    foreign.metadata.resourceVersion,
    'the foreign object was never written',
  );
  assert.equal(after.data?.['own'], b64('theirs'));
});

test('Secret type is preserved; a type change and an immutable mirror are handled by re-creating the mirror', async () => {
  const [src = '', app = ''] = await namespaces('src', 'app');
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'typed', annotations: { 'nsync.dev/push-to': app } },
    type: 'example.com/custom',
    data: { k: b64('v1') },
  });
  const first = await secretEventually(
    app,
    'typed',
    'the mirror',
    (secret) => secret.type === 'example.com/custom',
  );
  // The source's type cannot change in place either: users re-create it with the new type.
  assert.equal((await cluster.api('DELETE', secretPath(src, 'typed'))).status, 200);
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'typed', annotations: { 'nsync.dev/push-to': app } },
    type: 'Opaque',
    data: { k: b64('v2') },
  });
  const retyped = await secretEventually(
    app,
    'typed',
    'the mirror with the new type',
    (secret) => secret.type === 'Opaque' && secret.data?.['k'] === b64('v2'),
  );
  assert.notEqual(retyped.metadata.uid, first.metadata.uid);

  await cluster.api('PATCH', secretPath(app, 'typed'), { immutable: true }, 'application/merge-patch+json');
  await patchObject(cluster, secretPath(src, 'typed'), { data: { k: b64('v3') } });
  await secretEventually(
    app,
    'typed',
    'the immutable mirror to be re-created with the update',
    (secret) => secret.data?.['k'] === b64('v3'),
  );
});

test('a cert-manager style kubernetes.io/tls Secret and its renewal reach every mirror', async () => {
  const [src = '', a = '', b = '', c = ''] = await namespaces('cert-manager', 'a', 'b', 'c');
  const issue = (serial: string): Record<string, string> => ({
    'tls.crt': b64(`-----BEGIN CERTIFICATE-----\n${serial}\n-----END CERTIFICATE-----\n`),
    'tls.key': b64(`-----BEGIN PRIVATE KEY-----\n${serial}\n-----END PRIVATE KEY-----\n`),
    'ca.crt': b64('ca'),
  });
  await createObject(cluster, 'secrets', src, {
    metadata: {
      name: 'wildcard-tls',
      labels: { 'controller.cert-manager.io/fao': 'true' },
      annotations: {
        'cert-manager.io/certificate-name': 'wildcard',
        'cert-manager.io/issuer-name': 'letsencrypt',
        'reflector.v1.k8s.emberstack.com/reflection-allowed': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-auto-enabled': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-allowed-namespaces': `${a},${b},${c}`,
      },
    },
    type: 'kubernetes.io/tls',
    data: issue('serial-1'),
  });
  for (const namespace of [a, b, c]) {
    const mirror = await secretEventually(namespace, 'wildcard-tls', `the TLS mirror in ${namespace}`);
    assert.equal(mirror.type, 'kubernetes.io/tls');
    assert.equal(
      mirror.metadata.annotations?.['reflector.v1.k8s.emberstack.com/reflects'],
      `${src}/wildcard-tls`,
    );
    assert.equal(
      (mirror.metadata.annotations ?? {})['cert-manager.io/certificate-name'],
      undefined,
      'reflector copies no annotations',
    );
  }
  await patchObject(cluster, secretPath(src, 'wildcard-tls'), { data: issue('serial-2') });
  for (const namespace of [a, b, c]) {
    await secretEventually(
      namespace,
      'wildcard-tls',
      `the renewal in ${namespace}`,
      (secret) => secret.data?.['tls.crt'] === issue('serial-2')['tls.crt'],
    );
  }
});

test('ConfigMap data and binaryData are mirrored', async () => {
  const [src = '', app = ''] = await namespaces('src', 'app');
  const binary = Buffer.from([0, 1, 2, 254, 255]).toString('base64');
  await createObject(cluster, 'configmaps', src, {
    metadata: { name: 'settings', annotations: { 'nsync.dev/push-to': app } },
    data: { 'app.yaml': 'replicas: 3\n' },
    binaryData: { 'blob.bin': binary },
  });
  const mirror = await eventually('the ConfigMap mirror', () =>
    getObject(cluster, 'configmaps', app, 'settings'),
  );
  assert.equal(mirror.data?.['app.yaml'], 'replicas: 3\n');
  assert.equal(mirror.binaryData?.['blob.bin'], binary);
});

test('pull without the source’s consent does nothing but report it; with consent it fills the target', async () => {
  const [src = '', allowed = '', denied = ''] = await namespaces('src', 'allowed', 'denied');
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'registry', annotations: { 'nsync.dev/pull-allowed': allowed } },
    data: { token: b64('secret-token') },
  });
  const refused = await createObject(cluster, 'secrets', denied, {
    metadata: { name: 'wants', annotations: { 'nsync.dev/pull-from': `${src}/registry` } },
    data: { own: b64('mine') },
  });
  await createObject(cluster, 'secrets', allowed, {
    metadata: { name: 'wants', annotations: { 'nsync.dev/pull-from': `${src}/registry` } },
    data: { own: b64('mine') },
  });
  const filled = await secretEventually(
    allowed,
    'wants',
    'the consented pull to be filled',
    (secret) => secret.data?.['token'] === b64('secret-token'),
  );
  assert.equal(filled.data?.['own'], b64('mine'), 'the target keeps its own keys');
  const events = await eventually('a PullNotAllowed Event on the refused target', async () => {
    const found = await eventsAbout(cluster, denied, 'wants');
    return found.some((event) => event.reason === 'PullNotAllowed') ? found : undefined;
  });
  assert.ok(
    events.every(
      (event) => !event.note.includes('secret-token') && !event.note.includes(b64('secret-token')),
    ),
  );
  const untouched = await getObject(cluster, 'secrets', denied, 'wants');
  assert.equal(
    untouched?.metadata.resourceVersion,
    refused.metadata.resourceVersion,
    'the refused target was not written',
  );
  assert.equal(untouched.data?.['token'], undefined);
});

test('no secret value appears in nsync’s logs', () => {
  const text = nsync.logs.join('\n');
  assert.ok(nsync.logs.length > 0, 'nsync logged something');
  for (const value of ['secret-token', 'right', 'serial-2']) {
    assert.ok(!text.includes(value) && !text.includes(b64(value)), `the logs do not contain ${value}`);
  }
});

test('hostile patterns disable only their own source, with an Event and a metric; others keep syncing', async () => {
  const [src = '', app = ''] = await namespaces('src', 'app');
  // 63-character namespace names against a catastrophic-backtracking pattern: RE2 stays linear.
  const [long = ''] = await namespaces(`l${'a'.repeat(63 - `${prefix}-${String(counter + 1)}-l`.length)}`);
  assert.equal(long.length, 63);
  await createObject(cluster, 'secrets', src, {
    metadata: {
      name: 'catastrophic',
      annotations: {
        'reflector.v1.k8s.emberstack.com/reflection-allowed': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-auto-enabled': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-allowed-namespaces': `(a+)+$,${long}`,
      },
    },
    data: { k: b64('v') },
  });
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'invalid', annotations: { 'nsync.dev/push-to': 'Bad_Glob[' } },
    data: { k: b64('v') },
  });
  await createObject(cluster, 'secrets', src, {
    metadata: {
      name: 'lookahead',
      annotations: {
        'reflector.v1.k8s.emberstack.com/reflection-allowed': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-auto-enabled': 'true',
        'reflector.v1.k8s.emberstack.com/reflection-allowed-namespaces': '(?=x).*',
      },
    },
    data: { k: b64('v') },
  });
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'healthy', annotations: { 'nsync.dev/push-to': app } },
    data: { k: b64('v') },
  });
  await eventually('the healthy source to sync', () => getObject(cluster, 'secrets', app, 'healthy'));
  await eventually('the catastrophic-pattern source to sync to the 63-character namespace', () =>
    getObject(cluster, 'secrets', long, 'catastrophic'),
  );
  for (const name of ['invalid', 'lookahead']) {
    const events = await eventually(`an InvalidAnnotation Event on ${name}`, async () => {
      const found = await eventsAbout(cluster, src, name);
      return found.some((event) => event.reason === 'InvalidAnnotation') ? found : undefined;
    });
    assert.equal(events.find((event) => event.reason === 'InvalidAnnotation')?.type, 'Warning');
  }
  const metrics = await nsync.metrics.registry.getSingleMetricAsString('nsync_rule_problems_total');
  assert.match(metrics, /nsync_rule_problems_total\{dialect="native"\} [1-9]/);
  assert.match(metrics, /nsync_rule_problems_total\{dialect="reflector"\} [1-9]/);
  await nsync.idle();
  assert.equal(await getObject(cluster, 'secrets', app, 'invalid'), undefined);
});
