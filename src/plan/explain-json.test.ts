import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXPLAIN_API_VERSION, explainDocument } from './explain-json.ts';
import type { ClusterExplanation } from './explain.ts';
import type { Decision, WriteOp } from './model.ts';
import { planOf } from '../testing/plan.ts';

const source = { kind: 'Secret', namespace: 'platform', name: 'db' } as const;

function decision(namespace: string, mode: Decision['mode'], code: string, message: string): Decision {
  // A code the planner may add later flows through as it is: the document passes strings on.
  return { namespace, name: 'db', mode, code: code as Decision['code'], message };
}

const op = (verb: 'create' | 'patch', namespace: string): WriteOp =>
  verb === 'create'
    ? {
        verb,
        target: { kind: 'Secret', namespace, name: 'db' },
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: 'db', namespace, labels: {}, annotations: {} },
        },
      }
    : {
        verb,
        target: { kind: 'Secret', namespace, name: 'db' },
        patch: { metadata: { resourceVersion: '1', annotations: {} }, data: {} },
      };

void describe('explainDocument', () => {
  void it('gives every decision its reason code, sentence and planned write, sorted as the table', () => {
    const document = explainDocument(
      source,
      true,
      planOf({
        decisions: [
          decision('team-b', 'pull', 'update', 'Fills it.'),
          decision('team-b', 'push', 'conflict-unowned', 'Left untouched.'),
          decision('team-a', 'push', 'create', 'Creates it.'),
          decision('team-c', 'push', 'contested-by-a-newer-reason', 'A reason this test does not know.'),
        ],
        ops: [op('create', 'team-a'), op('patch', 'team-b')],
      }),
    );
    assert.deepEqual(JSON.parse(JSON.stringify(document)), {
      apiVersion: EXPLAIN_API_VERSION,
      kind: 'Explanation',
      source: { kind: 'Secret', namespace: 'platform', name: 'db', exists: true },
      targets: [
        {
          namespace: 'team-a',
          name: 'db',
          mode: 'push',
          decision: 'create',
          reason: 'Creates it.',
          write: 'create',
          keptKeys: [],
        },
        {
          namespace: 'team-b',
          name: 'db',
          mode: 'push',
          decision: 'conflict-unowned',
          reason: 'Left untouched.',
          write: null,
          keptKeys: [],
        },
        {
          namespace: 'team-b',
          name: 'db',
          mode: 'pull',
          decision: 'update',
          reason: 'Fills it.',
          write: 'patch',
          keptKeys: [],
        },
        {
          namespace: 'team-c',
          name: 'db',
          mode: 'push',
          decision: 'contested-by-a-newer-reason',
          reason: 'A reason this test does not know.',
          write: null,
          keptKeys: [],
        },
      ],
      writes: { create: 1, replace: 0, patch: 1, delete: 0 },
      problems: [],
      clusters: [],
    });
  });

  void it('says when the source does not exist, and lists kept keys and every problem with its object', () => {
    const document = explainDocument(
      source,
      false,
      planOf({
        decisions: [{ ...decision('team-a', 'pull', 'source-missing', 'Gone.'), keptKeys: ['own'] }],
        sourceProblems: [{ dialect: 'native', annotation: 'nsync.dev/push-to', message: 'Bad pattern.' }],
        targetProblems: [
          {
            target: { kind: 'Secret', namespace: 'team-a', name: 'wants' },
            problems: [
              {
                dialect: 'reflector',
                annotation: 'reflector.v1.k8s.emberstack.com/reflects',
                message: 'Bad.',
              },
            ],
          },
        ],
      }),
    );
    assert.equal(document.source.exists, false);
    assert.deepEqual(document.targets[0]?.keptKeys, ['own']);
    assert.deepEqual(document.problems, [
      { object: source, dialect: 'native', annotation: 'nsync.dev/push-to', message: 'Bad pattern.' },
      {
        object: { kind: 'Secret', namespace: 'team-a', name: 'wants' },
        dialect: 'reflector',
        annotation: 'reflector.v1.k8s.emberstack.com/reflects',
        message: 'Bad.',
      },
    ]);
  });

  void it('adds one entry per remote cluster, every field present whatever its outcome', () => {
    const cluster = (name: string, outcome: ClusterExplanation['outcome']): ClusterExplanation => ({
      name,
      origin: 'kubeconfig',
      server: `https://${name}.example:6443`,
      namespace: name === 'east' ? 'team-a' : undefined,
      outcome,
    });
    const document = explainDocument(source, true, planOf(), [
      cluster('east', {
        status: 'planned',
        plan: planOf({
          decisions: [decision('team-a', 'push', 'create', 'Creates it there.')],
          ops: [op('create', 'team-a')],
        }),
        namespaces: 1,
      }),
      cluster('west', { status: 'unreachable', reason: 'cannot reach https://west.example:6443: refused' }),
      cluster('north', { status: 'forbidden', reason: 'GET /api/v1/namespaces: 403 Forbidden' }),
      cluster('south', { status: 'planned', plan: undefined, namespaces: 0 }),
      cluster('gone', { status: 'planned', plan: planOf(), namespaces: 0 }),
    ]);
    const none = { create: 0, replace: 0, patch: 0, delete: 0 };
    assert.deepEqual(JSON.parse(JSON.stringify(document.clusters)), [
      {
        name: 'east',
        origin: 'kubeconfig',
        server: 'https://east.example:6443',
        namespace: 'team-a',
        status: 'planned',
        reason: null,
        targets: [
          {
            namespace: 'team-a',
            name: 'db',
            mode: 'push',
            decision: 'create',
            reason: 'Creates it there.',
            write: 'create',
            keptKeys: [],
          },
        ],
        writes: { ...none, create: 1 },
        problems: [],
      },
      {
        name: 'west',
        origin: 'kubeconfig',
        server: 'https://west.example:6443',
        namespace: null,
        status: 'unreachable',
        reason: 'cannot reach https://west.example:6443: refused',
        targets: [],
        writes: none,
        problems: [],
      },
      {
        name: 'north',
        origin: 'kubeconfig',
        server: 'https://north.example:6443',
        namespace: null,
        status: 'forbidden',
        reason: 'GET /api/v1/namespaces: 403 Forbidden',
        targets: [],
        writes: none,
        problems: [],
      },
      {
        name: 'south',
        origin: 'kubeconfig',
        server: 'https://south.example:6443',
        namespace: null,
        status: 'planned',
        reason: 'Nothing to do: the source does not name this cluster and nsync has no copy of it there.',
        targets: [],
        writes: none,
        problems: [],
      },
      {
        name: 'gone',
        origin: 'kubeconfig',
        server: 'https://gone.example:6443',
        namespace: null,
        status: 'planned',
        reason:
          'No target: the namespace it would be copied into does not exist there; nsync never creates one, and copies once it exists.',
        targets: [],
        writes: none,
        problems: [],
      },
    ]);
    // This cluster's part is unchanged by the clusters beside it: v1 readers keep working.
    assert.deepEqual({ ...document, clusters: [] }, explainDocument(source, true, planOf()));
  });
});
