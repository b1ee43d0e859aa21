import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Decision } from '../../plan/model.ts';
import { skipEvents } from './skip-events.ts';

function skipped(code: Decision['code'], namespace: string, message = `${code} in ${namespace}`): Decision {
  return { namespace, name: 'db', mode: 'push', code, message };
}

test("the target side's own refusal and withheld consent keep their reasons from home; the operator's guardrails are RemoteMirrorSkipped", () => {
  const events = skipEvents('east', [
    skipped('refused', 'team-a'),
    skipped('target-consent-missing', 'team-c'),
    skipped('opted-out', 'team-d'),
    skipped('reserved', 'team-e'),
  ]);
  assert.deepEqual(events, [
    { reason: 'MirrorRefused', note: 'Cluster east: refused in team-a' },
    { reason: 'TargetConsentMissing', note: 'Cluster east: target-consent-missing in team-c' },
    { reason: 'RemoteMirrorSkipped', note: 'Cluster east: opted-out in team-d' },
    { reason: 'RemoteMirrorSkipped', note: 'Cluster east: reserved in team-e' },
  ]);
});

test('one Event per reason, naming the first ten targets and the first message', () => {
  const many = Array.from({ length: 12 }, (_, index) => skipped('refused', `team-${String(index)}`));
  const [event, ...rest] = skipEvents('prod-eu', many);
  assert.deepEqual(rest, []);
  assert.equal(event?.reason, 'MirrorRefused');
  assert.equal(
    event.note,
    `Cluster prod-eu: 12 targets skipped (refused): ${many
      .slice(0, 10)
      .map((decision) => `${decision.namespace}/db`)
      .join(', ')}, …. refused in team-0`,
  );
  assert.deepEqual(skipEvents('east', []), []);
});
