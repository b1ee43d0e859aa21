import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { EventRecorder, type EventSink } from './events.ts';
import { createLogger } from './log.ts';
import { Metrics } from './metrics.ts';

const subject = { kind: 'Secret' as const, namespace: 'team-a', name: 'db', uid: 'uid-1' };
const spec = { type: 'Warning' as const, reason: 'PullNotAllowed', action: 'Pull', note: 'no consent' };
const quiet = createLogger(
  'silent',
  new Writable({
    write: (_chunk, _encoding, done) => {
      done();
    },
  }),
);

function recorder(
  now: { value: number },
  options: { perMinute?: number; perNamespacePerMinute?: number } = {},
): { recorder: EventRecorder; sent: object[] } {
  const sent: object[] = [];
  const sink: EventSink = {
    create: (_resource, _namespace, body) => {
      sent.push(body);
      return Promise.resolve(body);
    },
  };
  return {
    recorder: new EventRecorder(sink, quiet, new Metrics('test', { defaultMetrics: false }), {
      instance: 'pod-0',
      now: () => now.value,
      ...options,
    }),
    sent,
  };
}

test('the same Event on the same object is not repeated within the window, and is after it', () => {
  const now = { value: 1_000_000 };
  const { recorder: events, sent } = recorder(now);
  assert.equal(events.emit(subject, spec), true);
  now.value += 60_000;
  assert.equal(events.emit(subject, spec), false, 'a repeat within 10 minutes is suppressed');
  assert.equal(events.emit({ ...subject, uid: 'uid-2' }, spec), true, 'another object is not');
  assert.equal(events.emit(subject, { ...spec, note: 'other' }), true, 'another note is not');
  now.value += 600_000;
  assert.equal(events.emit(subject, spec), true, 'after the window it is sent again');
  assert.equal(sent.length, 4);
});

test('at most perMinute Events are sent in a minute, whatever their objects', () => {
  const now = { value: 5_000_000 };
  const { recorder: events, sent } = recorder(now, { perMinute: 3, perNamespacePerMinute: 100 });
  for (let i = 0; i < 10; i += 1) events.emit({ ...subject, uid: `uid-${String(i)}` }, spec);
  assert.equal(sent.length, 3);
  now.value += 60_000;
  events.emit({ ...subject, uid: 'later' }, spec);
  assert.equal(sent.length, 4, 'the next minute has room again');
});

test('an Event is events.k8s.io/v1 with a valid name, MicroTime and a bounded note', () => {
  const { recorder: events, sent } = recorder({ value: Date.UTC(2026, 0, 2, 3, 4, 5, 678) });
  events.emit(subject, { ...spec, note: 'x'.repeat(5000) });
  const [body] = sent as {
    metadata: { name: string; namespace: string };
    eventTime: string;
    note: string;
    regarding: object;
    reportingController: string;
  }[];
  assert.ok(body);
  assert.match(body.metadata.name, /^db\.[0-9a-f]+$/);
  assert.equal(body.metadata.namespace, 'team-a');
  assert.equal(body.eventTime, '2026-01-02T03:04:05.678000Z');
  assert.ok(body.note.length <= 1000);
  assert.deepEqual(body.regarding, {
    apiVersion: 'v1',
    kind: 'Secret',
    namespace: 'team-a',
    name: 'db',
    uid: 'uid-1',
  });
  assert.equal(body.reportingController, 'nsync.dev/nsync');
});

test('one namespace cannot use up the budget of the others', () => {
  const now = { value: 9_000_000 };
  const { recorder: events, sent } = recorder(now, { perMinute: 100, perNamespacePerMinute: 2 });
  for (let i = 0; i < 10; i += 1)
    events.emit({ ...subject, namespace: 'noisy', uid: `n-${String(i)}` }, spec);
  assert.equal(events.emit({ ...subject, namespace: 'quiet', uid: 'q' }, spec), true);
  assert.equal(sent.length, 3);
});
