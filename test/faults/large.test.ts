/**
 * Content at the edges of what the API server stores: a Secret of 1 MiB (the Secret size limit,
 * close to etcd's request limit once metadata is added), a Secret with 5,000 keys, and ConfigMap
 * binary data with every byte value. Each is pushed and pulled, updated, and must arrive exactly.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  createNamespaces,
  createObject,
  eventually,
  getObject,
  patchObject,
  sharedCluster,
  type TestObject,
} from '../support/cluster.ts';
import { startNsync, type RunningNsync } from '../support/nsync.ts';
import { Teardown } from './helpers.ts';

const cluster = sharedCluster();
const prefix = `fl${randomBytes(2).toString('hex')}`;
const teardown = new Teardown();
let nsync: RunningNsync;
let counter = 0;

before(async () => {
  nsync = teardown.add(await startNsync(cluster, [`${prefix}-*`]), (started) => started.stop());
});

after(() => teardown.run());

async function namespaces(...suffixes: string[]): Promise<string[]> {
  counter += 1;
  return createNamespaces(
    cluster,
    suffixes.map((suffix) => ({ name: `${prefix}-${String(counter)}-${suffix}` })),
  );
}

/** A short fingerprint of a content map, so a mismatch message does not print a megabyte. */
function fingerprint(map: Readonly<Record<string, string>> | undefined): string {
  const entries = Object.entries(map ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${String(entries.length)} keys, sha256 ${createHash('sha256').update(JSON.stringify(entries)).digest('hex')}`;
}

/** Waits until an object's data (and binaryData) equal the expected maps, keeping `own` keys too. */
async function contentEventually(
  plural: 'secrets' | 'configmaps',
  namespace: string,
  name: string,
  expected: { data?: Record<string, string>; binaryData?: Record<string, string> },
  what: string,
): Promise<TestObject> {
  let last = 'absent';
  try {
    return await eventually(
      what,
      async () => {
        const object = await getObject(cluster, plural, namespace, name);
        if (object === undefined) return undefined;
        last = `data ${fingerprint(object.data)}, binaryData ${fingerprint(object.binaryData)}`;
        const same =
          fingerprint(object.data) === fingerprint(expected.data) &&
          fingerprint(object.binaryData) === fingerprint(expected.binaryData);
        return same ? object : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  } catch (error) {
    throw new Error(
      `${what}: expected data ${fingerprint(expected.data)}, binaryData ${fingerprint(expected.binaryData)}; last seen ${last}`,
      { cause: error },
    );
  }
}

/** The largest Secret the API server accepts: 1 MiB of values. */
function oneMebibyte(): Record<string, string> {
  return {
    'blob.bin': randomBytes(1024 * 1024 - 64).toString('base64'),
    small: randomBytes(16).toString('base64'),
  };
}

test('a 1 MiB Secret is pushed and pulled, and its update arrives', async () => {
  const [src = '', a = '', b = '', puller = ''] = await namespaces('src', 'a', 'b', 'pull');
  let data = oneMebibyte();
  await createObject(cluster, 'secrets', src, {
    metadata: {
      name: 'huge',
      annotations: { 'nsync.dev/push-to': `${a},${b}`, 'nsync.dev/pull-allowed': puller },
    },
    data,
  });
  await createObject(cluster, 'secrets', puller, {
    metadata: { name: 'huge-copy', annotations: { 'nsync.dev/pull-from': `${src}/huge` } },
  });
  for (const namespace of [a, b])
    await contentEventually('secrets', namespace, 'huge', { data }, `the mirror in ${namespace}`);
  await contentEventually('secrets', puller, 'huge-copy', { data }, 'the pull target');

  data = oneMebibyte();
  await patchObject(cluster, `/api/v1/namespaces/${src}/secrets/huge`, { data });
  for (const namespace of [a, b])
    await contentEventually('secrets', namespace, 'huge', { data }, `the update in ${namespace}`);
  await contentEventually('secrets', puller, 'huge-copy', { data }, 'the update in the pull target');
  assert.ok(nsync.controller.liveness().ok);
});

/** 5,000 keys; `keyLength` pads the names (the recorded key list grows with them). */
function manyKeys(keyLength: number, salt: string): Record<string, string> {
  const data: Record<string, string> = {};
  for (let i = 0; i < 5000; i += 1) {
    const key = `k-${String(i).padStart(5, '0')}`;
    data[key.padEnd(keyLength, 'x')] = Buffer.from(`${salt}-${String(i)}`).toString('base64');
  }
  return data;
}

test('a Secret with 5,000 keys is pushed (native and replicator) and pulled, and a key change arrives', async () => {
  const [src = '', a = '', b = '', puller = ''] = await namespaces('src', 'a', 'b', 'pull');
  let data = manyKeys(7, 'one');
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'keys', annotations: { 'nsync.dev/push-to': a, 'nsync.dev/pull-allowed': puller } },
    data,
  });
  await createObject(cluster, 'secrets', src, {
    metadata: { name: 'keys-rep', annotations: { 'replicator.v1.mittwald.de/replicate-to': b } },
    data,
  });
  await createObject(cluster, 'secrets', puller, {
    metadata: { name: 'keys-copy', annotations: { 'nsync.dev/pull-from': `${src}/keys` } },
    data: { own: Buffer.from('mine').toString('base64') },
  });
  await contentEventually('secrets', a, 'keys', { data }, 'the native mirror');
  await contentEventually('secrets', b, 'keys-rep', { data }, 'the replicator mirror');
  await contentEventually(
    'secrets',
    puller,
    'keys-copy',
    { data: { ...data, own: Buffer.from('mine').toString('base64') } },
    'the pull target',
  );

  // One key changes, one disappears: the mirror follows, the pull target drops the copied key.
  const { ['k-00001']: _removed, ...rest } = data;
  data = { ...rest, 'k-00000': Buffer.from('changed').toString('base64') };
  await patchObject(cluster, `/api/v1/namespaces/${src}/secrets/keys`, {
    data: { 'k-00000': data['k-00000'], 'k-00001': null },
  });
  await contentEventually('secrets', a, 'keys', { data }, 'the key change in the mirror');
  await contentEventually(
    'secrets',
    puller,
    'keys-copy',
    { data: { ...data, own: Buffer.from('mine').toString('base64') } },
    'the key change in the pull target',
  );
});

test('a Secret with 5,000 long key names is pulled and pushed by replicator although the recorded key list exceeds the annotation limit', async () => {
  const [src = '', b = '', puller = ''] = await namespaces('src', 'b', 'pull');
  const data = manyKeys(60, 'long');
  await createObject(cluster, 'secrets', src, {
    metadata: {
      name: 'long-keys',
      annotations: {
        'nsync.dev/pull-allowed': puller,
        'replicator.v1.mittwald.de/replicate-to': b,
      },
    },
    data,
  });
  await createObject(cluster, 'secrets', puller, {
    metadata: { name: 'long-copy', annotations: { 'nsync.dev/pull-from': `${src}/long-keys` } },
  });
  // Either both arrive, or nsync's log shows the API server refusing the writes: fail fast then.
  for (const [namespace, name] of [
    [b, 'long-keys'],
    [puller, 'long-copy'],
  ] as const) {
    const outcome = await eventually(`${namespace}/${name} filled, or its write refused`, async () => {
      const object = await getObject(cluster, 'secrets', namespace, name);
      if (fingerprint(object?.data) === fingerprint(data)) return 'filled';
      const refused = nsync.logs.find(
        (line) => line.includes('write failed') && line.includes(`${namespace}/${name}`),
      );
      return refused;
    });
    assert.equal(outcome, 'filled', `the write of ${namespace}/${name} was refused`);
  }
  // The list of copied keys is too long for an annotation and lives in nsync's managedFields
  // entry: a key the source drops must still be found there and removed from the pull target.
  const copy = await getObject(cluster, 'secrets', puller, 'long-copy');
  assert.match(copy?.metadata.annotations?.['nsync.dev/copied-keys'] ?? '', /^\(5000 keys, /);
  const [dropped = ''] = Object.keys(data);
  await patchObject(cluster, `/api/v1/namespaces/${src}/secrets/long-keys`, { data: { [dropped]: null } });
  const { [dropped]: _gone, ...rest } = data;
  await eventually('the dropped key to leave the pull target', async () => {
    const object = await getObject(cluster, 'secrets', puller, 'long-copy');
    return fingerprint(object?.data) === fingerprint(rest) ? true : undefined;
  });
});

test('ConfigMap binaryData with every byte value and unusual text data are mirrored byte for byte', async () => {
  const [src = '', a = '', b = '', puller = ''] = await namespaces('src', 'a', 'b', 'pull');
  const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const binaryData = {
    'every-byte.bin': everyByte.toString('base64'),
    'random.bin': randomBytes(100 * 1024).toString('base64'),
    'empty.bin': '',
  };
  const data = {
    'unicode.txt': 'Grüße, 東京, emoji 🚀, RTL שלום, combining e\u0301\n',
    'crlf.txt': 'line one\r\nline two\r\n',
    'control.txt': 'tab\there, bell \u0007, nul \u0000 end',
    'empty.txt': '',
    '.dotfile': 'hidden',
    'under_score-and.dots': 'ok',
  };
  await createObject(cluster, 'configmaps', src, {
    metadata: {
      name: 'bin',
      annotations: {
        'nsync.dev/push-to': a,
        'nsync.dev/pull-allowed': puller,
      },
    },
    data,
    binaryData,
  });
  await createObject(cluster, 'configmaps', src, {
    metadata: { name: 'bin-rep', annotations: { 'replicator.v1.mittwald.de/replicate-to': b } },
    data,
    binaryData,
  });
  await createObject(cluster, 'configmaps', puller, {
    metadata: { name: 'bin-copy', annotations: { 'nsync.dev/pull-from': `${src}/bin` } },
  });
  for (const [namespace, name] of [
    [a, 'bin'],
    [b, 'bin-rep'],
  ] as const) {
    const mirror = await contentEventually(
      'configmaps',
      namespace,
      name,
      { data, binaryData },
      `the mirror in ${namespace}`,
    );
    assert.deepEqual(Buffer.from(mirror.binaryData?.['every-byte.bin'] ?? '', 'base64'), everyByte);
    assert.equal(mirror.data?.['unicode.txt'], data['unicode.txt']);
  }
  await contentEventually('configmaps', puller, 'bin-copy', { data, binaryData }, 'the pull target');
});
