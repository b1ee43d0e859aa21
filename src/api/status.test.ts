import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  computeStatus,
  MAX_LISTED_CLUSTERS,
  MAX_LISTED_PROBLEMS,
  MAX_PROBLEM_MESSAGE_LENGTH,
  statusEquals,
  type NamespaceOutcome,
  type Outcome,
  type StatusInput,
} from './status.ts';
import type { ClusterStatusV1, ConditionV1, MirrorStatusV1 } from './types.ts';

const T0 = new Date('2026-11-30T12:00:00.123Z');
const T1 = new Date('2026-11-30T12:05:00.000Z');

function input(outcomes: readonly NamespaceOutcome[], overrides: Partial<StatusInput> = {}): StatusInput {
  return {
    generation: 3,
    specProblems: [],
    source: { found: true, resourceVersion: '42' },
    outcomes,
    previous: undefined,
    now: T0,
    ...overrides,
  };
}

const at = (
  namespace: string,
  outcome: Outcome,
  message = `${outcome} in ${namespace}`,
): NamespaceOutcome => ({
  namespace,
  outcome,
  message,
});

function conditionOf(status: MirrorStatusV1, type: string): ConditionV1 {
  const found = status.conditions?.find((entry) => entry.type === type);
  assert.ok(found, `${type} condition`);
  return found;
}

const ready = (status: MirrorStatusV1): [string, string] => {
  const condition = conditionOf(status, 'Ready');
  return [condition.status, condition.reason];
};
const stalled = (status: MirrorStatusV1): [string, string] => {
  const condition = conditionOf(status, 'Stalled');
  return [condition.status, condition.reason];
};

void describe('computeStatus', () => {
  void test('all in sync: Ready, counts, the synced source version, kstatus-shaped conditions', () => {
    const status = computeStatus(input([at('b', 'in-sync'), at('a', 'in-sync'), at('c', 'excluded')]));
    assert.deepEqual(status, {
      observedGeneration: 3,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'InSync',
          message: '2 of 2 namespaces in sync; 1 excluded by the operator',
          lastTransitionTime: '2026-11-30T12:00:00Z',
          observedGeneration: 3,
        },
        {
          type: 'Stalled',
          status: 'False',
          reason: 'NotStalled',
          message: '',
          lastTransitionTime: '2026-11-30T12:00:00Z',
          observedGeneration: 3,
        },
      ],
      selected: 3,
      inSync: 2,
      pending: 0,
      conflicts: 0,
      refused: 0,
      excluded: 1,
      failed: 0,
      problems: [],
      problemCount: 0,
      sourceResourceVersion: '42',
    });
  });

  void test('reasons: pending, failures, conflicts, refusals, no targets, missing source, invalid spec', () => {
    assert.deepEqual(ready(computeStatus(input([at('a', 'in-sync'), at('b', 'pending')]))), [
      'False',
      'Progressing',
    ]);
    const failed = computeStatus(input([at('a', 'failed'), at('b', 'pending'), at('c', 'conflict')]));
    assert.deepEqual(ready(failed), ['False', 'WriteFailed']);
    assert.deepEqual(stalled(failed), ['False', 'NotStalled']);
    // A conflict waits for a person: Stalled, so health checks fail instead of waiting forever.
    const conflict = computeStatus(input([at('a', 'in-sync'), at('b', 'conflict')]));
    assert.deepEqual(ready(conflict), ['False', 'Conflict']);
    assert.deepEqual(stalled(conflict), ['True', 'Conflict']);
    // A namespace that refuses is the target's decision; the rest is Ready, and the refusal listed.
    const refused = computeStatus(input([at('a', 'in-sync'), at('b', 'refused')]));
    assert.deepEqual(ready(refused), ['True', 'InSync']);
    assert.equal(conditionOf(refused, 'Ready').message, '1 of 1 namespace in sync; 1 refused');
    assert.deepEqual(refused.problems, [{ namespace: 'b', outcome: 'refused', message: 'refused in b' }]);
    assert.deepEqual(ready(computeStatus(input([]))), ['True', 'NoTargets']);
    const missing = computeStatus(input([at('a', 'pending')], { source: { found: false } }));
    assert.deepEqual(ready(missing), ['False', 'SourceNotFound']);
    assert.deepEqual(stalled(missing), ['False', 'NotStalled']);
    assert.equal(missing.selected, 0);
    const invalid = computeStatus(
      input([at('a', 'in-sync')], { specProblems: [{ field: 'spec.keys', message: 'must keep "tls.key"' }] }),
    );
    assert.deepEqual(ready(invalid), ['False', 'InvalidSpec']);
    assert.deepEqual(stalled(invalid), ['True', 'InvalidSpec']);
    assert.equal(conditionOf(invalid, 'Ready').message, 'spec.keys: must keep "tls.key"');
  });

  void test('the problem list is bounded, sorted by namespace, and counts them all', () => {
    const outcomes = Array.from({ length: 50 }, (_, index) =>
      at(
        `ns-${String(49 - index).padStart(2, '0')}`,
        index % 2 === 0 ? 'conflict' : 'in-sync',
        'x'.repeat(5000),
      ),
    );
    const status = computeStatus(input(outcomes));
    assert.equal(status.problemCount, 25);
    assert.equal(status.problems?.length, MAX_LISTED_PROBLEMS);
    assert.deepEqual(
      (status.problems ?? []).slice(0, 3).map((problem) => problem.namespace),
      ['ns-01', 'ns-03', 'ns-05'],
    );
    for (const problem of status.problems ?? [])
      assert.ok(problem.message.length <= MAX_PROBLEM_MESSAGE_LENGTH);
  });

  void test('lastTransitionTime moves only when a condition’s status does', () => {
    const first = computeStatus(input([at('a', 'pending')]));
    const still = computeStatus(
      input([at('a', 'pending'), at('b', 'pending')], { previous: first, now: T1 }),
    );
    assert.equal(conditionOf(still, 'Ready').lastTransitionTime, '2026-11-30T12:00:00Z');
    const done = computeStatus(input([at('a', 'in-sync')], { previous: still, now: T1 }));
    assert.equal(conditionOf(done, 'Ready').lastTransitionTime, '2026-11-30T12:05:00Z');
    assert.equal(conditionOf(done, 'Stalled').lastTransitionTime, '2026-11-30T12:00:00Z');
  });

  void test('the source version last synced is kept until everything is in sync again', () => {
    const synced = computeStatus(input([at('a', 'in-sync')]));
    const updating = computeStatus(
      input([at('a', 'pending')], { previous: synced, source: { found: true, resourceVersion: '43' } }),
    );
    assert.equal(updating.sourceResourceVersion, '42');
    const resynced = computeStatus(
      input([at('a', 'in-sync')], { previous: updating, source: { found: true, resourceVersion: '43' } }),
    );
    assert.equal(resynced.sourceResourceVersion, '43');
    assert.equal(computeStatus(input([at('a', 'pending')])).sourceResourceVersion, undefined);
  });
});

void describe('statusEquals', () => {
  const base = computeStatus(input([at('a', 'in-sync'), at('b', 'conflict')]));

  void test('an unchanged world needs no write, even a second later', () => {
    const again = computeStatus(
      input([at('b', 'conflict'), at('a', 'in-sync')], { previous: base, now: T1 }),
    );
    assert.ok(statusEquals(base, again));
  });

  void test('ignores transition times and condition order while statuses stay', () => {
    const conditions = (base.conditions ?? []).map((entry) => ({
      ...entry,
      lastTransitionTime: '2020-01-01T00:00:00Z',
    }));
    assert.ok(statusEquals(base, { ...base, conditions: [...conditions].reverse() }));
  });

  void test('any change a reader cares about needs a write', () => {
    const changed: MirrorStatusV1[] = [
      computeStatus(input([at('a', 'in-sync'), at('b', 'in-sync')])),
      computeStatus(input([at('a', 'in-sync'), at('b', 'conflict', 'another message')])),
      computeStatus(input([at('a', 'in-sync'), at('b', 'conflict')], { generation: 4 })),
      { ...base, sourceResourceVersion: '99' },
      { ...base, conditions: (base.conditions ?? []).slice(0, 1) },
      { ...base, conditions: (base.conditions ?? []).map((entry) => ({ ...entry, message: 'other' })) },
      { ...base, conditions: (base.conditions ?? []).map((entry) => ({ ...entry, reason: 'Other' })) },
    ];
    for (const status of changed) assert.ok(!statusEquals(base, status), JSON.stringify(status));
    assert.ok(!statusEquals(undefined, base));
    assert.ok(statusEquals(undefined, undefined));
  });
});

void describe('status properties', () => {
  const outcome = fc.record({
    namespace: fc.stringMatching(/^[a-z]{1,3}$/),
    outcome: fc.constantFrom<Outcome>('in-sync', 'pending', 'conflict', 'refused', 'excluded', 'failed'),
    message: fc.string({ maxLength: 2000 }),
  });

  void test('bounded, consistent counts, and equal to itself whatever the order of the outcomes', () => {
    fc.assert(
      fc.property(
        fc.array(outcome, { maxLength: 200 }),
        fc.integer({ min: 1, max: 1000 }),
        (outcomes, generation) => {
          const status = computeStatus(input(outcomes, { generation }));
          const shuffled = computeStatus(
            input([...outcomes].reverse(), { generation, now: T1, previous: status }),
          );
          assert.ok((status.problems?.length ?? 0) <= MAX_LISTED_PROBLEMS);
          const unique = new Set(outcomes.map((entry) => entry.namespace)).size;
          assert.equal(status.selected, unique);
          const sum =
            (status.inSync ?? 0) +
            (status.pending ?? 0) +
            (status.conflicts ?? 0) +
            (status.refused ?? 0) +
            (status.excluded ?? 0) +
            (status.failed ?? 0);
          assert.equal(sum, unique);
          assert.equal(
            status.problemCount,
            (status.conflicts ?? 0) + (status.refused ?? 0) + (status.failed ?? 0),
          );
          assert.ok(JSON.stringify(status).length < 64 * 1024);
          // Duplicates aside (the first entry of a namespace wins), order does not matter.
          const distinct = outcomes.filter(
            (entry, index) => outcomes.findIndex((other) => other.namespace === entry.namespace) === index,
          );
          const reordered = computeStatus(
            input([...distinct].reverse(), { generation, now: T1, previous: status }),
          );
          assert.ok(statusEquals(status, reordered));
          assert.ok(statusEquals(shuffled, shuffled));
          for (const condition of status.conditions ?? [])
            assert.equal(condition.observedGeneration, generation);
        },
      ),
    );
  });
});

void describe('status.clusters', () => {
  const remote = (name: string, overrides: Partial<ClusterStatusV1> = {}): ClusterStatusV1 => ({
    name,
    accepted: true,
    selected: 2,
    inSync: 2,
    pending: 0,
    failed: 0,
    problemCount: 0,
    ...overrides,
  });

  void test('absent without remote clusters; listed by name with them, and the message names each', () => {
    assert.equal(computeStatus(input([at('a', 'in-sync')])).clusters, undefined);
    const status = computeStatus(
      input([at('a', 'in-sync')], {
        clusters: [remote('west'), remote('east', { inSync: 1, problemCount: 1 })],
      }),
    );
    assert.deepEqual(
      status.clusters?.map((cluster) => cluster.name),
      ['east', 'west'],
    );
    assert.deepEqual(ready(status), ['True', 'InSync']);
    assert.match(
      conditionOf(status, 'Ready').message,
      /Clusters: east: 1 of 2 in sync, 1 problem; west: 2 of 2 in sync\.$/,
    );
  });

  void test('a failed or pending remote mirror makes the resource unready; a cluster without consent does not', () => {
    const failed = computeStatus(
      input([at('a', 'in-sync')], { clusters: [remote('east', { failed: 1, inSync: 1 })] }),
    );
    assert.deepEqual(ready(failed), ['False', 'WriteFailed']);
    const pending = computeStatus(input([], { clusters: [remote('east', { pending: 2, inSync: 0 })] }));
    assert.deepEqual(ready(pending), ['False', 'Progressing']);
    const refused = computeStatus(
      input([], {
        clusters: [remote('east', { accepted: false, selected: 0, inSync: 0, message: 'no consent here' })],
      }),
    );
    assert.deepEqual(ready(refused), ['True', 'InSync']);
    assert.match(
      conditionOf(refused, 'Ready').message,
      /^No namespace is selected in this cluster\. Clusters: east: not accepted \(no consent here\)\.$/,
    );
  });

  void test('bounded, and a changed cluster is a change worth a write; the same is not', () => {
    const many = Array.from({ length: MAX_LISTED_CLUSTERS + 5 }, (_, index) =>
      remote(`c${String(index).padStart(3, '0')}`),
    );
    const status = computeStatus(input([], { clusters: many }));
    assert.equal(status.clusters?.length, MAX_LISTED_CLUSTERS);
    const again = computeStatus(input([], { clusters: [...many].reverse(), previous: status, now: T1 }));
    assert.ok(statusEquals(status, again));
    const changed = computeStatus(
      input([], {
        clusters: [remote('c000', { inSync: 1, pending: 1 }), ...many.slice(1)],
        previous: status,
      }),
    );
    assert.ok(!statusEquals(status, changed));
  });
});
