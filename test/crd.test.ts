/**
 * nsync's CRDs (ClusterMirror, Mirror) on a real kube-apiserver, installed from the chart's own
 * files: they are Established (so the API server accepted every CEL rule, cost estimates
 * included), they admit the specs docs/api.md shows, they refuse invalid specs with the message a
 * person needs, the status subresource takes what src/api computes, `kubectl get` shows the
 * printer columns, and RBAC lets a namespace admin create a Mirror but not a ClusterMirror.
 *
 * Not served by the controller yet (issue #12, second half): these tests need no nsync process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse } from 'yaml';
import { toMirrorRule } from '../src/api/convert.ts';
import { computeStatus } from '../src/api/status.ts';
import type { MirrorKind, MirrorResourceV1, MirrorStatusV1 } from '../src/api/types.ts';
import { createNamespaces, eventually, sharedCluster, uniqueName } from './support/cluster.ts';
import { installCrds } from '../tools/controlplane/crds.ts';

const cluster = sharedCluster();
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const API = '/apis/nsync.dev/v1alpha1';
const CLUSTER_MIRRORS = `${API}/clustermirrors`;
const mirrors = (namespace: string): string => `${API}/namespaces/${namespace}/mirrors`;

interface Status {
  kind?: string;
  message?: string;
}

let namespace = '';
before(async () => {
  await installCrds(cluster);
  [namespace = ''] = await createNamespaces(cluster, [{ name: uniqueName('crd') }]);
});
after(async () => {
  await cluster.api('DELETE', `/api/v1/namespaces/${namespace}`);
});

/** A ClusterMirror body with a unique name. */
function clusterMirror(spec: unknown): object {
  return {
    apiVersion: 'nsync.dev/v1alpha1',
    kind: 'ClusterMirror',
    metadata: { name: uniqueName('cm') },
    spec,
  };
}

function mirror(spec: unknown): object {
  return { apiVersion: 'nsync.dev/v1alpha1', kind: 'Mirror', metadata: { name: uniqueName('m') }, spec };
}

/** Creates with a server-side dry run: admission (schema and CEL) runs in full, nothing is stored. */
async function dryRun(path: string, body: object): Promise<{ status: number; message: string }> {
  const answer = await cluster.api<Status>('POST', `${path}?dryRun=All&fieldValidation=Strict`, body);
  return { status: answer.status, message: answer.body.message ?? '' };
}

const WILDCARD = {
  source: { kind: 'Secret', namespace: 'cert-manager', name: 'wildcard-tls' },
  targets: { namespaces: ['*', '!kube-system'] },
};

void describe('the CRDs from the chart', () => {
  test('are accepted, Established and served, with short names and the nsync category', async () => {
    type Discovery = {
      resources: {
        name: string;
        kind: string;
        namespaced: boolean;
        shortNames?: string[];
        categories?: string[];
      }[];
    };
    // Discovery learns the names a moment after the CRDs are Established.
    const discovery = await eventually('discovery to list the short names', async () => {
      const answer = await cluster.api<Discovery>('GET', API);
      return answer.body.resources.filter((resource) => resource.shortNames !== undefined).length === 2
        ? answer
        : undefined;
    });
    const byKind = new Map(
      discovery.body.resources
        .filter((resource) => !resource.name.includes('/'))
        .map((resource) => [resource.kind, resource]),
    );
    const clusterMirrorResource = byKind.get('ClusterMirror');
    const mirrorResource = byKind.get('Mirror');
    assert.ok(clusterMirrorResource && mirrorResource);
    assert.equal(clusterMirrorResource.namespaced, false);
    assert.equal(mirrorResource.namespaced, true);
    assert.deepEqual(clusterMirrorResource.shortNames, ['cmirror']);
    assert.deepEqual(mirrorResource.shortNames, ['mir']);
    assert.deepEqual(clusterMirrorResource.categories, ['nsync']);
    assert.deepEqual(mirrorResource.categories, ['nsync']);
    assert.ok(discovery.body.resources.some((resource) => resource.name === 'mirrors/status'));
    // Installing again (another test file, a helm upgrade) is harmless.
    await installCrds(cluster);
  });

  test('admit the specs docs/api.md shows, and other valid ones', async () => {
    const valid: [string, object][] = [
      [CLUSTER_MIRRORS, clusterMirror(WILDCARD)],
      [
        CLUSTER_MIRRORS,
        clusterMirror({
          source: { kind: 'Secret', namespace: 'platform', name: 'registry-credentials' },
          targets: { namespaceSelector: { matchLabels: { 'example.com/registry': 'pull' } } },
        }),
      ],
      [
        CLUSTER_MIRRORS,
        clusterMirror({
          source: { kind: 'ConfigMap', namespace: 'platform', name: 'ca-bundle' },
          targets: {
            namespaces: ['team-?', 'app-*', '!app-legacy'],
            namespaceSelector: {
              matchLabels: { env: 'prod', tier: '' },
              matchExpressions: [
                { key: 'example.com/team', operator: 'In', values: ['a', 'b.c', 'd_e'] },
                { key: 'legacy', operator: 'DoesNotExist' },
                { key: 'zone', operator: 'NotIn', values: ['x'] },
                { key: 'opt-in', operator: 'Exists', values: [] },
              ],
            },
            name: 'trusted-cas.v1',
          },
          keys: ['ca.crt', '.hidden', 'a-b_c.d'],
          copyLabels: true,
          copyAnnotations: false,
        }),
      ],
      [
        CLUSTER_MIRRORS,
        clusterMirror({ ...WILDCARD, targets: { namespaces: ['!cert-manager', '!kube-*'] } }),
      ],
      [
        CLUSTER_MIRRORS,
        clusterMirror({
          source: { kind: 'Secret', namespace: 'app', name: 'db' },
          // The source's own namespace, in the other clusters.
          targets: { namespaces: ['app'] },
          clusters: {
            names: ['prod-*', '!prod-legacy', 'arn:aws:eks:eu-west-1:1:cluster/edge', 'admin@kind-?'],
            selector: {
              matchLabels: { env: 'prod' },
              matchExpressions: [{ key: 'tier', operator: 'Exists' }],
            },
          },
        }),
      ],
      [
        mirrors(namespace),
        mirror({
          source: { kind: 'Secret', name: 'db' },
          targets: { namespaces: ['*'] },
          clusters: { selector: { matchLabels: { env: 'prod' } } },
        }),
      ],
      [
        mirrors(namespace),
        mirror({
          source: { kind: 'ConfigMap', name: 'ca-bundle' },
          targets: { namespaces: ['team-*', '!team-sandbox'], name: 'trusted-cas' },
          keys: ['ca.crt'],
        }),
      ],
    ];
    for (const [path, body] of valid) {
      const answer = await dryRun(path, body);
      assert.equal(answer.status, 201, `${JSON.stringify(body)}: ${answer.message}`);
    }
  });

  test('admit every example of docs/api.md, which nsync converts into a rule', async () => {
    const text = readFileSync(join(root, 'docs', 'api.md'), 'utf8');
    const examples = [...text.matchAll(/```yaml\n([\s\S]*?)```/gu)]
      .map((match) => parse(match[1] ?? '') as MirrorResourceV1 | null)
      .filter((object) => object?.apiVersion === 'nsync.dev/v1alpha1');
    assert.equal(examples.length, 4);
    for (const example of examples) {
      assert.ok(example);
      const isMirror = example.kind === 'Mirror';
      const object: MirrorResourceV1 = isMirror
        ? { ...example, metadata: { ...example.metadata, namespace } }
        : example;
      const converted = toMirrorRule(object);
      assert.ok(converted.ok, JSON.stringify(converted));
      const answer = await dryRun(isMirror ? mirrors(namespace) : CLUSTER_MIRRORS, object);
      assert.equal(answer.status, 201, `${example.metadata.name}: ${answer.message}`);
    }
  });

  /**
   * Each case changes one thing of a valid spec. The API server's message must name the field
   * and say what is wrong in words: the pattern is matched against the whole message.
   */
  const invalid: [what: string, path: () => string, body: object, message: RegExp][] = [
    [
      'a kind nsync does not mirror',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, source: { ...WILDCARD.source, kind: 'Pod' } }),
      /spec\.source\.kind: Unsupported value: "Pod": supported values: "Secret", "ConfigMap"/,
    ],
    [
      'an invalid source namespace',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, source: { ...WILDCARD.source, namespace: 'Cert-Manager' } }),
      /spec\.source\.namespace: Invalid value: .*source\.namespace must be a namespace name: lowercase letters, digits and '-'/,
    ],
    [
      'an invalid source name',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, source: { ...WILDCARD.source, name: 'wildcard_tls' } }),
      /spec\.source\.name: Invalid value: .*source\.name must be a Secret or ConfigMap name/,
    ],
    [
      'a missing source name',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, source: { kind: 'Secret', namespace: 'cert-manager' } }),
      /spec\.source\.name: Required value/,
    ],
    [
      'an upper-case glob',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, targets: { namespaces: ['team-*', 'Prod'] } }),
      /spec\.targets\.namespaces\[1\]: Invalid value: .*a namespace pattern has only lowercase letters, digits, '-' and the wildcards '\*' and '\?'/,
    ],
    [
      'a regular expression for a glob',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, targets: { namespaces: ['team-.*'] } }),
      /spec\.targets\.namespaces\[0\]: Invalid value: .*it is not a regular expression/,
    ],
    [
      'a lone "!"',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, targets: { namespaces: ['team-*', '!'] } }),
      /spec\.targets\.namespaces\[1\]: Invalid value: .*optionally after one leading '!' that excludes/,
    ],
    [
      'an exclusion of every namespace',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, targets: { namespaces: ['team-*', '!*'] } }),
      /spec\.targets: Invalid value: .*an exclusion "!\*" excludes every namespace, so nothing would get a mirror/,
    ],
    [
      'no target namespaces at all',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, targets: { name: 'x' } }),
      /spec\.targets: Invalid value: .*targets must give namespaces \(patterns such as "team-\*"\) or a namespaceSelector; to mirror into every namespace write namespaces: \["\*"\]/,
    ],
    [
      'only the source’s own namespace',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, targets: { namespaces: ['cert-manager', '!kube-system'] } }),
      /spec: Invalid value: .*targets\.namespaces selects only the source's own namespace, which never gets a mirror/,
    ],
    [
      'an empty namespaceSelector',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, targets: { namespaceSelector: {} } }),
      /spec\.targets\.namespaceSelector: Invalid value: .*an empty namespaceSelector would select every namespace/,
    ],
    [
      'In without values',
      () => CLUSTER_MIRRORS,
      clusterMirror({
        ...WILDCARD,
        targets: { namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'In' }] } },
      }),
      /spec\.targets\.namespaceSelector\.matchExpressions\[0\]: Invalid value: .*the operators In and NotIn need at least one entry in values/,
    ],
    [
      'Exists with values',
      () => CLUSTER_MIRRORS,
      clusterMirror({
        ...WILDCARD,
        targets: {
          namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'Exists', values: ['a'] }] },
        },
      }),
      /matchExpressions\[0\]: Invalid value: .*the operators Exists and DoesNotExist take no values; remove values/,
    ],
    [
      'an unknown selector operator',
      () => CLUSTER_MIRRORS,
      clusterMirror({
        ...WILDCARD,
        targets: { namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'Gt', values: ['1'] }] } },
      }),
      /matchExpressions\[0\]\.operator: Unsupported value: "Gt": supported values: "In", "NotIn", "Exists", "DoesNotExist"/,
    ],
    [
      'an invalid label key',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, targets: { namespaceSelector: { matchLabels: { 'team name': 'a' } } } }),
      /spec\.targets\.namespaceSelector\.matchLabels: Invalid value: .*matchLabels keys must be label keys/,
    ],
    [
      'an invalid label key in an expression',
      () => CLUSTER_MIRRORS,
      clusterMirror({
        ...WILDCARD,
        targets: {
          namespaceSelector: { matchExpressions: [{ key: 'Example.com/team', operator: 'Exists' }] },
        },
      }),
      /matchExpressions\[0\]\.key: Invalid value: .*key must be a label key/,
    ],
    [
      'an invalid label value',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, targets: { namespaceSelector: { matchLabels: { env: 'prod env' } } } }),
      /spec\.targets\.namespaceSelector\.matchLabels\[env\]: Invalid value: "prod env": a label value has only letters, digits, '-', '_' and '\.'/,
    ],
    [
      'an invalid target name',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, targets: { ...WILDCARD.targets, name: 'Shared_TLS' } }),
      /spec\.targets\.name: Invalid value: .*targets\.name must be a Secret or ConfigMap name/,
    ],
    [
      'an invalid data key',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, keys: ['tls.crt', 'certs/tls.key'] }),
      /spec\.keys\[1\]: Invalid value: .*a data key has only letters, digits, '-', '_' and '\.', and is not '\.' and does not start with '\.\.'/,
    ],
    [
      'a data key starting with ".."',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, keys: ['..data'] }),
      /spec\.keys\[0\]: Invalid value: .*does not start with '\.\.'/,
    ],
    [
      'an empty key list',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, keys: [] }),
      /spec\.keys: Invalid value: .*keys must list at least one key; leave keys out to copy every key/,
    ],
    [
      'a key listed twice',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, keys: ['tls.crt', 'tls.crt'] }),
      /spec\.keys\[1\]: Duplicate value: "tls\.crt"/,
    ],
    [
      'a word for a boolean',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, copyLabels: 'yes' }),
      /spec\.copyLabels: Invalid value: "string": spec\.copyLabels in body must be of type boolean/,
    ],
    [
      'empty clusters',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, clusters: { names: [] } }),
      /spec\.clusters: Invalid value: .*clusters must give names \(globs such as "prod-\*"\) or a selector/,
    ],
    [
      'a cluster exclusion of everything',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, clusters: { names: ['prod', '!*'] } }),
      /spec\.clusters\.names\[1\]: Invalid value: .*a cluster pattern has only letters/,
    ],
    [
      'two clusters in one entry',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, clusters: { names: ['prod, staging'] } }),
      /spec\.clusters\.names\[0\]: Invalid value: .*a cluster pattern has only letters/,
    ],
    [
      'an empty cluster selector',
      () => CLUSTER_MIRRORS,
      clusterMirror({ ...WILDCARD, clusters: { selector: {} } }),
      /spec\.clusters\.selector: Invalid value: .*an empty clusters\.selector would select every cluster/,
    ],
    [
      'a Mirror reading a source in another namespace',
      () => mirrors(namespace),
      mirror({
        source: { kind: 'Secret', namespace: 'platform', name: 'db' },
        targets: { namespaces: ['*'] },
      }),
      /spec\.source\.namespace: Invalid value: .*a Mirror copies a source in its own namespace: remove source\.namespace, or use a ClusterMirror/,
    ],
  ];

  for (const [what, path, body, message] of invalid) {
    test(`refuse ${what}, saying why`, async () => {
      const answer = await dryRun(path(), body);
      assert.equal(answer.status, 422, `expected a refusal, got ${answer.status}: ${answer.message}`);
      assert.match(answer.message, message);
    });
  }
});

/**
 * Random specs built from the characters and shapes that decide validity, well inside the size
 * limits (which both sides also enforce, with different wording).
 */
function specs(): fc.Arbitrary<{ kind: MirrorKind; spec: object }> {
  /** Mostly `valid`, now and then `random`: most specs are valid, and each part can break one. */
  const mostly = <T>(valid: fc.Arbitrary<T>, random: fc.Arbitrary<T>): fc.Arbitrary<T> =>
    fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: random });
  const chars = (units: string[], maxLength: number): fc.Arbitrary<string> =>
    fc.string({ unit: fc.constantFrom(...units), maxLength });
  const nameChars = ['a', 'b', '0', '-', '.', 'A', '_'];
  const objectName = mostly(fc.constantFrom('db', 'a.b', 'x-1', 'tls0'), chars(nameChars, 6));
  const glob = mostly(
    fc.constantFrom('team-*', 'app-?', '*', '!team-b', '!kube-*', 'prod', 'src'),
    fc.oneof(fc.constant('!*'), chars(['a', 'b', '-', '*', '?', '!', 'A', '.', ' ', ','], 6)),
  );
  const labelKey = mostly(
    fc.constantFrom('env', 'example.com/team', 'tier'),
    chars(['a', 'B', '0', '-', '.', '_', ' ', '/'], 8),
  );
  const labelValue = mostly(
    fc.constantFrom('prod', '', 'a_b', 'x.1'),
    chars(['a', 'B', '0', '-', '.', '_', ' '], 6),
  );
  const anyExpression = fc.record(
    {
      key: labelKey,
      operator: fc.constantFrom('In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt'),
      values: fc.array(labelValue, { maxLength: 2 }),
    },
    { requiredKeys: ['key', 'operator'] },
  );
  const validExpression = fc.oneof(
    fc.record({
      key: labelKey,
      operator: fc.constantFrom('In', 'NotIn'),
      values: fc.array(labelValue, { minLength: 1, maxLength: 2 }),
    }),
    fc.record({ key: labelKey, operator: fc.constantFrom('Exists', 'DoesNotExist') }),
  );
  const selector = mostly<object>(
    fc.oneof(
      fc.record({ matchLabels: fc.dictionary(labelKey, labelValue, { minKeys: 1, maxKeys: 2 }) }),
      fc.record({ matchExpressions: fc.array(validExpression, { minLength: 1, maxLength: 2 }) }),
    ),
    fc.record(
      {
        matchLabels: fc.dictionary(labelKey, labelValue, { maxKeys: 2 }),
        matchExpressions: fc.array(anyExpression, { maxLength: 2 }),
      },
      { requiredKeys: [] },
    ),
  );
  const targets = mostly<object>(
    fc.record(
      {
        namespaces: fc.array(glob, { minLength: 1, maxLength: 3 }),
        namespaceSelector: selector,
        name: objectName,
      },
      { requiredKeys: ['namespaces'] },
    ),
    fc.record(
      { namespaces: fc.array(glob, { maxLength: 3 }), namespaceSelector: selector, name: objectName },
      { requiredKeys: [] },
    ),
  );
  const key = mostly(
    fc.constantFrom('ca.crt', 'tls.key', '.x', 'a_b'),
    chars(['a', '.', '-', '_', '/', 'B'], 4),
  );
  const rest = {
    targets,
    keys: mostly(
      fc.uniqueArray(key, { minLength: 1, maxLength: 3 }),
      // Empty, or a key listed twice.
      fc.array(key, { maxLength: 2 }).map((list) => [...list, ...list.slice(0, 1)]),
    ),
    copyLabels: fc.boolean(),
  };
  const source = (withNamespace: boolean) =>
    fc.record({
      kind: mostly(fc.constantFrom('Secret', 'ConfigMap'), fc.constantFrom('Pod', 'secret')),
      name: objectName,
      ...(withNamespace
        ? { namespace: mostly(fc.constantFrom('src', 'platform'), chars(nameChars, 5)) }
        : {}),
    });
  return fc.oneof(
    fc
      .record({ source: source(true), ...rest }, { requiredKeys: ['source', 'targets'] })
      .map((spec) => ({ kind: 'ClusterMirror' as const, spec })),
    fc
      .record({ source: source(false), ...rest }, { requiredKeys: ['source', 'targets'] })
      .map((spec) => ({ kind: 'Mirror' as const, spec })),
  );
}

test('the API server admits exactly the specs nsync can serve (random specs)', async () => {
  let admitted = 0;
  await fc.assert(
    fc.asyncProperty(specs(), async ({ kind, spec }) => {
      const body: MirrorResourceV1 =
        kind === 'Mirror' ? (mirror(spec) as MirrorResourceV1) : (clusterMirror(spec) as MirrorResourceV1);
      const converted = toMirrorRule(
        kind === 'Mirror' ? { ...body, metadata: { ...body.metadata, namespace } } : body,
      );
      const answer = await dryRun(kind === 'Mirror' ? mirrors(namespace) : CLUSTER_MIRRORS, body);
      const problems = converted.ok ? [] : converted.problems.map((p) => `${p.field}: ${p.message}`);
      assert.equal(
        answer.status === 201,
        converted.ok,
        `API server: ${answer.status} ${answer.message}\nnsync: ${problems.join('; ')}`,
      );
      if (converted.ok) admitted += 1;
    }),
    { numRuns: 400 },
  );
  // The generator reaches both sides often enough for the comparison to mean something.
  assert.ok(admitted >= 80 && admitted <= 360, `${admitted} of 400 random specs were valid`);
});

/** A GET as kubectl makes it for `kubectl get`: the server renders the printer columns. */
async function table(path: string): Promise<{ columns: string[]; cells: unknown[] }> {
  const url = new URL(path, cluster.server);
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(
      url,
      {
        ca: readFileSync(cluster.caFile),
        headers: {
          Authorization: `Bearer ${cluster.admin.token}`,
          Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
  const parsed = JSON.parse(text) as { columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] };
  return {
    columns: parsed.columnDefinitions.map((column) => column.name),
    cells: parsed.rows[0]?.cells ?? [],
  };
}

test('status is a subresource: nsync writes what src/api computes, and kubectl get shows it', async () => {
  const body = clusterMirror(WILDCARD) as { metadata: { name: string } };
  const path = `${CLUSTER_MIRRORS}/${body.metadata.name}`;
  const created = await cluster.api<{ metadata: { generation: number; resourceVersion: string } }>(
    'POST',
    CLUSTER_MIRRORS,
    body,
  );
  assert.equal(created.status, 201);
  try {
    const status: MirrorStatusV1 = computeStatus({
      generation: created.body.metadata.generation,
      specProblems: [],
      source: { found: true, resourceVersion: '1234' },
      outcomes: [
        { namespace: 'team-a', outcome: 'in-sync', message: 'Mirror is up to date.' },
        { namespace: 'team-b', outcome: 'in-sync', message: 'Mirror is up to date.' },
        { namespace: 'team-c', outcome: 'conflict', message: 'An object nsync does not own holds the name.' },
      ],
      previous: undefined,
      now: new Date(),
    });
    // Status sent with the main resource is dropped; through /status it is stored as computed.
    const ignored = await cluster.api<{ status?: unknown }>('PUT', path, {
      ...body,
      metadata: { ...body.metadata, resourceVersion: created.body.metadata.resourceVersion },
      status,
    });
    assert.equal(ignored.status, 200);
    assert.equal(ignored.body.status, undefined);
    const written = await cluster.api<{ status?: MirrorStatusV1 } & Status>(
      'PATCH',
      `${path}/status`,
      { status },
      'application/merge-patch+json',
    );
    assert.equal(written.status, 200, written.body.message);
    assert.deepEqual(written.body.status, status);

    const shown = await table(path);
    assert.deepEqual(shown.columns, [
      'Name',
      'Kind',
      'Source Namespace',
      'Source',
      'Ready',
      'Selected',
      'In Sync',
      'Problems',
      'Reason',
      'Age',
    ]);
    assert.deepEqual(shown.cells.slice(0, 9), [
      body.metadata.name,
      'Secret',
      'cert-manager',
      'wildcard-tls',
      'False',
      3,
      2,
      1,
      'Conflict',
    ]);
  } finally {
    await cluster.api('DELETE', path);
  }
});

interface RoleManifest {
  metadata: { name: string };
  rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
}

/** The chart's aggregated ClusterRoles, as shipped in deploy/kustomize. */
function aggregatedRoles(): RoleManifest[] {
  return ['clusterrole-mirrors-edit.yaml', 'clusterrole-mirrors-view.yaml'].map(
    (file) => parse(readFileSync(join(root, 'deploy', 'kustomize', file), 'utf8')) as RoleManifest,
  );
}

test('a namespace admin may create a Mirror in its namespace, not a ClusterMirror; a viewer may read', async () => {
  const [team = '', other = ''] = await createNamespaces(cluster, [
    { name: uniqueName('crd-team') },
    { name: uniqueName('crd-other') },
  ]);
  const roles = aggregatedRoles();
  try {
    for (const role of roles) {
      const created = await cluster.api('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', role);
      assert.ok(
        created.status === 201 || created.status === 409,
        `create ${role.metadata.name}: ${created.status}`,
      );
    }
    const bind = async (user: string, clusterRole: string): Promise<string> => {
      const identity = await cluster.serviceAccountIdentity(team, user);
      const answer = await cluster.api(
        'POST',
        `/apis/rbac.authorization.k8s.io/v1/namespaces/${team}/rolebindings`,
        {
          metadata: { name: user },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
          subjects: [{ kind: 'ServiceAccount', name: user, namespace: team }],
        },
      );
      assert.equal(answer.status, 201);
      return identity.token;
    };
    const admin = await bind('team-admin', 'admin');
    const viewer = await bind('team-viewer', 'view');

    const body = mirror({
      source: { kind: 'ConfigMap', name: 'ca-bundle' },
      targets: { namespaces: ['team-*'] },
    });
    // kube-controller-manager's clusterrole-aggregation controller copies the rules into admin.
    await eventually(
      'the admin role to aggregate the Mirror rights',
      async () =>
        (await cluster.apiAs(admin, 'POST', mirrors(team), body)).status === 201 ? true : undefined,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const adminRole = await cluster.api<RoleManifest>(
      'GET',
      '/apis/rbac.authorization.k8s.io/v1/clusterroles/admin',
    );
    assert.ok(
      adminRole.body.rules.some(
        (rule) => rule.apiGroups.includes('nsync.dev') && rule.resources.includes('mirrors'),
      ),
    );

    const clusterWide = await cluster.apiAs<Status>(admin, 'POST', CLUSTER_MIRRORS, clusterMirror(WILDCARD));
    assert.equal(clusterWide.status, 403, clusterWide.body.message);
    assert.match(clusterWide.body.message ?? '', /clustermirrors\.nsync\.dev is forbidden/);
    const elsewhere = await cluster.apiAs<Status>(admin, 'POST', mirrors(other), body);
    assert.equal(elsewhere.status, 403, elsewhere.body.message);

    await eventually('the view role to aggregate the Mirror rights', async () =>
      (await cluster.apiAs(viewer, 'GET', mirrors(team))).status === 200 ? true : undefined,
    );
    const viewerCreates = await cluster.apiAs(viewer, 'POST', mirrors(team), {
      ...body,
      metadata: { name: uniqueName('m') },
    });
    assert.equal(viewerCreates.status, 403);
    assert.equal((await cluster.apiAs(viewer, 'GET', CLUSTER_MIRRORS)).status, 403);
  } finally {
    for (const role of roles) {
      await cluster.api('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${role.metadata.name}`);
    }
    await cluster.api('DELETE', `/api/v1/namespaces/${team}`);
    await cluster.api('DELETE', `/api/v1/namespaces/${other}`);
  }
});
