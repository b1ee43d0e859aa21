/**
 * Property tests of plan() over arbitrary worlds: random namespaces, random objects owned by this
 * source, by another source or by nobody (replicator replicas that name no source among them),
 * random push rules and pull targets. A tiny in-memory API server applies the planned writes, so
 * convergence is checked against what the writes do. A second world has two sources competing
 * for one target, to check that ownership never flips between them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { evaluateFilter } from '../rules/filter.ts';
import { kubed, mirrorClaim, owned, reflector, replicator, unnamedMirrorClaim } from '../rules/markers.ts';
import type {
  Dialect,
  Kind,
  NamespaceFilter,
  NamespaceInfo,
  PullConsent,
  PullRequest,
  PushRule,
} from '../rules/model.ts';
import { IDENTITY_RESERVED_NAMESPACES, isIdentityKind, parseRoleRef } from '../rules/kinds.ts';
import { canonicalJson, contentHash } from './hash.ts';
import type { Decision, ObjectMeta, Plan, PullTarget, Snapshot, SourceState, WriteOp } from './model.ts';
import { BOUNDARY_DEFAULTS } from '../testing/guardrails.ts';
import { plan } from './plan.ts';
import { mergedAnnotations, previouslyCopiedKeys, renderMirror, renderPullPatch } from './render.ts';

const SOURCE_NS = 'platform';
const SOURCE_NAME = 'db';
const SOURCE_UID = 'uid-source';
const OPT_OUT = 'nsync.dev/opt-out';
const NAMESPACES = [SOURCE_NS, 'a', 'b', 'c', 'kube-system'] as const;
/** Namespaces objects may sit in; `gone` is never among the snapshot's namespaces. */
const OBJECT_NAMESPACES = [...NAMESPACES, 'gone'] as const;
const NAMES = [SOURCE_NAME, 'copy', 'other'] as const;
const DIALECTS: readonly Dialect[] = ['native', 'reflector', 'replicator', 'kubed'];
const KEYS = ['a', 'b', 'tls.crt', 'toString'] as const;
/** Every data value starts with this, so messages can be checked for leaks. */
const VALUE_MARK = 'v4lue-';

/** The world the fake API server holds: objects by location, and pull requests by uid. */
interface World {
  readonly kind: Kind;
  readonly source: SourceState | undefined;
  readonly namespaces: readonly NamespaceInfo[];
  readonly objects: ReadonlyMap<string, ObjectMeta>;
  readonly requests: ReadonlyMap<string, PullRequest>;
  /** The data keys each object holds with a non-empty value, by uid (absent = none). */
  readonly held: ReadonlyMap<string, ReadonlySet<string>>;
  readonly excluded: ReadonlySet<string>;
  readonly mayPush: boolean;
  /** Guardrails.isRbacSource for the source's namespace (Roles, RoleBindings, ServiceAccounts). */
  readonly rbacTrusted: boolean;
  /** Namespaces in which the Role a RoleBinding source binds exists (Snapshot.roleExists). */
  readonly roles: ReadonlySet<string>;
  readonly dialects: ReadonlySet<Dialect>;
  /** Guardrails.clusterName: which kubed copies count as this cluster's. */
  readonly clusterName: string;
  readonly now: string;
}

/** Cluster names, this one's among them; '' is an unnamed cluster (or kubed without the flag). */
const CLUSTERS = ['', 'east', 'west'] as const;

function at(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

// ---------------------------------------------------------------- arbitraries

const labelsArb = fc.record(
  { env: fc.constantFrom('prod', 'dev'), [OPT_OUT]: fc.constantFrom('true', 'false') },
  { requiredKeys: [] },
);

/** Each namespace is known to the snapshot four times out of five; one in ten is terminating. */
const namespacesArb: fc.Arbitrary<NamespaceInfo[]> = fc
  .tuple(
    ...NAMESPACES.map((name) =>
      fc.option(
        fc.record({
          name: fc.constant(name),
          labels: labelsArb,
          terminating: fc.integer({ min: 0, max: 9 }).map((roll) => roll === 0),
        }),
        { nil: undefined, freq: 5 },
      ),
    ),
  )
  .map((list) => list.filter((namespace) => namespace !== undefined));

const leafFilterArb: fc.Arbitrary<NamespaceFilter> = fc.oneof(
  fc.constant<NamespaceFilter>({ op: 'all' }),
  fc.constant<NamespaceFilter>({ op: 'none' }),
  fc.subarray([...OBJECT_NAMESPACES], { minLength: 1 }).map((names): NamespaceFilter => ({
    op: 'names',
    patterns: names.map((text) => ({ text, test: (name: string) => name === text })),
  })),
  fc.constantFrom('prod', 'dev').map((env): NamespaceFilter => ({
    op: 'selector',
    selector: { text: `env=${env}`, requirements: [{ key: 'env', op: 'in', values: [env] }] },
  })),
);

const filterArb: fc.Arbitrary<NamespaceFilter> = fc.oneof(
  { weight: 3, arbitrary: leafFilterArb },
  fc.array(leafFilterArb, { maxLength: 2 }).map((of): NamespaceFilter => ({ op: 'and', of })),
  fc.array(leafFilterArb, { maxLength: 2 }).map((of): NamespaceFilter => ({ op: 'or', of })),
  leafFilterArb.map((of): NamespaceFilter => ({ op: 'not', of })),
);

const keysArb = fc.option(fc.subarray([...KEYS]), { nil: undefined });

/**
 * Push rules of every dialect to every name; replicator rules mostly to the source's own name, as
 * replicator's parser always writes them (the other names keep plan() honest about rules no parser
 * makes).
 */
const pushRuleArb: fc.Arbitrary<PushRule> = fc
  .record({
    dialect: fc.constantFrom(...DIALECTS),
    targets: filterArb,
    targetName: fc.constantFrom(...NAMES),
    copy: fc.record({
      labels: fc.boolean(),
      annotations: fc.boolean(),
      ownerReferences: fc.boolean(),
      keys: keysArb,
    }),
    sameName: fc.integer({ min: 0, max: 9 }).map((roll) => roll < 8),
  })
  .map(({ sameName, ...rule }): PushRule =>
    rule.dialect === 'replicator' && sameName ? { ...rule, targetName: SOURCE_NAME } : rule,
  );

const consentArb: fc.Arbitrary<PullConsent> = fc.record({
  dialect: fc.constantFrom(...DIALECTS),
  namespaces: filterArb,
});

const dataArb = fc.dictionary(
  fc.constantFrom(...KEYS),
  fc.string({ maxLength: 4 }).map((value) => `${VALUE_MARK}${value}`),
  { maxKeys: 4 },
);

/**
 * The content of a Role, RoleBinding or ServiceAccount source (canonical JSON by field, as
 * app/sources.ts reads it), varied by the generated data keys; a binding refers to a Role or a
 * ClusterRole by the parity of `roll`.
 */
function identityContent(
  kind: Kind,
  data: Readonly<Record<string, string>>,
  roll: number,
): Record<string, string> {
  const names = Object.keys(data);
  if (kind === 'Role') {
    return { rules: canonicalJson([{ apiGroups: [''], resources: names, verbs: ['get'] }]) };
  }
  if (kind === 'RoleBinding') {
    return {
      roleRef: canonicalJson({
        apiGroup: 'rbac.authorization.k8s.io',
        kind: roll % 2 === 0 ? 'Role' : 'ClusterRole',
        name: 'reader',
      }),
      subjects: canonicalJson(names.map((name) => ({ kind: 'Group', name }))),
    };
  }
  return { imagePullSecrets: canonicalJson(names.map((name) => ({ name }))) };
}

const sourceArb = (kind: Kind): fc.Arbitrary<SourceState> =>
  fc
    .record({
      type: fc.oneof(
        { weight: 9, arbitrary: fc.constantFrom('Opaque', 'kubernetes.io/tls') },
        { weight: 1, arbitrary: fc.constant('helm.sh/release.v1') },
      ),
      data: dataArb,
      binaryData: dataArb,
      resourceVersion: fc.integer({ min: 1, max: 99 }),
      labels: fc.record(
        { app: fc.constant('db'), 'app.kubernetes.io/instance': fc.constant('argo') },
        { requiredKeys: [] },
      ),
      annotations: fc.record(
        { note: fc.constant('hi'), [reflector.allowed]: fc.constant('true') },
        { requiredKeys: [] },
      ),
      selfClaim: fc.boolean(),
      owners: fc.boolean(),
      push: fc.array(pushRuleArb, { maxLength: 3 }),
      consent: fc.array(consentArb, { maxLength: 3 }),
    })
    .map((spec): SourceState => {
      // A ConfigMap key lives in data or binaryData, never both.
      const binaryData = Object.fromEntries(
        Object.entries(spec.binaryData).filter(([key]) => !Object.hasOwn(spec.data, key)),
      );
      const claim = spec.selfClaim
        ? {
            labels: { [owned.managedByLabel]: owned.managedByValue },
            annotations: { [owned.source]: at(SOURCE_NS, SOURCE_NAME) },
          }
        : { labels: {}, annotations: {} };
      return {
        meta: {
          kind,
          namespace: SOURCE_NS,
          name: SOURCE_NAME,
          uid: SOURCE_UID,
          resourceVersion: String(spec.resourceVersion),
          labels: { ...spec.labels, ...claim.labels },
          annotations: { ...spec.annotations, ...claim.annotations },
          ownerReferences: spec.owners
            ? [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'parent', uid: 'uid-parent' }]
            : [],
          contentForeign: false,
          deleting: false,
        },
        content:
          kind === 'Secret'
            ? { type: spec.type, data: spec.data, binaryData: {} }
            : isIdentityKind(kind)
              ? {
                  type: undefined,
                  data: identityContent(kind, spec.data, spec.resourceVersion),
                  binaryData: {},
                }
              : { type: undefined, data: spec.data, binaryData },
        spec: { push: spec.push, consent: spec.consent, problems: [], unsupported: [] },
      };
    });

/**
 * Who an object belongs to; a `puller` is an unowned object asking to be filled, a `replica` one
 * that kubernetes-replicator pushed (its markers name no source), `mine-kubed` a kubed copy of this
 * source labelled with some cluster.
 */
type Owner = 'mine' | 'mine-reflector' | 'mine-kubed' | 'other' | 'unowned' | 'puller' | 'replica';

interface ObjectSpec {
  readonly namespace: string;
  readonly name: string;
  readonly owner: Owner;
  readonly hash: 'none' | 'old' | 'current';
  readonly foreign: boolean;
  readonly deleting: boolean;
  readonly extra: Readonly<Record<string, string>>;
  readonly copied: string | undefined;
  readonly reflectedVersion: string | undefined;
  readonly pull: {
    readonly dialect: Dialect;
    readonly source: 'this' | 'elsewhere';
    readonly keys: readonly string[] | undefined;
  };
  /** Whether an object of another owner kind also carries a pull annotation. */
  readonly alsoPulls: boolean;
  /** The data keys the object holds with a non-empty value. */
  readonly held: readonly string[];
  /** kubed's origin.cluster label on a `mine-kubed` copy; undefined = no label. */
  readonly cluster: string | undefined;
}

const objectSpecArb: fc.Arbitrary<ObjectSpec> = fc.record({
  namespace: fc.constantFrom(...OBJECT_NAMESPACES),
  name: fc.constantFrom(...NAMES),
  owner: fc.constantFrom<Owner>(
    'mine',
    'mine',
    'mine-reflector',
    'mine-kubed',
    'other',
    'unowned',
    'puller',
    'puller',
    'replica',
    'replica',
  ),
  hash: fc.constantFrom('none', 'old', 'current'),
  foreign: fc.integer({ min: 0, max: 9 }).map((roll) => roll < 2),
  deleting: fc.integer({ min: 0, max: 99 }).map((roll) => roll < 15),
  extra: fc.record(
    { team: fc.constant('x'), [owned.managedByLabel]: fc.constant('helm') },
    { requiredKeys: [] },
  ),
  copied: fc.option(fc.constantFrom('a', 'a,b', 'gone,tls.crt', ''), { nil: undefined }),
  reflectedVersion: fc.option(fc.constantFrom('', '1'), { nil: undefined }),
  pull: fc.record({
    dialect: fc.constantFrom(...DIALECTS),
    source: fc
      .integer({ min: 0, max: 9 })
      .map((roll): 'this' | 'elsewhere' => (roll === 0 ? 'elsewhere' : 'this')),
    keys: keysArb,
  }),
  alsoPulls: fc.integer({ min: 0, max: 9 }).map((roll) => roll < 2),
  held: fc.subarray([...KEYS]),
  cluster: fc.option(fc.constantFrom(...CLUSTERS), { nil: undefined }),
});

/** Markers that make an object claim a source (or nothing), by owner kind. */
function ownerMarkers(
  owner: Owner,
  cluster: string | undefined,
): { labels: Record<string, string>; annotations: Record<string, string> } {
  switch (owner) {
    case 'mine':
      return {
        labels: { [owned.managedByLabel]: owned.managedByValue },
        annotations: { [owned.source]: at(SOURCE_NS, SOURCE_NAME) },
      };
    case 'mine-reflector':
      return {
        labels: {},
        annotations: { [reflector.reflects]: at(SOURCE_NS, SOURCE_NAME), [reflector.autoReflects]: 'True' },
      };
    case 'mine-kubed':
      return {
        labels: {
          [kubed.originName]: SOURCE_NAME,
          [kubed.originNamespace]: SOURCE_NS,
          ...(cluster === undefined ? {} : { [kubed.originCluster]: cluster }),
        },
        annotations: {},
      };
    case 'other':
      return {
        labels: { [owned.managedByLabel]: owned.managedByValue },
        annotations: { [owned.source]: 'elsewhere/db' },
      };
    case 'replica':
      return {
        labels: {},
        annotations: {
          [replicator.replicatedAt]: '2020-01-01T00:00:00Z',
          [replicator.replicatedFromVersion]: '7',
          [replicator.replicatedKeys]: 'a',
        },
      };
    case 'unowned':
    case 'puller':
      return { labels: {}, annotations: {} };
  }
}

/** The labels and annotations nsync would have written here for this source, for `current` objects. */
function writtenMarkers(
  source: SourceState | undefined,
  spec: ObjectSpec,
  request: PullRequest | undefined,
  clusterName: string,
): { labels: Record<string, string>; annotations: Record<string, string> } {
  if (source === undefined || spec.hash !== 'current') return { labels: {}, annotations: {} };
  const rule = source.spec.push.find((candidate) => candidate.targetName === spec.name);
  const now = '2020-01-01T00:00:00Z';
  const mine = spec.owner === 'mine' || spec.owner === 'mine-reflector' || spec.owner === 'mine-kubed';
  if (mine && rule !== undefined) {
    const namespace = spec.namespace;
    const { body } = renderMirror({ source, rule, namespace, existing: undefined, now, clusterName });
    return { labels: body.metadata.labels, annotations: body.metadata.annotations };
  }
  if (request !== undefined) {
    const target: PullTarget = {
      meta: { ...source.meta, namespace: spec.namespace, name: spec.name },
      request,
    };
    return {
      labels: {},
      annotations: mergedAnnotations({}, renderPullPatch({ source, target, now }).patch.metadata.annotations),
    };
  }
  return { labels: {}, annotations: { [owned.contentHash]: contentHash(source.meta.kind, source.content) } };
}

function buildObject(
  kind: Kind,
  source: SourceState | undefined,
  spec: ObjectSpec,
  index: number,
  request: PullRequest | undefined,
  clusterName: string,
): ObjectMeta {
  const markers = ownerMarkers(spec.owner, spec.cluster);
  // A replica as replicator wrote it carries its three markers and nothing of nsync's; with a
  // stray reflector marker (reflectedVersion below) it is no replica at all, just unowned.
  const written =
    spec.owner === 'replica'
      ? { labels: {}, annotations: {} }
      : writtenMarkers(source, spec, request, clusterName);
  const nsyncMarkers = spec.owner !== 'replica';
  const annotations: Record<string, string> = {
    ...markers.annotations,
    ...(spec.hash === 'old' && nsyncMarkers ? { [owned.contentHash]: 'sha256:old' } : {}),
    ...(spec.copied === undefined || !nsyncMarkers
      ? {}
      : { [owned.copiedKeys]: spec.copied, [replicator.replicatedKeys]: spec.copied }),
    ...written.annotations,
    ...(spec.reflectedVersion === undefined ? {} : { [reflector.reflectedVersion]: spec.reflectedVersion }),
  };
  return {
    kind,
    namespace: spec.namespace,
    name: spec.name,
    uid: `uid-${index}`,
    resourceVersion: '1',
    labels: { ...spec.extra, ...markers.labels, ...written.labels },
    annotations,
    ownerReferences: [],
    contentForeign: spec.foreign,
    deleting: spec.deleting,
  };
}

/** The pull request an object spec asks for, if any. */
function requestOf(spec: ObjectSpec): PullRequest | undefined {
  if (spec.owner !== 'puller' && !spec.alsoPulls) return undefined;
  return {
    dialect: spec.pull.dialect,
    source:
      spec.pull.source === 'this'
        ? { namespace: SOURCE_NS, name: SOURCE_NAME }
        : { namespace: 'elsewhere', name: 'db' },
    keys: spec.pull.keys,
  };
}

const worldArb: fc.Arbitrary<World> = fc
  .constantFrom<Kind>('Secret', 'ConfigMap', 'Secret', 'ConfigMap', 'Role', 'RoleBinding', 'ServiceAccount')
  .chain((kind) =>
    fc
      .record({
        source: fc.option(sourceArb(kind), { nil: undefined, freq: 5 }),
        namespaces: namespacesArb,
        specs: fc.uniqueArray(objectSpecArb, {
          maxLength: 10,
          selector: (spec) => at(spec.namespace, spec.name),
        }),
        excluded: fc.oneof(
          { weight: 4, arbitrary: fc.constant(['kube-system']) },
          { weight: 1, arbitrary: fc.subarray(['kube-system', 'a', SOURCE_NS]) },
        ),
        mayPush: fc.integer({ min: 0, max: 99 }).map((roll) => roll < 85),
        rbacTrusted: fc.integer({ min: 0, max: 99 }).map((roll) => roll < 75),
        roles: fc.subarray([...NAMESPACES]),
        dialects: fc.oneof(
          { weight: 4, arbitrary: fc.constant([...DIALECTS]) },
          { weight: 1, arbitrary: fc.subarray([...DIALECTS], { minLength: 1 }) },
        ),
        sourceIsPullTarget: fc.integer({ min: 0, max: 9 }).map((roll) => roll === 0),
        clusterName: fc.constantFrom(...CLUSTERS),
      })
      .map((spec): World => {
        const objects = new Map<string, ObjectMeta>();
        const requests = new Map<string, PullRequest>();
        const held = new Map<string, ReadonlySet<string>>();
        if (spec.source !== undefined) objects.set(at(SOURCE_NS, SOURCE_NAME), spec.source.meta);
        spec.specs.forEach((objectSpec, index) => {
          const key = at(objectSpec.namespace, objectSpec.name);
          if (key === at(SOURCE_NS, SOURCE_NAME)) return;
          const request = requestOf(objectSpec);
          const object = buildObject(kind, spec.source, objectSpec, index, request, spec.clusterName);
          objects.set(key, object);
          held.set(object.uid, new Set(objectSpec.held));
          if (request !== undefined) requests.set(object.uid, request);
        });
        if (spec.source !== undefined && spec.sourceIsPullTarget) {
          requests.set(SOURCE_UID, {
            dialect: 'native',
            source: { namespace: SOURCE_NS, name: SOURCE_NAME },
            keys: undefined,
          });
        }
        return {
          kind,
          source: spec.source,
          namespaces: spec.namespaces,
          objects,
          requests,
          held,
          excluded: new Set(spec.excluded),
          mayPush: spec.mayPush,
          rbacTrusted: spec.rbacTrusted,
          roles: new Set(spec.roles),
          dialects: new Set(spec.dialects),
          clusterName: spec.clusterName,
          now: '2026-01-02T03:04:05Z',
        };
      }),
  );

/** A replicator replica planted by adoptionWorldArb, and what may differ from an adoptable one. */
interface ReplicaSpec {
  readonly namespace: string;
  /** Mostly the source's name, which adoption needs. */
  readonly name: string;
  /** Another kind than the source's: never adoptable. */
  readonly otherKind: boolean;
  /** A user label, which does not stop adoption. */
  readonly labelled: boolean;
  /** Also asks to be filled from this source (a snapshot no real object gives, but plan() must cope). */
  readonly pulls: Dialect | undefined;
}

const replicaSpecArb: fc.Arbitrary<ReplicaSpec> = fc.record({
  namespace: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('a', 'b', 'c') },
    { weight: 1, arbitrary: fc.constantFrom(...OBJECT_NAMESPACES) },
  ),
  name: fc.constantFrom(SOURCE_NAME, SOURCE_NAME, SOURCE_NAME, 'copy'),
  otherKind: fc.integer({ min: 0, max: 9 }).map((roll) => roll === 0),
  labelled: fc.boolean(),
  pulls: fc.option(fc.constantFrom(...DIALECTS), { nil: undefined, freq: 4 }),
});

/**
 * Worlds where adoption is in play: the source (when there is one) also has a replicator push rule
 * to its own name, and replicator replicas sit at some locations, most of them with the source's
 * kind and name. Every other knob (guardrails, dialects, namespaces, other objects) stays random.
 */
const adoptionWorldArb: fc.Arbitrary<World> = fc
  .tuple(
    worldArb,
    fc.oneof({ weight: 2, arbitrary: fc.constant<NamespaceFilter>({ op: 'all' }) }, filterArb),
    fc.uniqueArray(replicaSpecArb, { minLength: 1, maxLength: 4, selector: (r) => at(r.namespace, r.name) }),
  )
  .map(([world, targets, replicas]): World => {
    const objects = new Map(world.objects);
    const requests = new Map(world.requests);
    let source = world.source;
    if (source !== undefined) {
      const rule: PushRule = {
        dialect: 'replicator',
        targets,
        targetName: SOURCE_NAME,
        copy: { labels: true, annotations: false, ownerReferences: false, keys: undefined },
      };
      source = { ...source, spec: { ...source.spec, push: [...source.spec.push, rule] } };
    }
    replicas.forEach((replica, index) => {
      const key = at(replica.namespace, replica.name);
      if (key === at(SOURCE_NS, SOURCE_NAME)) return;
      const previous = objects.get(key);
      if (previous !== undefined) requests.delete(previous.uid);
      const uid = `uid-replica-${index}`;
      objects.set(key, {
        kind: replica.otherKind ? (world.kind === 'Secret' ? 'ConfigMap' : 'Secret') : world.kind,
        namespace: replica.namespace,
        name: replica.name,
        uid,
        resourceVersion: '3',
        labels: replica.labelled ? { team: 'x' } : {},
        annotations: ownerMarkers('replica', undefined).annotations,
        ownerReferences: [],
        contentForeign: false,
        deleting: false,
      });
      if (replica.pulls !== undefined) {
        requests.set(uid, {
          dialect: replica.pulls,
          source: { namespace: SOURCE_NS, name: SOURCE_NAME },
          keys: undefined,
        });
      }
    });
    return { ...world, source, objects, requests };
  });

/** Every world the properties run on: random ones, and ones where adoption is in play. */
const anyWorldArb: fc.Arbitrary<World> = fc.oneof(
  { weight: 3, arbitrary: worldArb },
  { weight: 2, arbitrary: adoptionWorldArb },
);

// ---------------------------------------------------------------- snapshot and simulator

function claimsSource(world: World, object: ObjectMeta): boolean {
  const claim = mirrorClaim(object.kind, object.labels, object.annotations, {
    clusterName: world.clusterName,
  });
  return claim?.sourceNamespace === SOURCE_NS && claim.sourceName === SOURCE_NAME;
}

/** Whether an object's markers are those of a replicator replica, which name no source. */
function isUnnamedReplica(world: World, object: ObjectMeta): boolean {
  const options = { clusterName: world.clusterName };
  return unnamedMirrorClaim(object.kind, object.labels, object.annotations, options) !== undefined;
}

/**
 * The exact conditions under which a replicator replica may be adopted (replaced) by this source,
 * restated from the brief rather than taken from plan(): an unnamed replicator claim, the source's
 * kind and name, another namespace, a replicator push rule of the source selecting the namespace
 * (in force or not), and the replicator dialect enabled.
 */
function adoptableBySource(world: World, object: ObjectMeta, namespace: NamespaceInfo): boolean {
  const source = world.source;
  return (
    source !== undefined &&
    isUnnamedReplica(world, object) &&
    object.kind === world.kind &&
    object.name === SOURCE_NAME &&
    object.namespace !== SOURCE_NS &&
    world.dialects.has('replicator') &&
    source.spec.push.some(
      (rule) => rule.dialect === 'replicator' && evaluateFilter(rule.targets, namespace).match,
    )
  );
}

function isSource(world: World, object: ObjectMeta): boolean {
  return (
    object.uid === SOURCE_UID ||
    (object.namespace === SOURCE_NS && object.name === SOURCE_NAME && world.source !== undefined)
  );
}

/** The snapshot a consistent cache would give for this world, in the given input order. */
function snapshotOf(
  world: World,
  order: (list: readonly unknown[]) => number[] = (list) => list.map((_, i) => i),
): Snapshot {
  const objects = [...world.objects.values()];
  const reorder = <T>(list: readonly T[]): T[] => order(list).map((index) => list[index] as T);
  const pullTargets: PullTarget[] = objects.flatMap((meta) => {
    const request = world.requests.get(meta.uid);
    return request === undefined ? [] : [{ meta, request }];
  });
  return {
    key: { kind: world.kind, namespace: SOURCE_NS, name: SOURCE_NAME },
    source: world.source,
    namespaces: reorder(world.namespaces),
    lookup: (namespace, name) => world.objects.get(at(namespace, name)),
    mirrors: reorder(objects.filter((object) => claimsSource(world, object))),
    pullTargets: reorder(pullTargets),
    guardrails: {
      isExcluded: (namespace) => world.excluded.has(namespace),
      mayPushFrom: () => world.mayPush,
      optOutLabel: OPT_OUT,
      adoptReplicatorReplicas: true,
      dialects: world.dialects,
      clusterName: world.clusterName,
      ...BOUNDARY_DEFAULTS,
      isRbacSource: () => world.rbacTrusted,
    },
    roleExists: (namespace) => world.roles.has(namespace),
    now: world.now,
  };
}

let counter = 0;

/** Asserts that an op may touch what it targets, the way the API server and nsync's rules would. */
function checkAllowed(world: World, op: WriteOp): void {
  const existing = world.objects.get(at(op.target.namespace, op.target.name));
  const namespace = world.namespaces.find((candidate) => candidate.name === op.target.namespace);
  assert.notEqual(at(op.target.namespace, op.target.name), at(SOURCE_NS, SOURCE_NAME), 'never the source');
  assert.ok(!world.excluded.has(op.target.namespace), 'never in an excluded namespace');
  assert.ok(namespace !== undefined && !namespace.terminating, 'only in a known, live namespace');
  assert.ok(existing?.deleting !== true, 'never on an object already being deleted');
  if (isIdentityKind(world.kind) && op.verb !== 'delete') {
    assert.ok(world.rbacTrusted, 'an identity kind is written only from a trusted namespace');
    assert.ok(!IDENTITY_RESERVED_NAMESPACES.has(op.target.namespace), 'never into kube-system and the like');
  }
  if (world.kind === 'RoleBinding' && op.verb === 'create') {
    const roleRef = parseRoleRef(op.body.roleRef === undefined ? undefined : canonicalJson(op.body.roleRef));
    assert.ok(roleRef !== undefined, 'a binding is created with its roleRef');
    assert.ok(
      roleRef.kind !== 'Role' || world.roles.has(op.target.namespace),
      'a binding waits for its Role',
    );
  }
  switch (op.verb) {
    case 'create':
    case 'replace':
      assert.ok(op.verb === 'replace' || existing === undefined, 'create only where nothing is');
      assert.notEqual(namespace.labels[OPT_OUT], 'true', 'never push into an opted-out namespace');
      assert.notEqual(namespace.name, SOURCE_NS, "never push into the source's namespace");
      assert.ok(world.mayPush && !world.excluded.has(SOURCE_NS), 'push only from an allowed namespace');
      if (op.verb === 'create') return;
      assert.ok(existing !== undefined && existing.uid === op.uid, 'replace hits the planned object');
      assert.ok(!isSource(world, existing), 'never replace the source');
      assert.ok(
        claimsSource(world, existing) || adoptableBySource(world, existing, namespace),
        'replace only a mirror of this source, or a replicator replica it may adopt',
      );
      return;
    case 'delete':
      assert.ok(existing !== undefined && existing.uid === op.uid, 'delete hits the planned object');
      assert.ok(!isUnnamedReplica(world, existing), 'never delete on an unnamed claim');
      assert.ok(claimsSource(world, existing), 'delete only a mirror of this source');
      assert.ok(!isSource(world, existing), 'never delete the source');
      return;
    case 'patch': {
      assert.ok(existing !== undefined, 'patch an existing target');
      const request = world.requests.get(existing.uid);
      assert.ok(
        request?.source.namespace === SOURCE_NS && request.source.name === SOURCE_NAME,
        'patch a pull target',
      );
      const claim = mirrorClaim(existing.kind, existing.labels, existing.annotations, {
        clusterName: world.clusterName,
      });
      assert.equal(claim, undefined, 'never patch a pushed mirror');
      assert.ok(!isSource(world, existing), 'never patch the source');
      return;
    }
  }
}

/**
 * The same world a while later, after an edit of the source that changed nothing copied: a new
 * resourceVersion and a new time, which only volatile markers reflect.
 */
function later(world: World): World {
  const source = world.source;
  if (source === undefined) return { ...world, now: '2031-01-01T00:00:00Z' };
  const meta = { ...source.meta, resourceVersion: `${source.meta.resourceVersion}0` };
  const objects = new Map(world.objects);
  objects.set(at(SOURCE_NS, SOURCE_NAME), meta);
  return { ...world, source: { ...source, meta }, objects, now: '2031-01-01T00:00:00Z' };
}

/** Applies one op to the object map as the API server would, preconditions included. */
function apply(
  world: World,
  objects: Map<string, ObjectMeta>,
  held: Map<string, ReadonlySet<string>>,
  op: WriteOp,
): void {
  checkAllowed(world, op);
  const key = at(op.target.namespace, op.target.name);
  const existing = objects.get(key);
  const resourceVersion = `rv-${++counter}`;
  switch (op.verb) {
    case 'create':
    case 'replace': {
      if (op.verb === 'replace') assert.equal(op.body.metadata.resourceVersion, existing?.resourceVersion);
      objects.set(key, {
        kind: op.body.kind,
        namespace: op.body.metadata.namespace,
        name: op.body.metadata.name,
        uid: existing?.uid ?? `uid-new-${counter}`,
        resourceVersion,
        labels: op.body.metadata.labels,
        annotations: op.body.metadata.annotations,
        ownerReferences: op.body.metadata.ownerReferences ?? [],
        contentForeign: false,
        deleting: false,
      });
      return;
    }
    case 'patch': {
      assert.ok(existing !== undefined);
      assert.equal(op.patch.metadata.resourceVersion, existing.resourceVersion);
      const binaryData = op.patch.binaryData ?? {};
      for (const [dataKey, value] of Object.entries(op.patch.data ?? {})) {
        const both = typeof value === 'string' && typeof binaryData[dataKey] === 'string';
        assert.ok(!both, 'a key is never written to data and binaryData at once');
      }
      objects.set(key, {
        ...existing,
        resourceVersion,
        annotations: mergedAnnotations(existing.annotations, op.patch.metadata.annotations),
        contentForeign: false,
      });
      const keys = new Set(held.get(existing.uid));
      for (const [dataKey, value] of [
        ...Object.entries(op.patch.data ?? {}),
        ...Object.entries(binaryData),
      ]) {
        if (value === null || value === '') keys.delete(dataKey);
        else keys.add(dataKey);
      }
      held.set(existing.uid, keys);
      return;
    }
    case 'delete':
      assert.equal(op.resourceVersion, existing?.resourceVersion);
      objects.delete(key);
      return;
  }
}

function applyAll(world: World, result: Plan): World {
  const objects = new Map(world.objects);
  const held = new Map(world.held);
  for (const op of result.ops) apply(world, objects, held, op);
  return { ...world, objects, held };
}

/**
 * plan() as reconcile runs it (app/reconcile.ts planSource): the pull targets it asks to read
 * first get the keys they hold, and the source is planned again.
 */
function planned(world: World): Plan {
  const snapshot = snapshotOf(world);
  const first = plan(snapshot);
  if (first.readsFirst.length === 0) return first;
  const toRead = new Set(first.readsFirst.map((target) => at(target.namespace, target.name)));
  const pullTargets = snapshot.pullTargets.map((target) =>
    toRead.has(at(target.meta.namespace, target.meta.name))
      ? { ...target, held: world.held.get(target.meta.uid) ?? new Set<string>() }
      : target,
  );
  const second = plan({ ...snapshot, pullTargets });
  assert.deepEqual(second.readsFirst, [], 'a target once read is never asked for again');
  return second;
}

/** Target names the source's rules ask for, computed independently of plan(). */
function expectedTargetNames(world: World): Set<string> {
  const source = world.source;
  if (source === undefined) return new Set();
  if (world.kind === 'Secret' && source.content.type === 'helm.sh/release.v1') return new Set();
  return new Set(
    source.spec.push.filter((rule) => world.dialects.has(rule.dialect)).map((rule) => rule.targetName),
  );
}

const RUNS = { numRuns: 400 };

void describe('plan properties', () => {
  void it('converges: applying the planned ops and planning again yields no ops', () => {
    fc.assert(
      fc.property(anyWorldArb, (world) => {
        const first = planned(world);
        const after = applyAll(world, first);
        const second = plan(snapshotOf(after));
        assert.deepEqual(second.ops, [], JSON.stringify(second.decisions, null, 1));
        assert.deepEqual(second.readsFirst, [], 'a written target is never read again');
        assert.deepEqual(
          plan(snapshotOf(later(after))).ops,
          [],
          'volatile markers alone never cause a write',
        );
      }),
      RUNS,
    );
  });

  void it('never overwrites or removes a key a pull target holds of its own, however the source changes', () => {
    let kept = 0;
    fc.assert(
      fc.property(anyWorldArb, sourceArb('Secret'), (world, changed) => {
        // Before the first fill, then after a source change that may bring colliding keys.
        let current = world;
        for (const step of [0, 1]) {
          const result = planned(current);
          for (const op of result.ops) {
            if (op.verb !== 'patch') continue;
            const target = current.objects.get(at(op.target.namespace, op.target.name));
            assert.ok(target !== undefined);
            const copied = previouslyCopiedKeys(target);
            // reflector replaces a `reflects` target's data wholesale and records no key list: a
            // target it filled (reflected-version, no nsync record yet) holds reflector's copies.
            const reflectorCopy =
              current.requests.get(target.uid)?.dialect === 'reflector' &&
              Object.hasOwn(target.annotations, reflector.reflectedVersion) &&
              !Object.hasOwn(target.annotations, owned.copiedKeys);
            const own = reflectorCopy
              ? []
              : [...(current.held.get(target.uid) ?? [])].filter((key) => !copied.has(key));
            const touched = [...Object.keys(op.patch.data ?? {}), ...Object.keys(op.patch.binaryData ?? {})];
            for (const key of own) assert.ok(!touched.includes(key), `its own key ${key} was written`);
          }
          kept += result.decisions.filter((decision) => decision.keptKeys !== undefined).length;
          current = applyAll(current, result);
          const source = current.source;
          if (step === 0 && source !== undefined && current.kind === 'Secret') {
            const content = { ...source.content, data: changed.content.data };
            current = { ...current, source: { ...source, content } };
          }
        }
      }),
      // A colliding key is rare in these worlds (about 1 run in 200): at 400 runs one suite in
      // eight had none and failed the check below, so this property gets enough runs to meet it.
      { numRuns: 2000 },
    );
    assert.ok(kept > 0, 'some runs had a colliding key to keep');
  });

  void it('never targets an unowned object, another source’s mirror or the source; one op per object', () => {
    let adoptions = 0;
    let replicasLeft = 0;
    fc.assert(
      fc.property(anyWorldArb, (world) => {
        const result = planned(world);
        const targets = result.ops.map((op) => at(op.target.namespace, op.target.name));
        assert.equal(new Set(targets).size, targets.length, 'at most one op per object');
        for (const op of result.ops) checkAllowed(world, op);
        for (const object of world.objects.values()) {
          if (!isUnnamedReplica(world, object)) continue;
          const replaced = result.ops.some(
            (op) =>
              op.verb === 'replace' &&
              at(op.target.namespace, op.target.name) === at(object.namespace, object.name),
          );
          if (replaced) adoptions += 1;
          else replicasLeft += 1;
        }
      }),
      RUNS,
    );
    // The adoption rule is only checked if it is exercised, both ways.
    assert.ok(adoptions > 0, 'some worlds adopt a replicator replica');
    assert.ok(replicasLeft > 0, 'some worlds leave a replicator replica alone');
  });

  void it('never writes an object its namespace refused or a contested mirror, nor pushes where consent is missing', () => {
    let consentWorlds = 0;
    fc.assert(
      fc.property(
        anyWorldArb,
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.array(
          fc.option(fc.constantFrom('*', 'platform', 'plat*', '!platform', 'other'), { nil: undefined }),
          {
            minLength: NAMESPACES.length + 1,
            maxLength: NAMESPACES.length + 1,
          },
        ),
        fc.boolean(),
        (world, refusedPicks, contestedPicks, accepts, consentOn) => {
          const objects = [...world.objects.values()];
          const pick = (picks: readonly number[]): Set<string> =>
            new Set(
              picks.flatMap((index) =>
                objects.length === 0 ? [] : [objects[index % objects.length]?.uid ?? ''],
              ),
            );
          const refused = pick(refusedPicks);
          const contested = pick(contestedPicks);
          const marked = new Map(
            objects.map((object): [string, ObjectMeta] => {
              let next = object;
              if (refused.has(object.uid)) {
                next = { ...next, annotations: { ...next.annotations, [owned.refuse]: 'true' } };
              }
              if (contested.has(object.uid)) {
                next = {
                  ...next,
                  contentForeign: true,
                  annotations: { ...next.annotations, [owned.restores]: `3 since ${world.now}` },
                  foreignWrite: { managers: ['gitops'], at: world.now },
                };
              }
              return [at(object.namespace, object.name), next];
            }),
          );
          const namespaces = world.namespaces.map((namespace, index) => {
            const acceptFrom = accepts[index % accepts.length];
            return acceptFrom === undefined ? namespace : { ...namespace, acceptFrom };
          });
          const snapshot = snapshotOf({ ...world, objects: marked, namespaces });
          const result = plan({
            ...snapshot,
            guardrails: { ...snapshot.guardrails, targetConsent: consentOn },
          });
          for (const op of result.ops) {
            const existing = marked.get(at(op.target.namespace, op.target.name));
            if (existing !== undefined) {
              assert.ok(!refused.has(existing.uid), `${op.verb} on a refused object`);
              const isOwnMirror = claimsSource(world, existing);
              if (isOwnMirror)
                assert.ok(
                  !contested.has(existing.uid) || op.verb === 'patch',
                  `${op.verb} on a contested mirror`,
                );
            }
            if (consentOn && (op.verb === 'create' || op.verb === 'replace')) {
              const namespace = namespaces.find((candidate) => candidate.name === op.target.namespace);
              const list = namespace?.acceptFrom;
              const accepted = list === '*' || list === 'platform' || list === 'plat*';
              assert.ok(accepted, `${op.verb} into ${op.target.namespace}, which accepts "${String(list)}"`);
            }
          }
          if (consentOn) consentWorlds += 1;
        },
      ),
      RUNS,
    );
    assert.ok(consentWorlds > 0);
  });

  void it('gives every namespace exactly one push decision per target name, and no duplicates', () => {
    fc.assert(
      fc.property(anyWorldArb, (world) => {
        const result = plan(snapshotOf(world));
        const keys = result.decisions.map((d) => `${d.mode} ${at(d.namespace, d.name)}`);
        assert.equal(new Set(keys).size, keys.length, 'one decision per mode and location');
        for (const namespace of world.namespaces) {
          for (const name of expectedTargetNames(world)) {
            const found = result.decisions.filter(
              (d) => d.mode === 'push' && d.namespace === namespace.name && d.name === name,
            );
            assert.equal(found.length, 1, `${namespace.name}/${name}`);
          }
        }
        for (const d of result.decisions) assert.ok(!d.message.includes(VALUE_MARK), d.message);
      }),
      RUNS,
    );
  });

  void it('is deterministic and independent of input order', () => {
    fc.assert(
      fc.property(anyWorldArb, fc.integer({ min: 0, max: 1000 }), (world, seed) => {
        const result = plan(snapshotOf(world));
        assert.deepEqual(plan(snapshotOf(world)), result);
        const shuffle = (list: readonly unknown[]): number[] =>
          list
            .map((_, index) => ({ index, rank: (index * 7919 + seed * 104729) % 1009 }))
            .sort((a, b) => a.rank - b.rank || a.index - b.index)
            .map(({ index }) => index);
        assert.deepEqual(plan(snapshotOf(world, shuffle)), result);
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------- two sources, one target

/** The namespace both contenders push into, and the target name both want there. */
const SHARED_NS = 'shared';
const SHARED_NAME = 'db';

/** One of two sources that want SHARED_NS/SHARED_NAME. */
interface Contender {
  readonly source: SourceState;
}

/** Filters that all select SHARED_NS (labelled env=prod), some of them other namespaces too. */
const sharedFilterArb: fc.Arbitrary<NamespaceFilter> = fc.constantFrom<NamespaceFilter>(
  { op: 'all' },
  { op: 'names', patterns: [{ text: SHARED_NS, test: (name: string) => name === SHARED_NS }] },
  {
    op: 'selector',
    selector: { text: 'env=prod', requirements: [{ key: 'env', op: 'in', values: ['prod'] }] },
  },
  {
    op: 'or',
    of: [
      { op: 'names', patterns: [{ text: 'nowhere', test: (name: string) => name === 'nowhere' }] },
      { op: 'names', patterns: [{ text: SHARED_NS, test: (name: string) => name === SHARED_NS }] },
    ],
  },
);

/**
 * A contender in `namespace`: named SHARED_NAME (any dialect may push it there, since reflector,
 * replicator and kubed keep the source's name) or named otherwise (then only native rules, which
 * choose the target name). Every rule selects SHARED_NS and targets SHARED_NAME.
 */
const contenderArb = (namespace: string, otherName: string, uid: string): fc.Arbitrary<Contender> =>
  fc
    .record({
      sameName: fc.boolean(),
      rules: fc.array(
        fc.record({
          dialect: fc.constantFrom(...DIALECTS),
          targets: sharedFilterArb,
          copyLabels: fc.boolean(),
          copyAnnotations: fc.boolean(),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      value: fc.string({ maxLength: 4 }),
    })
    .map(({ sameName, rules, value }): Contender => {
      const name = sameName ? SHARED_NAME : otherName;
      const push = rules.map((rule): PushRule => ({
        dialect: sameName ? rule.dialect : 'native',
        targets: rule.targets,
        targetName: SHARED_NAME,
        copy: {
          labels: rule.copyLabels,
          annotations: rule.copyAnnotations,
          ownerReferences: false,
          keys: undefined,
        },
      }));
      return {
        source: {
          meta: {
            kind: 'Secret',
            namespace,
            name,
            uid,
            resourceVersion: '5',
            labels: { app: name },
            annotations: { note: namespace },
            ownerReferences: [],
            contentForeign: false,
            deleting: false,
          },
          content: { type: 'Opaque', data: { a: `${VALUE_MARK}${value}` }, binaryData: {} },
          spec: { push, consent: [], problems: [], unsupported: [] },
        },
      };
    });

/** What sits at SHARED_NS/SHARED_NAME before either source reconciles. */
type Incumbent =
  | 'none'
  | 'unowned'
  | 'replica'
  | 'kubed-copy-of-first'
  | 'reflector-mirror-of-second'
  | 'kubed-copy-from-elsewhere';

function incumbentObject(
  incumbent: Incumbent,
  first: SourceState,
  second: SourceState,
  cluster: string,
): ObjectMeta | undefined {
  const base = {
    kind: 'Secret' as const,
    namespace: SHARED_NS,
    name: SHARED_NAME,
    uid: 'uid-incumbent',
    resourceVersion: '1',
    ownerReferences: [],
    contentForeign: false,
    deleting: false,
  };
  switch (incumbent) {
    case 'none':
      return undefined;
    case 'unowned':
      return { ...base, labels: { app: 'mine' }, annotations: {} };
    case 'replica':
      return { ...base, labels: {}, annotations: ownerMarkers('replica', undefined).annotations };
    case 'kubed-copy-of-first':
    case 'kubed-copy-from-elsewhere': {
      const origin = incumbent === 'kubed-copy-of-first' ? first.meta : { namespace: 'far', name: 'away' };
      return {
        ...base,
        labels: {
          [kubed.originName]: origin.name,
          [kubed.originNamespace]: origin.namespace,
          [kubed.originCluster]: cluster,
        },
        annotations: {},
      };
    }
    case 'reflector-mirror-of-second':
      return {
        ...base,
        labels: {},
        annotations: {
          [reflector.reflects]: at(second.meta.namespace, second.meta.name),
          [reflector.autoReflects]: 'True',
        },
      };
  }
}

interface Contest {
  readonly contenders: readonly [Contender, Contender];
  readonly incumbent: Incumbent;
  /** The cluster name of the incumbent's kubed label; the controller's own is `clusterName`. */
  readonly incumbentCluster: string;
  readonly clusterName: string;
  /** Which contender reconciles at each step (0 or 1). */
  readonly schedule: readonly (0 | 1)[];
}

const contestArb: fc.Arbitrary<Contest> = fc.record({
  contenders: fc.tuple(contenderArb('team-a', 'src-a', 'uid-a'), contenderArb('team-b', 'src-b', 'uid-b')),
  incumbent: fc.constantFrom<Incumbent>(
    'none',
    'none',
    'unowned',
    'replica',
    'replica',
    'kubed-copy-of-first',
    'reflector-mirror-of-second',
    'kubed-copy-from-elsewhere',
  ),
  incumbentCluster: fc.constantFrom(...CLUSTERS),
  clusterName: fc.constantFrom(...CLUSTERS),
  schedule: fc.oneof(
    fc.array(fc.constantFrom<0 | 1>(0, 1), { minLength: 2, maxLength: 10 }),
    fc
      .tuple(fc.constantFrom<0 | 1>(0, 1), fc.integer({ min: 2, max: 10 }))
      .map(([start, length]) => Array.from({ length }, (_, step) => ((start + step) % 2) as 0 | 1)),
  ),
});

const CONTEST_NAMESPACES: readonly NamespaceInfo[] = [
  { name: 'team-a', labels: {}, terminating: false },
  { name: 'team-b', labels: {}, terminating: false },
  { name: SHARED_NS, labels: { env: 'prod' }, terminating: false },
];

/** The snapshot a consistent cache gives one contender over the shared object map. */
function contestSnapshot(
  source: SourceState,
  objects: ReadonlyMap<string, ObjectMeta>,
  clusterName: string,
  step: number,
): Snapshot {
  const options = { clusterName };
  return {
    key: { kind: source.meta.kind, namespace: source.meta.namespace, name: source.meta.name },
    source,
    namespaces: CONTEST_NAMESPACES,
    lookup: (namespace, name) => objects.get(at(namespace, name)),
    mirrors: [...objects.values()].filter((object) => {
      const claim = mirrorClaim(object.kind, object.labels, object.annotations, options);
      return claim?.sourceNamespace === source.meta.namespace && claim.sourceName === source.meta.name;
    }),
    pullTargets: [],
    guardrails: {
      isExcluded: () => false,
      mayPushFrom: () => true,
      optOutLabel: OPT_OUT,
      adoptReplicatorReplicas: true,
      dialects: new Set(DIALECTS),
      clusterName,
      ...BOUNDARY_DEFAULTS,
    },
    now: `2026-01-02T03:04:${String(step).padStart(2, '0')}Z`,
  };
}

/** Applies one contender's op to the shared map as the API server would, preconditions included. */
function applyContest(objects: Map<string, ObjectMeta>, op: WriteOp, step: number, index: number): void {
  const key = at(op.target.namespace, op.target.name);
  const existing = objects.get(key);
  const resourceVersion = `rv-${step}-${index}`;
  switch (op.verb) {
    case 'create':
    case 'replace':
      if (op.verb === 'create') assert.equal(existing, undefined, 'create only where nothing is');
      else {
        assert.ok(existing !== undefined && existing.uid === op.uid, 'replace hits the planned object');
        assert.equal(op.body.metadata.resourceVersion, existing.resourceVersion);
      }
      objects.set(key, {
        kind: op.body.kind,
        namespace: op.body.metadata.namespace,
        name: op.body.metadata.name,
        uid: existing?.uid ?? `uid-${key}-${step}`,
        resourceVersion,
        labels: op.body.metadata.labels,
        annotations: op.body.metadata.annotations,
        ownerReferences: op.body.metadata.ownerReferences ?? [],
        contentForeign: false,
        deleting: false,
      });
      return;
    case 'delete':
      assert.equal(existing?.uid, op.uid, 'delete hits the planned object');
      objects.delete(key);
      return;
    case 'patch':
      assert.fail('no pull targets in a contest');
  }
}

void describe('plan properties: two sources, one target', () => {
  void it('never flips ownership: after the first write on the shared namespace, no op ever targets it again', () => {
    let contested = 0;
    fc.assert(
      fc.property(contestArb, (contest) => {
        const [first, second] = contest.contenders.map((contender) => contender.source) as [
          SourceState,
          SourceState,
        ];
        const objects = new Map<string, ObjectMeta>();
        for (const source of [first, second])
          objects.set(at(source.meta.namespace, source.meta.name), source.meta);
        const incumbent = incumbentObject(contest.incumbent, first, second, contest.incumbentCluster);
        if (incumbent !== undefined) objects.set(at(SHARED_NS, SHARED_NAME), incumbent);
        const writes: string[] = [];
        let owner: string | undefined;
        contest.schedule.forEach((who, step) => {
          const source = who === 0 ? first : second;
          const self = at(source.meta.namespace, source.meta.name);
          const result = plan(contestSnapshot(source, objects, contest.clusterName, step));
          const shared = result.decisions.find(
            (d: Decision) => d.mode === 'push' && d.namespace === SHARED_NS && d.name === SHARED_NAME,
          );
          assert.ok(shared !== undefined, 'every contender judges the shared target');
          if (owner !== undefined && owner !== self) {
            // The loser is told, naming both sources, and touches nothing.
            assert.equal(shared.code, 'conflict-other-source', shared.message);
            assert.ok(shared.message.includes(owner), `names the owner: ${shared.message}`);
            assert.ok(shared.message.includes(self), `names the loser: ${shared.message}`);
            contested += 1;
          }
          result.ops.forEach((op, index) => {
            if (op.target.namespace === SHARED_NS) {
              writes.push(`${self} ${op.verb} ${op.target.name} at step ${step}`);
              owner ??= self;
            }
            applyContest(objects, op, step, index);
          });
          assert.ok(writes.length <= 1, `one write on ${SHARED_NS} at most: ${writes.join('; ')}`);
        });
        // Whoever wrote first owns it, by its markers, at the end.
        if (owner !== undefined) {
          const final = objects.get(at(SHARED_NS, SHARED_NAME));
          assert.ok(final !== undefined);
          const claim = mirrorClaim(final.kind, final.labels, final.annotations, {
            clusterName: contest.clusterName,
          });
          assert.equal(claim === undefined ? undefined : at(claim.sourceNamespace, claim.sourceName), owner);
        }
      }),
      { numRuns: 300 },
    );
    assert.ok(contested > 0, 'some contests have a loser that reconciles after the winner');
  });
});
