import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toMirrorRule } from '../../api/convert.ts';
import { evaluateFilter } from '../../rules/filter.ts';
import { kubed, native } from '../../rules/markers.ts';
import type { NamespaceInfo, PushRule } from '../../rules/model.ts';
import { parseSource } from '../../rules/parse.ts';
import type { CachedMirror } from '../mirror-resources.ts';
import { unnamedClusterProblems } from '../resource-status.ts';
import { remoteRulesOf } from './cluster.ts';

const SOURCE = { namespace: 'app', name: 'db' };
const NAMESPACES: readonly NamespaceInfo[] = ['app', 'team-a', 'team-b', 'edge'].map((name) => ({
  name,
  labels: name.startsWith('team-') ? { tier: 'team' } : {},
  terminating: false,
}));

function pushOf(annotations: Record<string, string>): readonly PushRule[] {
  const spec = parseSource('Secret', SOURCE.namespace, SOURCE.name, annotations, 'Opaque');
  assert.deepEqual(spec.problems, []);
  return spec.push;
}

function reached(rule: PushRule): string[] {
  return NAMESPACES.filter((namespace) => evaluateFilter(rule.targets, namespace).match).map(
    (namespace) => namespace.name,
  );
}

const context = { name: 'west', namespace: undefined, labels: {}, acceptFrom: '*' };
const registered = { name: 'prod-eu', namespace: undefined, labels: { env: 'prod' }, acceptFrom: 'app' };

void describe('remoteRulesOf', () => {
  void test("kubed's sync-contexts: the source's namespace, or the context's", () => {
    const annotations = { [kubed.syncContexts]: 'west' };
    const [rule, ...rest] = remoteRulesOf(context, { ...SOURCE, annotations }, []).push;
    assert.deepEqual(rest, []);
    assert.ok(rule);
    assert.equal(rule.dialect, 'kubed');
    assert.deepEqual(reached(rule), ['app']);
    const confined = remoteRulesOf({ ...context, namespace: 'edge' }, { ...SOURCE, annotations }, []);
    assert.deepEqual(confined.push.map(reached), [['edge']]);
    assert.deepEqual(remoteRulesOf(registered, { ...SOURCE, annotations }, []).push, []);
  });

  void test('native annotations: the selected clusters, with their namespace targets and no cluster selection', () => {
    const annotations = {
      [native.pushToClusters]: 'west, prod-*',
      [native.pushTo]: 'team-*',
      [native.pushToSelector]: 'tier=team',
    };
    const push = pushOf(annotations);
    for (const cluster of [context, registered]) {
      const rules = remoteRulesOf(cluster, { ...SOURCE, annotations }, push);
      assert.deepEqual(rules.refused, []);
      assert.deepEqual(rules.push.map(reached), [['team-a', 'team-b']]);
      assert.equal(rules.push[0]?.clusters, undefined);
    }
    const other = remoteRulesOf({ ...context, name: 'east' }, { ...SOURCE, annotations }, push);
    assert.deepEqual(other, { push: [], refused: [] });
  });

  void test('a rule for this cluster only never reaches a remote one', () => {
    const annotations = { [native.pushTo]: '*' };
    assert.deepEqual(remoteRulesOf(context, { ...SOURCE, annotations }, pushOf(annotations)), {
      push: [],
      refused: [],
    });
  });

  void test("a Mirror needs the cluster's accept-from; a ClusterMirror does not", () => {
    const spec = {
      source: { kind: 'Secret', name: 'db' },
      targets: { namespaces: ['*'] },
      clusters: { selector: { matchLabels: { env: 'prod' } } },
    };
    const mirror = toMirrorRule({
      apiVersion: 'nsync.dev/v1alpha1',
      kind: 'Mirror',
      metadata: { name: 'm', namespace: 'app' },
      spec: spec as never,
    });
    const clusterMirror = toMirrorRule({
      apiVersion: 'nsync.dev/v1alpha1',
      kind: 'ClusterMirror',
      metadata: { name: 'm' },
      spec: { ...spec, source: { ...spec.source, namespace: 'app' } } as never,
    });
    assert.ok(mirror.ok && clusterMirror.ok);
    const withOrigin = (converted: typeof mirror & { ok: true }): PushRule => ({
      ...converted.rule.push,
      origin: converted.rule.origin,
    });
    const closed = { ...registered, acceptFrom: undefined };
    const refused = remoteRulesOf(closed, { ...SOURCE, annotations: {} }, [withOrigin(mirror)]);
    assert.deepEqual(refused.push, []);
    assert.equal(refused.refused.length, 1);
    assert.match(refused.refused[0]?.why ?? '', /accepts pushes from no namespace/);
    const served = remoteRulesOf(closed, { ...SOURCE, annotations: {} }, [withOrigin(clusterMirror)]);
    assert.equal(served.push.length, 1);
    assert.deepEqual(served.refused, []);
    assert.equal(
      remoteRulesOf(registered, { ...SOURCE, annotations: {} }, [withOrigin(mirror)]).push.length,
      1,
    );
  });
});

void describe('a resource naming clusters without --cluster-name', () => {
  void test('its status says why it is not served; with a name, or without clusters, nothing is said', () => {
    const cached = (spec: object): CachedMirror => {
      const resource = {
        apiVersion: 'nsync.dev/v1alpha1',
        kind: 'ClusterMirror' as const,
        metadata: { name: 'm' },
        spec: spec as never,
      };
      return { key: 'ClusterMirror/m', resource, conversion: toMirrorRule(resource), sourceKey: undefined };
    };
    const base = { source: { kind: 'Secret', namespace: 'app', name: 'db' }, targets: { namespaces: ['*'] } };
    const naming = cached({ ...base, clusters: { names: ['*'] } });
    const [problem, ...rest] = unnamedClusterProblems(naming, '');
    assert.deepEqual(rest, []);
    assert.ok(problem !== undefined);
    assert.equal(problem.field, 'spec.clusters');
    assert.match(problem.message, /--cluster-name/);
    assert.deepEqual(unnamedClusterProblems(naming, 'home'), []);
    assert.deepEqual(unnamedClusterProblems(cached(base), ''), []);
  });
});
