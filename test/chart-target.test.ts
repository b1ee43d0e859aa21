/**
 * The target-side chart (deploy/chart/nsync-target): what an operator installs in a cluster nsync
 * copies INTO. It must render exactly the rules of deploy/target (the manifests
 * test/multicluster.test.ts runs nsync with), refuse values that would leave nsync without rights
 * or with ambiguous ones, and, applied to a real API server, give the ServiceAccount exactly those
 * rights — asked of the authorizer with SubjectAccessReview and tried with the chart's own token:
 * Namespaces readable, copies writable in the one target namespace, no cluster-wide Secret list
 * unless clusterWide asks for it. helm is built from the Go module proxy (cached), as for
 * test/chart.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { createNamespaces, sharedCluster, uniqueName } from './support/cluster.ts';
import { mayDo, serviceAccountUser, type Access } from './support/rbac.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const chartDir = join(root, 'deploy', 'chart', 'nsync-target');
const manifestsDir = join(root, 'deploy', 'target');
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

/** helm's output, or its error output as the thrown message. */
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

interface Manifest {
  apiVersion: string;
  kind: string;
  type?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  rules?: unknown;
  roleRef?: unknown;
  subjects?: unknown;
}

function parse(text: string): Manifest[] {
  const objects: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    assert.deepEqual(doc.errors, [], 'valid YAML');
    const value = doc.toJS() as Manifest | null;
    if (value !== null) objects.push(value);
  }
  return objects;
}

function render(release: string, namespace: string, flags: readonly string[]): Manifest[] {
  return parse(helm(['template', release, chartDir, '--namespace', namespace, ...flags]));
}

/** What RBAC means in an object: kind, name, namespace, rules, roleRef, subjects (no labels or comments). */
function meaning(object: Manifest): string {
  return JSON.stringify({
    kind: object.kind,
    name: object.metadata.name,
    namespace: object.metadata.namespace,
    rules: object.rules,
    roleRef: object.roleRef,
    subjects: object.subjects,
  });
}

/** deploy/target's objects, as kustomize would put them together. */
function shippedManifests(): Manifest[] {
  const kustomization = parse(
    readFileSync(join(manifestsDir, 'kustomization.yaml'), 'utf8'),
  )[0] as unknown as {
    resources: string[];
  };
  return kustomization.resources.flatMap((file) => parse(readFileSync(join(manifestsDir, file), 'utf8')));
}

test('helm lint passes for a target namespace, for clusterWide, and with a token Secret', () => {
  for (const flags of [
    ['--set', 'targetNamespace=apps'],
    ['--set', 'clusterWide=true,tokenSecret.create=true,clusterName=east'],
  ]) {
    helm(['lint', '--strict', chartDir, ...flags]);
  }
});

test('values that leave nsync without rights, or with ambiguous ones, are refused with a clear message', () => {
  assert.throws(() => render('r', 'ns', []), /set targetNamespace .* or clusterWide=true/);
  assert.throws(
    () => render('r', 'ns', ['--set', 'clusterWide=true,targetNamespace=apps']),
    /clusterWide=true already grants every namespace/,
  );
  assert.throws(() => render('r', 'ns', ['--set', 'targetNamespace=Not_A_Namespace']), /targetNamespace/);
  assert.throws(() => render('r', 'ns', ['--set', 'targetNamespaces=apps']), /targetNamespaces/);
});

test('the chart renders exactly the rules of deploy/target (same names when released as nsync-remote)', () => {
  const shipped = shippedManifests().filter((object) => object.kind !== 'Namespace');
  const rendered = render('nsync-remote', 'nsync-remote', ['--set', 'targetNamespace=default']);
  assert.deepEqual(rendered.map(meaning).sort(), shipped.map(meaning).sort());

  // clusterWide: the RoleBinding becomes a ClusterRoleBinding of the same role, nothing else changes.
  const wide = render('nsync-remote', 'nsync-remote', ['--set', 'clusterWide=true']);
  const expected = shipped.map((object) =>
    object.kind === 'RoleBinding'
      ? { ...object, kind: 'ClusterRoleBinding', metadata: { name: object.metadata.name } }
      : object,
  );
  assert.deepEqual(wide.map(meaning).sort(), expected.map(meaning).sort());
});

test('the token Secret is opt-in and names the ServiceAccount', () => {
  assert.ok(!render('r', 'ns', ['--set', 'targetNamespace=apps']).some((object) => object.kind === 'Secret'));
  const secret = render('r', 'ns', ['--set', 'targetNamespace=apps,tokenSecret.create=true']).find(
    (object) => object.kind === 'Secret',
  );
  assert.equal(secret?.type, 'kubernetes.io/service-account-token');
  assert.equal(secret.metadata.annotations?.['kubernetes.io/service-account.name'], 'r');
});

test('NOTES print how to register the cluster and how to write its kubeconfig context', () => {
  const out = helm([
    'install',
    'nsync-remote',
    chartDir,
    '--namespace',
    'nsync-remote',
    '--dry-run=client',
    '--set',
    'targetNamespace=apps,clusterName=east',
  ]);
  const notes = out.slice(out.indexOf('NOTES:'));
  assert.match(notes, /kubectl -n nsync-remote create token nsync-remote/);
  assert.match(notes, /nsync\.dev\/cluster=east/);
  assert.match(
    notes,
    /--from-literal=server="\$SERVER" --from-literal=token="\$TOKEN" --from-file=ca\.crt=ca\.crt/,
  );
  assert.match(notes, /--from-literal=namespace=apps/);
  assert.match(notes, /set-context east --cluster=east\s+\\?\s*--user=east --namespace=apps/);
});

const PATHS: Readonly<Record<string, (namespace: string) => string>> = {
  ServiceAccount: (namespace) => `/api/v1/namespaces/${namespace}/serviceaccounts`,
  Secret: (namespace) => `/api/v1/namespaces/${namespace}/secrets`,
  ClusterRole: () => '/apis/rbac.authorization.k8s.io/v1/clusterroles',
  ClusterRoleBinding: () => '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
  RoleBinding: (namespace) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`,
};

/** Cluster-scoped objects the tests created: removed at the end (namespaced ones go with their namespace). */
const created: string[] = [];
after(async () => {
  for (const path of created) await cluster.api('DELETE', path);
});

/** Creates every rendered object as admin, with strict field validation. */
async function install(objects: readonly Manifest[]): Promise<void> {
  for (const object of objects) {
    const path = PATHS[object.kind];
    assert.ok(path !== undefined, `the chart renders only known kinds, not ${object.kind}`);
    const collection = path(object.metadata.namespace ?? '');
    const answer = await cluster.api<{ message?: string }>(
      'POST',
      `${collection}?fieldValidation=Strict`,
      object,
    );
    assert.equal(
      answer.status,
      201,
      `create ${object.kind} ${object.metadata.name}: ${answer.body.message ?? ''}`,
    );
    if (object.metadata.namespace === undefined) created.push(`${collection}/${object.metadata.name}`);
  }
}

const COPY_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/** The authorizer's answers for `who` on every access that matters, as `verb resource @namespace: yes|no` lines. */
async function rights(
  who: { user: string; groups: string[] },
  namespaces: readonly string[],
): Promise<string[]> {
  const asks: Access[] = [];
  for (const verb of ['get', 'list', 'watch', 'create', 'update', 'delete'])
    asks.push({ verb, resource: 'namespaces', namespace: '' });
  for (const namespace of ['', ...namespaces]) {
    for (const resource of ['secrets', 'configmaps'])
      for (const verb of COPY_VERBS) asks.push({ verb, resource, namespace });
    asks.push({ verb: 'get', resource: 'pods', namespace });
    asks.push({ verb: 'create', resource: 'serviceaccounts', namespace });
    asks.push({ verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', namespace });
  }
  const lines: string[] = [];
  for (const ask of asks) {
    const allowed = await mayDo(cluster, who.user, who.groups, ask);
    lines.push(
      `${ask.verb} ${ask.resource} @${ask.namespace === '' ? '*' : ask.namespace}: ${allowed ? 'yes' : 'no'}`,
    );
  }
  return lines;
}

/** What the expected answer is: namespaces readable; copies in `writable` (or everywhere when '*'). */
function expectedRights(namespaces: readonly string[], writable: string): string[] {
  const lines: string[] = [];
  for (const verb of ['get', 'list', 'watch', 'create', 'update', 'delete'])
    lines.push(`${verb} namespaces @*: ${['get', 'list', 'watch'].includes(verb) ? 'yes' : 'no'}`);
  for (const namespace of ['', ...namespaces]) {
    const label = namespace === '' ? '*' : namespace;
    const copies = writable === '*' || writable === namespace;
    for (const resource of ['secrets', 'configmaps'])
      for (const verb of COPY_VERBS) lines.push(`${verb} ${resource} @${label}: ${copies ? 'yes' : 'no'}`);
    lines.push(`get pods @${label}: no`);
    lines.push(`create serviceaccounts @${label}: no`);
    lines.push(`create rolebindings @${label}: no`);
  }
  return lines;
}

test('installed on a real API server: Namespaces readable, copies only in the target namespace, no cluster-wide Secret list; a token of it works', async () => {
  const release = uniqueName('nt');
  const [home, target, other] = await createNamespaces(cluster, [
    { name: `${release}-sys` },
    { name: `${release}-apps` },
    { name: `${release}-other` },
  ]);
  assert.ok(home !== undefined && target !== undefined && other !== undefined);
  await install(render(release, home, ['--set', `targetNamespace=${target},tokenSecret.create=true`]));

  const who = serviceAccountUser(home, release);
  assert.deepEqual(await rights(who, [target, other]), expectedRights([target, other], target));

  // The token Secret is accepted as the chart renders it. Filling it is kube-controller-manager's
  // token controller's job, which the harness does not run (it needs the signing key), so the
  // identity is tried with a TokenRequest token of the same ServiceAccount.
  const tokenSecret = await cluster.api<{ type?: string }>(
    'GET',
    `/api/v1/namespaces/${home}/secrets/${release}-token`,
  );
  assert.equal(tokenSecret.body.type, 'kubernetes.io/service-account-token');
  const issued = await cluster.api<{ status?: { token?: string } }>(
    'POST',
    `/api/v1/namespaces/${home}/serviceaccounts/${release}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } },
  );
  assert.equal(issued.status, 201);
  const token = issued.body.status?.token ?? '';
  assert.equal((await cluster.apiAs(token, 'GET', '/api/v1/namespaces')).status, 200);
  assert.equal((await cluster.apiAs(token, 'GET', `/api/v1/namespaces/${target}/secrets`)).status, 200);
  assert.equal(
    (await cluster.apiAs(token, 'GET', '/api/v1/secrets')).status,
    403,
    'no cluster-wide Secret list',
  );
  assert.equal((await cluster.apiAs(token, 'GET', `/api/v1/namespaces/${other}/secrets`)).status, 403);
});

test('installed with clusterWide: the copy rights everywhere, including the cluster-wide Secret list, and nothing more', async () => {
  const release = uniqueName('ntw');
  const [home, other] = await createNamespaces(cluster, [
    { name: `${release}-sys` },
    { name: `${release}-other` },
  ]);
  assert.ok(home !== undefined && other !== undefined);
  await install(render(release, home, ['--set', 'clusterWide=true']));
  const who = serviceAccountUser(home, release);
  assert.deepEqual(await rights(who, [other]), expectedRights([other], '*'));
});
