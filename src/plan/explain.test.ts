import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCluster, formatExplain, localHeading, type ClusterExplanation } from './explain.ts';
import type { Decision, WriteOp } from './model.ts';
import { planOf } from '../testing/plan.ts';

function decision(
  namespace: string,
  name: string,
  mode: Decision['mode'],
  code: Decision['code'],
  message: string,
): Decision {
  return { namespace, name, mode, code, message };
}

const deleteOp: WriteOp = {
  verb: 'delete',
  target: { kind: 'Secret', namespace: 'b', name: 'db' },
  uid: 'u',
  resourceVersion: '1',
};

void describe('formatExplain', () => {
  void it('prints one aligned line per decision under a header, sorted by namespace, name and mode', () => {
    const text = formatExplain(
      planOf({
        decisions: [
          decision('team-b', 'db', 'pull', 'update', 'Fills it.'),
          decision('team-b', 'db', 'push', 'conflict-unowned', 'Left untouched.'),
          decision('a', 'db-copy', 'push', 'create', 'Creates it.'),
        ],
        ops: [deleteOp],
      }),
    );
    assert.equal(
      text,
      [
        'NAMESPACE  NAME     MODE  DECISION          REASON',
        'a          db-copy  push  create            Creates it.',
        'team-b     db       push  conflict-unowned  Left untouched.',
        'team-b     db       pull  update            Fills it.',
        '',
        'Writes planned: 1 (create 0, replace 0, patch 0, delete 1).',
        '',
      ].join('\n'),
    );
  });

  void it('says so when there is nothing to decide', () => {
    assert.match(formatExplain(planOf()), /^No targets/);
  });

  void it('lists the source’s problems and the targets’ problems', () => {
    const text = formatExplain(
      planOf({
        sourceProblems: [
          { dialect: 'reflector', annotation: 'reflector.v1.k8s.emberstack.com/x', message: 'Bad.' },
        ],
        targetProblems: [
          {
            target: { kind: 'ConfigMap', namespace: 'a', name: 'cfg' },
            problems: [{ dialect: 'native', annotation: 'nsync.dev/pull-from', message: 'Not a reference.' }],
          },
          { target: { kind: 'ConfigMap', namespace: 'a', name: 'fine' }, problems: [] },
        ],
      }),
    );
    assert.match(
      text,
      /Problems with the source annotations:\n {2}reflector reflector\.v1\.k8s\.emberstack\.com\/x: Bad\./,
    );
    assert.match(
      text,
      /Problems with ConfigMap a\/cfg:\n {2}native nsync\.dev\/pull-from: Not a reference\./,
    );
    assert.doesNotMatch(text, /a\/fine/);
  });

  void it('keeps every decision on one line even when a reason holds line breaks', () => {
    const text = formatExplain(
      planOf({ decisions: [decision('a', 'db', 'push', 'not-selected', 'name matches none of "x\ny".')] }),
    );
    assert.equal(text.split('\n').filter((line) => line.startsWith('a ')).length, 1);
    assert.match(text, /none of "x y"/);
  });
});

void describe('formatCluster', () => {
  const east = (outcome: ClusterExplanation['outcome']): ClusterExplanation => ({
    name: 'east',
    origin: 'kubeconfig',
    server: 'https://10.0.0.1:6443',
    namespace: 'team-a',
    outcome,
  });

  void it('heads a planned cluster’s table with its name, origin, confinement and server', () => {
    const text = formatCluster(
      east({
        status: 'planned',
        plan: planOf({
          decisions: [decision('team-a', 'db', 'push', 'conflict-unowned', 'Left untouched.')],
        }),
        namespaces: 1,
      }),
    );
    assert.equal(
      text,
      [
        'Cluster east (kubeconfig context, namespace team-a, https://10.0.0.1:6443):',
        'NAMESPACE  NAME  MODE  DECISION          REASON',
        'team-a     db    push  conflict-unowned  Left untouched.',
        '',
        'Writes planned: 0 (create 0, replace 0, patch 0, delete 0).',
        '',
      ].join('\n'),
    );
  });

  void it('says in one line why a cluster could not be planned', () => {
    assert.equal(
      formatCluster({
        ...east({ status: 'unreachable', reason: 'cannot reach https://10.0.0.1:6443: refused' }),
        namespace: undefined,
      }),
      'Cluster east (kubeconfig context, https://10.0.0.1:6443): unreachable: cannot reach https://10.0.0.1:6443: refused\n',
    );
    assert.equal(
      formatCluster({
        ...east({ status: 'forbidden', reason: 'GET /api/v1/namespaces: 403\nForbidden' }),
        origin: 'registered',
      }),
      'Cluster east (registered cluster, namespace team-a, https://10.0.0.1:6443): forbidden: GET /api/v1/namespaces: 403 Forbidden\n',
    );
  });

  void it('says when nothing concerns the cluster, and when the target namespace is missing there', () => {
    assert.match(
      formatCluster(east({ status: 'planned', plan: undefined, namespaces: 0 })),
      /^Cluster east .*:\nNothing to do: the source does not name this cluster/,
    );
    assert.match(
      formatCluster(east({ status: 'planned', plan: planOf(), namespaces: 0 })),
      /^Cluster east .*:\nNo target: the namespace it would be copied into does not exist there/,
    );
  });

  void it('names this cluster in the local section’s heading', () => {
    assert.equal(localHeading('home'), 'Cluster home (this cluster):');
  });
});
