/**
 * A hostile tenant: a service account with full rights on Secrets and ConfigMaps in its own
 * namespace and nothing else. nsync holds rights everywhere, so it must never become the
 * tenant's way around RBAC (docs/security.md). The tenant tries, in every dialect, to:
 *
 * - pull another team's Secret or ConfigMap without that source's consent;
 * - make nsync overwrite or delete an object nsync does not own, by same-named push sources, a
 *   target-name, forged ownership markers of every dialect, and a replicator-replica look-alike;
 * - push into namespaces the operator excluded or that opted out;
 * - make a secret value appear in nsync's logs, Events or metrics.
 *
 * Every tenant action goes through the tenant's own token; the victim's objects are created by
 * the admin, as another team would.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  b64,
  createNamespaces,
  createObject,
  eventsAbout,
  eventually,
  getObject,
  sharedCluster,
  type TestObject,
} from '../support/cluster.ts';
import { startNsync, type RunningNsync } from '../support/nsync.ts';
import { assertUntouched, plantUnowned, Teardown, type Planted } from '../faults/helpers.ts';

const cluster = sharedCluster();
const prefix = `st${randomBytes(2).toString('hex')}`;
const tenant = `${prefix}-tenant`;
const victim = `${prefix}-victim`;
/** A third team's namespace: the control that nsync does act where it should. */
const other = `${prefix}-other`;
/** A namespace nothing is in the way in, for positive controls of push. */
const fresh = `${prefix}-fresh`;
const optedOut = `${prefix}-optout`;
/** Outside nsync's `--exclude-namespaces=*,!<prefix>-*`: excluded by the operator. */
const excluded = `${prefix}x-excluded`;
const R = 'reflector.v1.k8s.emberstack.com/';
const P = 'replicator.v1.mittwald.de/';
const K = 'kubed.appscode.com/';
const teardown = new Teardown();
let nsync: RunningNsync;
let token = '';
/** Every secret value of the victim (and of the tenant), to scan logs, Events and metrics for. */
const secrets: string[] = [];

function secretValue(label: string): string {
  const value = `${label}-${randomBytes(6).toString('hex')}`;
  secrets.push(value);
  return value;
}

/** A request with the tenant's token. */
async function asTenant(
  method: string,
  path: string,
  body?: unknown,
  contentType?: string,
): Promise<{ status: number; body: unknown }> {
  return cluster.apiAs(token, method, path, body, contentType);
}

/** Creates an object as the tenant, in the tenant's namespace; fails on anything but 201. */
async function tenantCreates(plural: 'secrets' | 'configmaps', body: object): Promise<TestObject> {
  const answer = await cluster.apiAs<TestObject>(
    token,
    'POST',
    `/api/v1/namespaces/${tenant}/${plural}`,
    body,
  );
  assert.equal(answer.status, 201, `the tenant may create in its namespace: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** Content of the kind's data map for a value. */
function content(plural: 'secrets' | 'configmaps', key: string, value: string): Record<string, string> {
  return { [key]: plural === 'secrets' ? b64(value) : value };
}

async function eventEventually(
  namespace: string,
  name: string,
  reason: string,
): Promise<{ note: string; type: string }> {
  const events = await eventually(`a ${reason} Event on ${namespace}/${name}`, async () => {
    const found = await eventsAbout(cluster, namespace, name);
    return found.some((event) => event.reason === reason) ? found : undefined;
  });
  const event = events.find((candidate) => candidate.reason === reason);
  assert.ok(event);
  return event;
}

before(async () => {
  await createNamespaces(cluster, [
    { name: tenant },
    { name: victim },
    { name: other },
    { name: fresh },
    { name: optedOut, labels: { 'nsync.dev/opt-out': 'true' } },
    { name: excluded },
  ]);
  const identity = await cluster.serviceAccountIdentity(tenant, 'tenant');
  token = identity.token;
  const role = await cluster.api('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${tenant}/roles`, {
    metadata: { name: 'tenant-data' },
    rules: [
      {
        apiGroups: [''],
        resources: ['secrets', 'configmaps'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      },
    ],
  });
  assert.equal(role.status, 201);
  const binding = await cluster.api(
    'POST',
    `/apis/rbac.authorization.k8s.io/v1/namespaces/${tenant}/rolebindings`,
    {
      metadata: { name: 'tenant-data' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tenant-data' },
      subjects: [{ kind: 'ServiceAccount', name: 'tenant', namespace: tenant }],
    },
  );
  assert.equal(binding.status, 201);
  await eventually('the tenant’s Role to take effect', async () =>
    (await asTenant('GET', `/api/v1/namespaces/${tenant}/secrets`)).status === 200 ? true : undefined,
  );
  nsync = teardown.add(await startNsync(cluster, [`${prefix}-*`]), (started) => started.stop());
});

after(() => teardown.run());

test('the tenant’s own rights end at its namespace (the boundary nsync must not open)', async () => {
  assert.equal((await asTenant('GET', `/api/v1/namespaces/${victim}/secrets`)).status, 403);
  assert.equal((await asTenant('GET', `/api/v1/namespaces/${victim}/configmaps`)).status, 403);
  const write = await asTenant('POST', `/api/v1/namespaces/${other}/secrets`, { metadata: { name: 'x' } });
  assert.equal(write.status, 403);
  assert.equal(
    (await asTenant('PATCH', `/api/v1/namespaces/${tenant}`, {})).status,
    403,
    'nor relabel namespaces',
  );
});

test('pulling another team’s Secret or ConfigMap needs that source’s consent, in every dialect', async () => {
  const pulls = {
    native: (ref: string) => ({ 'nsync.dev/pull-from': ref }),
    reflector: (ref: string) => ({ [`${R}reflects`]: ref }),
    replicator: (ref: string) => ({ [`${P}replicate-from`]: ref }),
  };
  const refused: { plural: 'secrets' | 'configmaps'; created: TestObject; stolen: string }[] = [];
  const controls: { plural: 'secrets' | 'configmaps'; name: string; value: string }[] = [];
  const sources: Planted[] = [];
  for (const plural of ['secrets', 'configmaps'] as const) {
    // One source gives no consent at all; the other consents, in every dialect, to `other` only.
    const silentValue = secretValue(`victim-${plural}-silent`);
    const silent = await createObject(cluster, plural, victim, {
      metadata: { name: 'silent' },
      data: content(plural, 'v', silentValue),
    });
    const sharedValue = secretValue(`victim-${plural}-shared`);
    const shared = await createObject(cluster, plural, victim, {
      metadata: {
        name: 'shared',
        annotations: {
          'nsync.dev/pull-allowed': other,
          [`${R}reflection-allowed`]: 'true',
          [`${R}reflection-allowed-namespaces`]: other,
          [`${P}replication-allowed`]: 'true',
          [`${P}replication-allowed-namespaces`]: other,
        },
      },
      data: content(plural, 'v', sharedValue),
    });
    for (const object of [silent, shared]) {
      const { namespace, name, uid, resourceVersion } = object.metadata;
      sources.push({ plural, namespace, name, uid, resourceVersion });
    }
    for (const [dialect, annotate] of Object.entries(pulls)) {
      for (const [source, value] of [
        ['silent', silentValue],
        ['shared', sharedValue],
      ] as const) {
        const created = await tenantCreates(plural, {
          metadata: { name: `steal-${dialect}-${source}`, annotations: annotate(`${victim}/${source}`) },
          data: content(plural, 'own', 'tenant-own'),
        });
        refused.push({ plural, created, stolen: value });
      }
      // The control: the namespace the source consents to is filled, in the same dialect.
      await createObject(cluster, plural, other, {
        metadata: { name: `granted-${dialect}`, annotations: annotate(`${victim}/shared`) },
      });
      controls.push({ plural, name: `granted-${dialect}`, value: sharedValue });
    }
  }
  for (const control of controls) {
    await eventually(`${control.plural} ${other}/${control.name} filled (the consented pull)`, async () => {
      const object = await getObject(cluster, control.plural, other, control.name);
      return object?.data?.['v'] === content(control.plural, 'v', control.value)['v'] ? true : undefined;
    });
  }
  for (const { plural, created, stolen } of refused) {
    const event = await eventEventually(tenant, created.metadata.name, 'PullNotAllowed');
    assert.equal(event.type, 'Warning');
    const now = await getObject(cluster, plural, tenant, created.metadata.name);
    assert.equal(
      now?.metadata.resourceVersion,
      created.metadata.resourceVersion,
      `${plural} ${created.metadata.name} never written`,
    );
    assert.ok(!JSON.stringify(now).includes(stolen) && !JSON.stringify(now).includes(b64(stolen)));
  }
  for (const source of sources) await assertUntouched(cluster, source);
});

test('same-named push sources and target-name never overwrite another team’s objects, in any dialect', async () => {
  const pushes = {
    native: { 'nsync.dev/push-to': '*' },
    reflector: { [`${R}reflection-allowed`]: 'true', [`${R}reflection-auto-enabled`]: 'true' },
    replicator: { [`${P}replicate-to`]: '.*' },
    kubed: { [`${K}sync`]: '' },
  };
  const planted: Planted[] = [];
  for (const dialect of Object.keys(pushes)) {
    planted.push(await plantUnowned(cluster, 'secrets', victim, `creds-${dialect}`));
    planted.push(await plantUnowned(cluster, 'secrets', other, `creds-${dialect}`));
  }
  planted.push(await plantUnowned(cluster, 'configmaps', victim, 'settings'));
  for (const [dialect, annotations] of Object.entries(pushes)) {
    await tenantCreates('secrets', {
      metadata: { name: `creds-${dialect}`, annotations },
      data: { v: b64('tenant-controlled') },
    });
  }
  await tenantCreates('configmaps', {
    metadata: { name: 'settings', annotations: pushes.replicator },
    data: { v: 'tenant-controlled' },
  });
  // A different name, aimed at another team's object with nsync.dev/target-name.
  await tenantCreates('secrets', {
    metadata: {
      name: 'innocent',
      annotations: { 'nsync.dev/push-to': '*', 'nsync.dev/target-name': 'creds-native' },
    },
    data: { v: b64('tenant-controlled') },
  });
  for (const dialect of Object.keys(pushes)) {
    // The control: where nothing is in the way, the push works.
    await eventually(`the ${dialect} push where nothing is in the way`, () =>
      getObject(cluster, 'secrets', fresh, `creds-${dialect}`),
    );
    const event = await eventEventually(tenant, `creds-${dialect}`, 'ConflictWithUnownedObject');
    assert.match(event.note, new RegExp(`${victim}/creds-${dialect}`));
  }
  await eventEventually(tenant, 'innocent', 'ConflictWithUnownedObject');
  await eventEventually(tenant, 'settings', 'ConflictWithUnownedObject');
  for (const object of planted) await assertUntouched(cluster, object);
});

test('another source’s mirror is never taken over, nor deleted when the usurper goes', async () => {
  const value = secretValue('victim-ca');
  await createObject(cluster, 'secrets', victim, {
    metadata: { name: 'ca', annotations: { 'nsync.dev/push-to': other } },
    data: { v: b64(value) },
  });
  const mirror = await eventually('the victim’s mirror', () => getObject(cluster, 'secrets', other, 'ca'));
  await tenantCreates('secrets', {
    metadata: { name: 'ca', annotations: { 'nsync.dev/push-to': `${other},${fresh}` } },
    data: { v: b64('tenant-controlled') },
  });
  await eventually('the usurper’s mirror where nothing is in the way', () =>
    getObject(cluster, 'secrets', fresh, 'ca'),
  );
  const event = await eventEventually(tenant, 'ca', 'ConflictWithOtherSource');
  assert.match(event.note, new RegExp(`${victim}/ca`));
  assert.equal((await asTenant('DELETE', `/api/v1/namespaces/${tenant}/secrets/ca`)).status, 200);
  await eventually('the usurper’s own mirror to go with it', async () =>
    (await getObject(cluster, 'secrets', fresh, 'ca')) === undefined ? true : undefined,
  );
  const after = await getObject(cluster, 'secrets', other, 'ca');
  assert.equal(after?.metadata.uid, mirror.metadata.uid);
  assert.equal(
    after.metadata.resourceVersion,
    mirror.metadata.resourceVersion,
    'the victim’s mirror was never written',
  );
  assert.equal(after.metadata.annotations?.['nsync.dev/source'], `${victim}/ca`);
});

test('forged ownership markers (nsync, reflector, kubed) on the tenant’s own objects: nsync writes nowhere else, copies nothing', async () => {
  const value = secretValue('victim-token');
  const source = await createObject(cluster, 'secrets', victim, {
    metadata: { name: 'token', annotations: { 'nsync.dev/push-to': other } },
    data: { v: b64(value) },
  });
  const mirror = await eventually('the victim’s mirror', () => getObject(cluster, 'secrets', other, 'token'));
  const forgeries: Record<string, { labels?: Record<string, string>; annotations?: Record<string, string> }> =
    {
      'forged-native': {
        labels: { 'app.kubernetes.io/managed-by': 'nsync' },
        annotations: { 'nsync.dev/source': `${victim}/token`, 'nsync.dev/source-uid': source.metadata.uid },
      },
      'forged-reflector': {
        annotations: { [`${R}reflects`]: `${victim}/token`, [`${R}auto-reflects`]: 'True' },
      },
      'forged-kubed': {
        labels: { [`${K}origin.name`]: 'token', [`${K}origin.namespace`]: victim },
        annotations: {
          [`${K}origin`]: JSON.stringify({
            kind: 'Secret',
            name: 'token',
            namespace: victim,
            uid: source.metadata.uid,
          }),
        },
      },
      // Named like the victim's mirrors, so a confused planner would think it is the one in `tenant`.
      token: {
        labels: { 'app.kubernetes.io/managed-by': 'nsync' },
        annotations: { 'nsync.dev/source': `${victim}/token` },
      },
    };
  for (const [name, markers] of Object.entries(forgeries)) {
    await tenantCreates('secrets', { metadata: { name, ...markers }, data: { v: b64('tenant-data') } });
  }
  // nsync sees forged mirrors of a source that does not push here: orphans, which it may delete —
  // they are the tenant's own objects. It must never fill them with the victim's data.
  for (const name of Object.keys(forgeries)) {
    await eventually(`${tenant}/${name} deleted as an orphan or left alone`, async () => {
      const now = await getObject(cluster, 'secrets', tenant, name);
      assert.ok(!JSON.stringify(now ?? {}).includes(b64(value)), `the victim's data reached ${name}`);
      return now === undefined ? true : undefined;
    });
  }
  const sourceNow = await getObject(cluster, 'secrets', victim, 'token');
  assert.equal(
    sourceNow?.metadata.resourceVersion,
    source.metadata.resourceVersion,
    'the victim’s source untouched',
  );
  const mirrorNow = await getObject(cluster, 'secrets', other, 'token');
  assert.equal(mirrorNow?.metadata.uid, mirror.metadata.uid, 'the victim’s mirror kept');
  assert.equal(mirrorNow.metadata.resourceVersion, mirror.metadata.resourceVersion, 'and never written');
});

test('a look-alike of a kubernetes-replicator replica in another team’s namespace is never overwritten by the tenant’s source', async () => {
  // What replicator left behind for the victim before the migration: a replica of victim/legacy.
  const replica = await createObject(cluster, 'secrets', other, {
    metadata: {
      name: 'legacy',
      annotations: {
        [`${P}replicated-at`]: '2025-01-01T00:00:00Z',
        [`${P}replicated-from-version`]: '12345',
        [`${P}replicated-keys`]: 'v',
      },
    },
    data: { v: b64(secretValue('victim-legacy')) },
  });
  await tenantCreates('secrets', {
    metadata: { name: 'legacy', annotations: { [`${P}replicate-to`]: `${other},${fresh}` } },
    data: { v: b64('tenant-controlled') },
  });
  await eventually('the tenant’s push where nothing is in the way', () =>
    getObject(cluster, 'secrets', fresh, 'legacy'),
  );
  await eventually(
    'the tenant’s source to be judged: a conflict reported, or the replica written',
    async () => {
      const events = await eventsAbout(cluster, tenant, 'legacy');
      const now = await getObject(cluster, 'secrets', other, 'legacy');
      return events.some((event) => event.reason === 'ConflictWithUnownedObject') ||
        now?.metadata.resourceVersion !== replica.metadata.resourceVersion
        ? true
        : undefined;
    },
  );
  await assertUntouched(cluster, {
    plural: 'secrets',
    namespace: other,
    name: 'legacy',
    uid: replica.metadata.uid,
    resourceVersion: replica.metadata.resourceVersion,
  });
  await eventEventually(tenant, 'legacy', 'ConflictWithUnownedObject');
});

test('the tenant cannot push into namespaces the operator excluded or that opted out, in any dialect', async () => {
  const pushes = {
    native: { 'nsync.dev/push-to': '*' },
    'native-selector': { 'nsync.dev/push-to-selector': 'kubernetes.io/metadata.name' },
    reflector: { [`${R}reflection-allowed`]: 'true', [`${R}reflection-auto-enabled`]: 'true' },
    replicator: { [`${P}replicate-to`]: '.*,*' },
    kubed: { [`${K}sync`]: '' },
  };
  const lateOptOut = `${prefix}-late-optout`;
  await createNamespaces(cluster, [{ name: lateOptOut }]);
  for (const [dialect, annotations] of Object.entries(pushes)) {
    await tenantCreates('configmaps', {
      metadata: { name: `everywhere-${dialect}`, annotations },
      data: { v: 'x' },
    });
  }
  for (const dialect of Object.keys(pushes)) {
    await eventually(`the ${dialect} push into a namespace that accepts it`, () =>
      getObject(cluster, 'configmaps', fresh, `everywhere-${dialect}`),
    );
    await eventually(`the ${dialect} push into the namespace that opts out later`, () =>
      getObject(cluster, 'configmaps', lateOptOut, `everywhere-${dialect}`),
    );
  }
  // A namespace that opts out later loses the mirrors it had.
  const labelled = await cluster.api(
    'PATCH',
    `/api/v1/namespaces/${lateOptOut}`,
    { metadata: { labels: { 'nsync.dev/opt-out': 'true' } } },
    'application/merge-patch+json',
  );
  assert.equal(labelled.status, 200);
  for (const dialect of Object.keys(pushes)) {
    await eventually(`the ${dialect} mirror to leave the namespace that opted out`, async () =>
      (await getObject(cluster, 'configmaps', lateOptOut, `everywhere-${dialect}`)) === undefined
        ? true
        : undefined,
    );
    for (const namespace of [optedOut, excluded]) {
      assert.equal(
        await getObject(cluster, 'configmaps', namespace, `everywhere-${dialect}`),
        undefined,
        `no ${dialect} mirror in ${namespace}`,
      );
    }
  }
  const answer = await cluster.api<{ items: TestObject[] }>(
    'GET',
    `/api/v1/namespaces/${optedOut}/configmaps`,
  );
  assert.deepEqual(
    answer.body.items.filter((item) => item.metadata.labels?.['app.kubernetes.io/managed-by'] === 'nsync'),
    [],
  );
});

test('a consented pull works, and no secret value ever appears in nsync’s logs, Events or metrics', async () => {
  const value = secretValue('victim-granted');
  await createObject(cluster, 'secrets', victim, {
    metadata: { name: 'granted', annotations: { 'nsync.dev/pull-allowed': tenant } },
    data: { v: b64(value) },
  });
  await tenantCreates('secrets', {
    metadata: { name: 'granted-copy', annotations: { 'nsync.dev/pull-from': `${victim}/granted` } },
  });
  await eventually('the consented pull', async () => {
    const copy = await cluster.apiAs<TestObject>(
      token,
      'GET',
      `/api/v1/namespaces/${tenant}/secrets/granted-copy`,
    );
    return copy.body.data?.['v'] === b64(value) ? true : undefined;
  });
  // The tenant tries to have values echoed: a key list naming them, a pull of a missing key.
  await tenantCreates('secrets', {
    metadata: {
      name: 'echo',
      annotations: { 'nsync.dev/pull-from': `${victim}/granted`, 'nsync.dev/keys': `v,${secrets[0] ?? 'x'}` },
    },
  });
  await eventually('an Event about the echo attempt, or its fill', async () => {
    const events = await eventsAbout(cluster, tenant, 'echo');
    const copy = await getObject(cluster, 'secrets', tenant, 'echo');
    return events.length > 0 || copy?.data !== undefined ? true : undefined;
  });

  const texts: string[] = [nsync.logs.join('\n'), await nsync.metrics.registry.metrics()];
  for (const namespace of [tenant, victim, other, fresh, optedOut, excluded]) {
    const events = await cluster.api<{ items: unknown[] }>(
      'GET',
      `/apis/events.k8s.io/v1/namespaces/${namespace}/events`,
    );
    texts.push(JSON.stringify(events.body.items));
  }
  const text = texts.join('\n');
  assert.ok(nsync.logs.length > 0 && text.includes('PullNotAllowed'), 'the scan saw the logs and the Events');
  for (const secret of secrets) {
    assert.ok(!text.includes(secret), `${secret} appears in logs, Events or metrics`);
    assert.ok(!text.includes(b64(secret)), `${secret} (base64) appears in logs, Events or metrics`);
  }
});

test('a source in a namespace the operator excluded is never read, even when it consents to everyone', async () => {
  const value = secretValue('excluded-system');
  await createObject(cluster, 'secrets', excluded, {
    metadata: {
      name: 'system',
      annotations: { 'nsync.dev/pull-allowed': '*', [`${R}reflection-allowed`]: 'true' },
    },
    data: { v: b64(value) },
  });
  const native = await tenantCreates('secrets', {
    metadata: { name: 'from-excluded', annotations: { 'nsync.dev/pull-from': `${excluded}/system` } },
  });
  const reflected = await tenantCreates('secrets', {
    metadata: { name: 'from-excluded-reflector', annotations: { [`${R}reflects`]: `${excluded}/system` } },
  });
  // The control, created after them: a pull of a consenting source in a namespace nsync serves.
  const control = secretValue('victim-control');
  await createObject(cluster, 'secrets', victim, {
    metadata: { name: 'control', annotations: { 'nsync.dev/pull-allowed': tenant } },
    data: { v: b64(control) },
  });
  await tenantCreates('secrets', {
    metadata: { name: 'control-copy', annotations: { 'nsync.dev/pull-from': `${victim}/control` } },
  });
  await eventually('the control pull to be filled', async () => {
    const copy = await getObject(cluster, 'secrets', tenant, 'control-copy');
    return copy?.data?.['v'] === b64(control) ? true : undefined;
  });
  for (const target of [native, reflected]) {
    const now = await getObject(cluster, 'secrets', tenant, target.metadata.name);
    assert.equal(now?.metadata.resourceVersion, target.metadata.resourceVersion, 'never written');
    assert.equal(now.data, undefined);
    const refused = await eventEventually(tenant, target.metadata.name, 'PullRefused');
    assert.match(refused.note, new RegExp(`Namespace ${excluded} is excluded by the operator`));
  }
});

test('the tenant, as a source, cannot delete or empty another team’s pull target', async () => {
  const value = secretValue('tenant-published');
  await tenantCreates('secrets', {
    metadata: { name: 'published', annotations: { 'nsync.dev/pull-allowed': other } },
    data: { v: b64(value) },
  });
  const target = await createObject(cluster, 'secrets', other, {
    metadata: { name: 'subscriber', annotations: { 'nsync.dev/pull-from': `${tenant}/published` } },
    data: { own: b64('theirs') },
  });
  await eventually('the subscriber to be filled', async () => {
    const now = await getObject(cluster, 'secrets', other, 'subscriber');
    return now?.data?.['v'] === b64(value) ? true : undefined;
  });
  assert.equal((await asTenant('DELETE', `/api/v1/namespaces/${tenant}/secrets/published`)).status, 200);
  await eventEventually(other, 'subscriber', 'SourceMissing');
  const now = await getObject(cluster, 'secrets', other, 'subscriber');
  assert.equal(now?.metadata.uid, target.metadata.uid, 'not deleted');
  assert.deepEqual(now.data, { own: b64('theirs'), v: b64(value) }, 'not emptied: it keeps its last data');
});

test('the tenant, as a source, cannot overwrite or remove the keys a pull target has of its own', async () => {
  await tenantCreates('secrets', {
    metadata: { name: 'feed', annotations: { 'nsync.dev/pull-allowed': other } },
    data: { feed: b64('tenant-feed') },
  });
  await createObject(cluster, 'secrets', other, {
    metadata: { name: 'consumer', annotations: { 'nsync.dev/pull-from': `${tenant}/feed` } },
    data: { password: b64('their-own-password') },
  });
  await eventually('the consumer to be filled', async () => {
    const now = await getObject(cluster, 'secrets', other, 'consumer');
    return now?.data?.['feed'] === b64('tenant-feed') ? true : undefined;
  });
  // The tenant adds a key named like the consumer's own (and changes its feed, to see when
  // nsync has processed that version).
  const patched = await asTenant(
    'PATCH',
    `/api/v1/namespaces/${tenant}/secrets/feed`,
    { data: { password: b64('tenant-chosen'), feed: b64('tenant-feed-2') } },
    'application/merge-patch+json',
  );
  assert.equal(patched.status, 200);
  const consumer = await eventually('the consumer to get the new feed', async () => {
    const now = await getObject(cluster, 'secrets', other, 'consumer');
    return now?.data?.['feed'] === b64('tenant-feed-2') ? now : undefined;
  });
  assert.equal(
    consumer.data?.['password'],
    b64('their-own-password'),
    'the consumer’s own key was overwritten',
  );
  const kept = await eventEventually(other, 'consumer', 'OwnKeysKept');
  assert.equal(kept.type, 'Warning');
  assert.match(kept.note, /keeps its own value for "password"/);
  // The tenant drops the key again: the consumer's own value is not removed with it.
  const dropped = await asTenant(
    'PATCH',
    `/api/v1/namespaces/${tenant}/secrets/feed`,
    { data: { password: null, feed: b64('tenant-feed-3') } },
    'application/merge-patch+json',
  );
  assert.equal(dropped.status, 200);
  const after = await eventually('the consumer to get the third feed', async () => {
    const now = await getObject(cluster, 'secrets', other, 'consumer');
    return now?.data?.['feed'] === b64('tenant-feed-3') ? now : undefined;
  });
  assert.equal(after.data?.['password'], b64('their-own-password'), 'the consumer’s own key was removed');
});

// Keep this test last: it spends the instance's whole Event budget for a minute.
test('a tenant flooding invalid annotations cannot silence the warnings and metrics of another team', async () => {
  // Well over a minute's budget, as fast as the tenant can write them.
  for (let i = 0; i < 130; i += 1) {
    await tenantCreates('secrets', {
      metadata: { name: `flood-${String(i)}`, annotations: { 'nsync.dev/push-to': 'Bad_Glob[' } },
    });
  }
  const before = await nsync.metrics.registry.getSingleMetricAsString('nsync_rule_problems_total');
  const victimObject = await createObject(cluster, 'secrets', victim, {
    metadata: { name: 'typo', annotations: { 'nsync.dev/push-to': 'Team-A' } },
    data: { v: b64('victim') },
  });
  const event = await eventually(
    'the victim’s InvalidAnnotation Event',
    async () => {
      const found = await eventsAbout(cluster, victim, victimObject.metadata.name);
      return found.find((candidate) => candidate.reason === 'InvalidAnnotation');
    },
    { timeoutMs: 8_000 },
  );
  assert.equal(event.type, 'Warning');
  assert.notEqual(
    await nsync.metrics.registry.getSingleMetricAsString('nsync_rule_problems_total'),
    before,
    'the victim’s problem was counted',
  );
});
