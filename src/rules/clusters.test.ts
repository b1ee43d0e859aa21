import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  clusterAccepts,
  clusterAnnotationsOf,
  localPushRules,
  parseClusterAnnotations,
  remotePushRules,
  selectsCluster,
  type ClusterInfo,
} from './clusters.ts';
import { native } from './markers.ts';
import type { ClusterFilter, PushRule } from './model.ts';

const CLUSTERS: readonly ClusterInfo[] = [
  { name: 'home', labels: {} },
  { name: 'prod-eu', labels: { env: 'prod', region: 'eu' } },
  { name: 'prod-us', labels: { env: 'prod', region: 'us' } },
  { name: 'prod-legacy', labels: { env: 'prod' } },
  { name: 'staging', labels: { env: 'staging' } },
  { name: 'arn:aws:eks:eu-west-1:1:cluster/edge', labels: {} },
];

function filterOf(list?: string, selector?: string): ClusterFilter {
  const parsed = parseClusterAnnotations(list, selector);
  assert.deepEqual(parsed.problems, []);
  assert.ok(parsed.clusters !== undefined);
  return parsed.clusters;
}

function reached(filter: ClusterFilter): string[] {
  return CLUSTERS.filter((cluster) => selectsCluster(filter, cluster).match).map((cluster) => cluster.name);
}

function rule(clusters?: ClusterFilter, origin?: PushRule['origin']): PushRule {
  return {
    dialect: 'native',
    targets: { op: 'all' },
    targetName: 'x',
    copy: { labels: false, annotations: false, ownerReferences: false, keys: undefined },
    ...(clusters === undefined ? {} : { clusters }),
    ...(origin === undefined ? {} : { origin }),
  };
}

void describe('cluster selection annotations', () => {
  void test('absent or blank: no selection (this cluster only), no problem', () => {
    assert.deepEqual(parseClusterAnnotations(undefined, undefined), { clusters: undefined, problems: [] });
    assert.deepEqual(parseClusterAnnotations(' , ,', undefined), { clusters: undefined, problems: [] });
  });

  void test('globs with exclusions', () => {
    assert.deepEqual(reached(filterOf('prod-*, !prod-legacy')), ['prod-eu', 'prod-us']);
  });

  void test('"*" is every cluster, this one included', () => {
    assert.deepEqual(
      reached(filterOf('*')),
      CLUSTERS.map((cluster) => cluster.name),
    );
  });

  void test('only exclusions: every cluster but those', () => {
    assert.deepEqual(reached(filterOf('!prod-*')), [
      'home',
      'staging',
      'arn:aws:eks:eu-west-1:1:cluster/edge',
    ]);
  });

  void test('a context name outside the namespace alphabet can be named', () => {
    assert.deepEqual(reached(filterOf('arn:aws:eks:*/edge')), ['arn:aws:eks:eu-west-1:1:cluster/edge']);
  });

  void test('a selector over cluster labels, ANDed with the globs; this cluster has no labels', () => {
    assert.deepEqual(reached(filterOf(undefined, 'env=prod')), ['prod-eu', 'prod-us', 'prod-legacy']);
    assert.deepEqual(reached(filterOf('*, !prod-us', 'env=prod,region')), ['prod-eu']);
    assert.deepEqual(reached(filterOf(undefined, '!env')), ['home', 'arn:aws:eks:eu-west-1:1:cluster/edge']);
  });

  void test('bad globs and selectors are problems naming their annotation', () => {
    const bad = parseClusterAnnotations('prod-*, "eu"', 'env in (prod');
    assert.equal(bad.clusters, undefined);
    assert.deepEqual(
      bad.problems.map((problem) => problem.annotation),
      [native.pushToClusters, native.pushToClustersSelector],
    );
    assert.match(bad.problems[0]?.message ?? '', /quotes/);
    assert.match(bad.problems[1]?.message ?? '', /selector/);
    assert.match(parseClusterAnnotations('!*', undefined).problems[0]?.message ?? '', /every cluster/);
    assert.match(
      parseClusterAnnotations('prod, !', undefined).problems[0]?.message ?? '',
      /followed by the cluster name/,
    );
    // Wider than a namespace (contexts like arn:…/prod, admin@prod), but not every character: a "+" is refused.
    assert.deepEqual(
      parseClusterAnnotations('arn:aws:eks:eu-west-1:1:cluster/prod, admin@Prod_1', undefined).problems,
      [],
    );
    assert.match(
      parseClusterAnnotations('prod+eu', undefined).problems[0]?.message ?? '',
      /can never match a cluster name/,
    );
  });

  void test('read from annotations, remembered by text: the same answer as parsing', () => {
    const annotations = { [native.pushToClusters]: 'prod-*', [native.pushToClustersSelector]: 'env=prod' };
    const first = clusterAnnotationsOf(annotations);
    assert.equal(clusterAnnotationsOf({ ...annotations }), first);
    assert.ok(first.clusters !== undefined);
    assert.deepEqual(reached(first.clusters), ['prod-eu', 'prod-us', 'prod-legacy']);
    // A list alone and a selector alone with the same text are different questions.
    const listOnly = clusterAnnotationsOf({ [native.pushToClusters]: 'env=prod' });
    const selectorOnly = clusterAnnotationsOf({ [native.pushToClustersSelector]: 'env=prod' });
    assert.equal(listOnly.problems.length, 1);
    assert.deepEqual(selectorOnly.problems, []);
    assert.deepEqual(clusterAnnotationsOf({ [native.pushTo]: '*' }), { clusters: undefined, problems: [] });
  });

  void test('property: a name is selected iff it matches an include (or there are none) and no exclude', () => {
    const name = fc.string({ unit: fc.constantFrom('a', 'b', '-'), minLength: 1, maxLength: 4 });
    const glob = fc.string({ unit: fc.constantFrom('a', 'b', '-', '*', '?'), minLength: 1, maxLength: 4 });
    const toRegex = (text: string): RegExp =>
      new RegExp(`^${text.replaceAll('*', '.*').replaceAll('?', '.')}$`, 'u');
    fc.assert(
      fc.property(
        fc.array(glob, { maxLength: 3 }),
        fc.array(
          glob.filter((text) => !/^\*+$/u.test(text)),
          { maxLength: 2 },
        ),
        name,
        (includes, excludes, cluster) => {
          fc.pre(includes.length + excludes.length > 0);
          const filter = filterOf([...includes, ...excludes.map((text) => `!${text}`)].join(','));
          const expected =
            (includes.length === 0 || includes.some((text) => toRegex(text).test(cluster))) &&
            !excludes.some((text) => toRegex(text).test(cluster));
          assert.equal(selectsCluster(filter, { name: cluster, labels: {} }).match, expected);
        },
      ),
    );
  });
});

void describe('local rules', () => {
  void test('a rule without a selection is served as it is', () => {
    const plain = rule();
    assert.deepEqual(localPushRules([plain], ''), { push: [plain], problems: [] });
    assert.deepEqual(localPushRules([plain], 'home'), { push: [plain], problems: [] });
  });

  void test('a selection that names this cluster is served locally without it; one that does not is not', () => {
    const all = localPushRules([rule(filterOf('*'))], 'home');
    assert.deepEqual(all, { push: [rule()], problems: [] });
    assert.deepEqual(localPushRules([rule(filterOf('prod-*'))], 'home'), { push: [], problems: [] });
    // This cluster has no labels: a label selector never names it.
    assert.deepEqual(localPushRules([rule(filterOf('*', 'env=prod'))], 'home'), { push: [], problems: [] });
  });

  void test('without --cluster-name a rule naming clusters is not served, and said so; other rules are', () => {
    const plain = rule();
    const result = localPushRules([rule(filterOf('*')), plain], '');
    assert.deepEqual(result.push, [plain]);
    const [problem, ...more] = result.problems;
    assert.deepEqual(more, []);
    assert.ok(problem);
    assert.equal(problem.annotation, native.pushToClusters);
    assert.match(problem.message, /--cluster-name/);
    const resource = localPushRules(
      [rule(filterOf('*'), { kind: 'ClusterMirror', namespace: undefined, name: 'm' })],
      '',
    );
    assert.equal(resource.problems[0]?.annotation, 'ClusterMirror/m spec.clusters');
  });
});

void describe('remote rules and consent', () => {
  const prodEu = { name: 'prod-eu', labels: { env: 'prod' }, acceptFrom: 'team-*, !team-x' };

  void test('only rules whose selection reaches the cluster are listed', () => {
    const verdicts = remotePushRules(
      [rule(), rule(filterOf('staging')), rule(filterOf(undefined, 'env=prod'))],
      prodEu,
      'team-a',
    );
    assert.equal(verdicts.length, 1);
    assert.equal(verdicts[0]?.served, true);
  });

  void test('accept-from decides for annotations and Mirrors; a ClusterMirror needs no consent', () => {
    const mirror = rule(filterOf('*'), { kind: 'Mirror', namespace: 'team-x', name: 'm' });
    const cluster = rule(filterOf('*'), { kind: 'ClusterMirror', namespace: undefined, name: 'm' });
    const [refused] = remotePushRules([mirror], prodEu, 'team-x');
    assert.ok(refused !== undefined && !refused.served);
    assert.match(refused.why, /does not accept pushes from team-x/);
    assert.equal(remotePushRules([cluster], prodEu, 'team-x')[0]?.served, true);
    assert.equal(remotePushRules([rule(filterOf('*'))], prodEu, 'team-a')[0]?.served, true);
    assert.equal(remotePushRules([rule(filterOf('*'))], prodEu, 'other')[0]?.served, false);
  });

  void test('no accept-from admits nobody; "*" (a kubeconfig context) admits everybody; a bad one nobody', () => {
    assert.equal(clusterAccepts(undefined, 'c', {}, 'team-a').match, false);
    assert.equal(clusterAccepts(' ', 'c', {}, 'team-a').match, false);
    assert.equal(clusterAccepts('*', 'c', {}, 'team-a').match, true);
    const bad = clusterAccepts('Team_A', 'c', {}, 'team-a');
    assert.equal(bad.match, false);
    assert.match(bad.why, /invalid/);
  });
});
