import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { owned } from '../rules/markers.ts';
import { DEFAULT_CONTEST_LIMITS, formatRestores, isRestore, judgeRestore, parseRestores } from './contest.ts';
import type { ObjectMeta } from './model.ts';

function mirror(annotations: Record<string, string>, at?: string): ObjectMeta {
  return {
    kind: 'ConfigMap',
    namespace: 'team-b',
    name: 'app-config',
    uid: 'u',
    resourceVersion: '1',
    labels: {},
    annotations: { [owned.contentHash]: 'h', ...annotations },
    ownerReferences: [],
    contentForeign: at !== undefined,
    deleting: false,
    ...(at === undefined ? {} : { foreignWrite: { managers: ['kubectl-client-side-apply'], at } }),
  };
}

void describe('contest: the restore counter', () => {
  void it('reads what it writes and ignores anything else', () => {
    const count = { count: 2, since: '2026-01-02T03:04:05.678Z' };
    assert.deepEqual(parseRestores(formatRestores(count)), count);
    for (const text of [
      '',
      '2',
      'two since 2026-01-02T03:04:05Z',
      '2 since yesterday',
      '2 since 2026-99-99T00:00:00Z',
    ]) {
      assert.equal(parseRestores(text), undefined, text);
    }
  });

  void it('is a restore only when someone else wrote and the source content is unchanged', () => {
    assert.equal(isRestore(mirror({}, '2026-01-02T03:00:00Z'), 'h'), true);
    assert.equal(isRestore(mirror({}, '2026-01-02T03:00:00Z'), 'other'), false);
    assert.equal(isRestore(mirror({}), 'h'), false);
  });

  void it('counts restores within the window and starts a new window after it', () => {
    const limits = DEFAULT_CONTEST_LIMITS;
    const first = judgeRestore(mirror({}, '2026-01-02T03:00:00Z'), '2026-01-02T03:00:01Z', limits);
    assert.deepEqual(first, { contested: false, marker: '1 since 2026-01-02T03:00:01Z' });
    const second = judgeRestore(
      mirror({ [owned.restores]: '1 since 2026-01-02T03:00:01Z' }, '2026-01-02T03:05:00Z'),
      '2026-01-02T03:05:01Z',
      limits,
    );
    assert.deepEqual(second, { contested: false, marker: '2 since 2026-01-02T03:00:01Z' });
    const fresh = judgeRestore(
      mirror({ [owned.restores]: '2 since 2026-01-02T03:00:01Z' }, '2026-01-02T05:00:00Z'),
      '2026-01-02T05:00:01Z',
      limits,
    );
    assert.deepEqual(fresh, { contested: false, marker: '1 since 2026-01-02T05:00:01Z' });
  });

  void it('is contested at the limit for a change inside the window, also when undated', () => {
    const limits = { maxRestores: 2, windowMs: 60_000 };
    for (const at of ['2026-01-02T03:00:30Z', '']) {
      const verdict = judgeRestore(
        mirror({ [owned.restores]: '2 since 2026-01-02T03:00:00Z' }, at),
        '2030-01-01T00:00:00Z',
        limits,
      );
      assert.ok(verdict.contested, at);
      assert.deepEqual(verdict.managers, ['kubectl-client-side-apply']);
    }
  });
});
