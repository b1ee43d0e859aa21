import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ManualClock } from './clock.ts';
import { WorkQueue, type HandlerResult, type QueueObserver, type RunOutcome } from './queue.ts';

/** Lets pending promise continuations run; uses no timer and no wall-clock time. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** One handler run that the test finishes by hand. */
interface Run {
  readonly key: string;
  readonly done: (result?: HandlerResult) => void;
  readonly fail: (error?: Error) => void;
}

/**
 * A handler whose runs stay in flight until the test ends them, instrumented to record every
 * start and the most runs seen at once, in total and per key.
 */
class Harness {
  readonly started: string[] = [];
  readonly running: Run[] = [];
  maxInFlight = 0;
  maxSameKey = 0;
  readonly #perKey = new Map<string, number>();

  readonly handler = (key: string): Promise<HandlerResult> => {
    this.started.push(key);
    const same = (this.#perKey.get(key) ?? 0) + 1;
    this.#perKey.set(key, same);
    this.maxSameKey = Math.max(this.maxSameKey, same);
    const { promise, resolve, reject } = Promise.withResolvers<HandlerResult>();
    const run: Run = {
      key,
      done: (result) => {
        resolve(result ?? {});
      },
      fail: (error) => {
        reject(error ?? new Error(`${key} failed`));
      },
    };
    this.running.push(run);
    this.maxInFlight = Math.max(this.maxInFlight, this.running.length);
    return promise.finally(() => {
      this.running.splice(this.running.indexOf(run), 1);
      this.#perKey.set(key, (this.#perKey.get(key) ?? 1) - 1);
    });
  };

  /** The in-flight run of `key`; fails the test when there is none. */
  run(key: string): Run {
    const run = this.running.find((candidate) => candidate.key === key);
    assert.ok(run, `${key} is not in flight (in flight: ${this.running.map((r) => r.key).join(', ')})`);
    return run;
  }

  async finish(key: string, result?: HandlerResult): Promise<void> {
    this.run(key).done(result);
    await flush();
  }

  async failRun(key: string): Promise<void> {
    this.run(key).fail();
    await flush();
  }
}

/** A queue on a manual clock, with its harness, already running. */
function runningQueue(concurrency = 1, random = (): number => 0.5) {
  const clock = new ManualClock();
  const harness = new Harness();
  const queue = new WorkQueue({ clock, backoff: { baseMs: 100, maxMs: 10_000, random } });
  const done = queue.run({ concurrency, handler: harness.handler });
  return { clock, harness, queue, done };
}

void describe('WorkQueue: adding', () => {
  void it('merges a key that is already waiting', async () => {
    const clock = new ManualClock();
    const harness = new Harness();
    const queue = new WorkQueue({ clock });
    queue.add('a');
    queue.add('a');
    queue.add('b');
    queue.add('a');
    assert.equal(queue.depth(), 2);
    void queue.run({ handler: harness.handler });
    await flush();
    await harness.finish('a');
    await harness.finish('b');
    assert.deepEqual(harness.started, ['a', 'b']);
    assert.equal(queue.depth(), 0);
  });

  void it('takes keys in FIFO order', async () => {
    const { harness, queue } = runningQueue(1);
    for (const key of ['c', 'a', 'b']) queue.add(key);
    await flush();
    for (const key of ['c', 'a', 'b']) await harness.finish(key);
    assert.deepEqual(harness.started, ['c', 'a', 'b']);
  });

  void it('never runs one key twice at once, and runs a key added during its run exactly once more, afterwards', async () => {
    const { harness, queue } = runningQueue(4);
    queue.add('a');
    await flush();
    assert.deepEqual(harness.started, ['a']);
    queue.add('a');
    queue.add('a');
    queue.add('a');
    await flush();
    assert.deepEqual(harness.started, ['a'], 'a second run must wait for the first');
    assert.equal(queue.depth(), 0, 'a dirty key is not counted as waiting while it runs');
    await harness.finish('a');
    assert.deepEqual(harness.started, ['a', 'a'], 'the key added during its run runs once more');
    await harness.finish('a');
    assert.deepEqual(harness.started, ['a', 'a'], 'and only once');
    assert.equal(harness.maxSameKey, 1);
  });

  void it('puts a dirty key behind the keys that were already waiting', async () => {
    const { harness, queue } = runningQueue(1);
    queue.add('a');
    await flush();
    queue.add('b');
    queue.add('a');
    await harness.finish('a');
    await harness.finish('b');
    await harness.finish('a');
    assert.deepEqual(harness.started, ['a', 'b', 'a']);
  });

  void it('runs at most `concurrency` handlers at once, and uses every slot', async () => {
    const { harness, queue } = runningQueue(2);
    for (const key of ['a', 'b', 'c', 'd', 'e']) queue.add(key);
    await flush();
    assert.equal(queue.inFlight(), 2);
    assert.equal(queue.depth(), 3);
    await harness.finish('a');
    assert.deepEqual(harness.started, ['a', 'b', 'c']);
    await harness.finish('c');
    await harness.finish('b');
    await harness.finish('d');
    await harness.finish('e');
    assert.equal(harness.maxInFlight, 2);
    assert.deepEqual(harness.started, ['a', 'b', 'c', 'd', 'e']);
  });
});

void describe('WorkQueue: delays', () => {
  void it('runs a delayed key when its time comes, not before', async () => {
    const { clock, harness, queue } = runningQueue();
    queue.addAfter('a', 500);
    assert.equal(queue.scheduled(), 1);
    assert.equal(queue.depth(), 0);
    clock.advance(499);
    await flush();
    assert.deepEqual(harness.started, []);
    clock.advance(1);
    await flush();
    assert.deepEqual(harness.started, ['a']);
    assert.equal(queue.scheduled(), 0);
  });

  void it('keeps the earliest of two delayed adds and runs the key once', async () => {
    const { clock, harness, queue } = runningQueue();
    queue.addAfter('a', 500);
    queue.addAfter('a', 200);
    queue.addAfter('b', 300);
    queue.addAfter('b', 900);
    clock.advance(200);
    await flush();
    assert.deepEqual(harness.started, ['a']);
    await harness.finish('a');
    clock.advance(100);
    await flush();
    assert.deepEqual(harness.started, ['a', 'b']);
    await harness.finish('b');
    clock.advance(10_000);
    await flush();
    assert.deepEqual(harness.started, ['a', 'b']);
    assert.equal(clock.pendingTimers(), 0);
  });

  void it('lets an immediate add replace a scheduled one', async () => {
    const { clock, harness, queue } = runningQueue();
    queue.addAfter('a', 500);
    queue.add('a');
    await flush();
    await harness.finish('a');
    assert.equal(clock.pendingTimers(), 0);
    clock.advance(500);
    await flush();
    assert.deepEqual(harness.started, ['a']);
  });

  void it('ignores a delayed add for a key that is already waiting', async () => {
    const { clock, harness, queue } = runningQueue();
    queue.add('a');
    queue.addAfter('a', 100);
    assert.equal(queue.scheduled(), 0);
    await flush();
    await harness.finish('a');
    clock.advance(100);
    await flush();
    assert.deepEqual(harness.started, ['a']);
  });

  void it('treats a delay of zero or less as an immediate add and rejects NaN or infinity', async () => {
    const { harness, queue } = runningQueue(2);
    queue.addAfter('a', 0);
    queue.addAfter('b', -5);
    await flush();
    assert.deepEqual(harness.started, ['a', 'b']);
    assert.throws(() => {
      queue.addAfter('c', Number.NaN);
    }, RangeError);
    assert.throws(() => {
      queue.addAfter('c', Number.POSITIVE_INFINITY);
    }, RangeError);
  });

  void it('requeues after `requeueAfter` when the handler asks for it', async () => {
    const { clock, harness, queue } = runningQueue();
    queue.add('a');
    await flush();
    await harness.finish('a', { requeueAfter: 1000 });
    assert.equal(queue.scheduled(), 1);
    clock.advance(999);
    await flush();
    assert.deepEqual(harness.started, ['a']);
    clock.advance(1);
    await flush();
    assert.deepEqual(harness.started, ['a', 'a']);
  });
});

void describe('WorkQueue: failures', () => {
  void it('retries a failing key with a growing backoff, and resets it after a success', async () => {
    const retries: number[] = [];
    const clock = new ManualClock();
    const harness = new Harness();
    const queue = new WorkQueue({
      clock,
      backoff: { baseMs: 100, maxMs: 10_000, random: () => 0.5 },
      observer: { onRetry: (_key, delay) => retries.push(delay) },
    });
    void queue.run({ handler: harness.handler });
    queue.add('a');
    await flush();
    const waitFor = async (delay: number, runs: number): Promise<void> => {
      clock.advance(delay - 1);
      await flush();
      assert.equal(harness.started.length, runs - 1, `not before ${delay} ms`);
      clock.advance(1);
      await flush();
      assert.equal(harness.started.length, runs, `after ${delay} ms`);
    };
    await harness.failRun('a');
    assert.equal(queue.failures('a'), 1);
    await waitFor(50, 2);
    await harness.failRun('a');
    await waitFor(100, 3);
    await harness.failRun('a');
    await waitFor(200, 4);
    await harness.finish('a');
    assert.equal(queue.failures('a'), 0, 'a success forgets the failures');
    queue.add('a');
    await flush();
    await harness.failRun('a');
    await waitFor(50, 6);
    assert.deepEqual(retries, [50, 100, 200, 50]);
  });

  void it('counts a handler that resolves with nothing as a success', async () => {
    const clock = new ManualClock();
    const outcomes: RunOutcome[] = [];
    const queue = new WorkQueue({
      clock,
      observer: { onDone: (_key, _ms, outcome) => outcomes.push(outcome) },
    });
    queue.addRateLimited('a');
    void queue.run({
      handler: async () => {
        await Promise.resolve();
      },
    });
    clock.advance(60_000);
    await flush();
    assert.deepEqual(outcomes, ['ok']);
    assert.equal(queue.failures('a'), 0);
    assert.equal(queue.scheduled(), 0);
  });

  void it('resets the backoff after a success that asks for a requeue', async () => {
    const { clock, harness, queue } = runningQueue();
    queue.add('a');
    await flush();
    await harness.failRun('a');
    clock.advance(50);
    await flush();
    await harness.finish('a', { requeueAfter: 1000 });
    assert.equal(queue.failures('a'), 0);
  });

  void it('treats a handler that throws synchronously as a failure', async () => {
    const clock = new ManualClock();
    const outcomes: RunOutcome[] = [];
    const queue = new WorkQueue({
      clock,
      observer: { onDone: (_key, _ms, outcome) => outcomes.push(outcome) },
    });
    void queue.run({
      handler: () => {
        throw new Error('boom');
      },
    });
    queue.add('a');
    await flush();
    assert.deepEqual(outcomes, ['error']);
    assert.equal(queue.failures('a'), 1);
    assert.equal(queue.scheduled(), 1);
  });

  void it('treats an invalid requeueAfter as a failure instead of spinning or stalling', async () => {
    const { harness, queue } = runningQueue();
    queue.add('a');
    await flush();
    await harness.finish('a', { requeueAfter: Number.NaN });
    assert.equal(queue.failures('a'), 1);
    assert.equal(queue.scheduled(), 1);
  });

  void it('forget resets the backoff of a key', () => {
    const queue = new WorkQueue({ clock: new ManualClock() });
    queue.addRateLimited('a');
    queue.addRateLimited('a');
    assert.equal(queue.failures('a'), 2);
    queue.forget('a');
    assert.equal(queue.failures('a'), 0);
  });
});

void describe('WorkQueue: shutdown', () => {
  void it('drains the handlers in flight and starts nothing new', async () => {
    const { clock, harness, queue, done } = runningQueue(2);
    for (const key of ['a', 'b', 'c']) queue.add(key);
    queue.addAfter('d', 10);
    await flush();
    let drained = false;
    void queue.shutdown().then(() => (drained = true));
    let ran = false;
    void done.then(() => (ran = true));
    assert.equal(queue.isShuttingDown(), true);
    assert.equal(clock.pendingTimers(), 0, 'scheduled keys are dropped');
    queue.add('e');
    queue.addAfter('f', 5);
    queue.addRateLimited('g');
    assert.equal(queue.depth(), 0);
    assert.equal(queue.scheduled(), 0);
    await flush();
    assert.equal(drained, false, 'waits for the handlers in flight');
    await harness.failRun('a');
    assert.equal(drained, false);
    assert.equal(queue.scheduled(), 0, 'a failure during the drain schedules no retry');
    await harness.finish('b', { requeueAfter: 5 });
    assert.equal(drained, true);
    assert.equal(ran, true, 'run() resolves with the drain');
    clock.advance(1000);
    await flush();
    assert.deepEqual(harness.started, ['a', 'b']);
  });

  void it('resolves at once when nothing is in flight, and every call gets the same drain', async () => {
    const queue = new WorkQueue({ clock: new ManualClock() });
    const first = queue.shutdown();
    assert.equal(queue.shutdown(), first);
    await first;
    await queue.run({ handler: () => Promise.resolve() });
  });

  void it('drops a dirty re-run when shut down during the current run', async () => {
    const { harness, queue } = runningQueue();
    queue.add('a');
    await flush();
    queue.add('a');
    const drained = queue.shutdown();
    await harness.finish('a');
    await drained;
    await flush();
    assert.deepEqual(harness.started, ['a']);
  });

  void it('shuts down when the run signal aborts', async () => {
    const clock = new ManualClock();
    const harness = new Harness();
    const queue = new WorkQueue({ clock });
    const controller = new AbortController();
    const done = queue.run({ handler: harness.handler, signal: controller.signal });
    queue.add('a');
    await flush();
    controller.abort();
    assert.equal(queue.isShuttingDown(), true);
    await harness.finish('a');
    await done;
  });

  void it('does not start when the signal is already aborted', async () => {
    const harness = new Harness();
    const queue = new WorkQueue({ clock: new ManualClock() });
    queue.add('a');
    await queue.run({ handler: harness.handler, signal: AbortSignal.abort() });
    assert.deepEqual(harness.started, []);
  });
});

void describe('WorkQueue: run', () => {
  void it('rejects a concurrency below one or not whole', async () => {
    const queue = new WorkQueue({ clock: new ManualClock() });
    await assert.rejects(queue.run({ concurrency: 0, handler: () => Promise.resolve() }), RangeError);
    await assert.rejects(queue.run({ concurrency: 1.5, handler: () => Promise.resolve() }), RangeError);
  });

  void it('refuses a second runner', async () => {
    const { queue } = runningQueue();
    await assert.rejects(queue.run({ handler: () => Promise.resolve() }), /already/);
  });

  void it('holds keys added before run until run starts', async () => {
    const harness = new Harness();
    const queue = new WorkQueue({ clock: new ManualClock() });
    queue.add('a');
    await flush();
    assert.deepEqual(harness.started, []);
    void queue.run({ handler: harness.handler });
    await flush();
    assert.deepEqual(harness.started, ['a']);
  });
});

void describe('WorkQueue: observability', () => {
  void it('reports adds, starts with their wait, and ends with their duration and outcome', async () => {
    const clock = new ManualClock();
    const harness = new Harness();
    const events: string[] = [];
    const observer: QueueObserver = {
      onAdd: (key) => events.push(`add ${key}`),
      onStart: (key, waited) => events.push(`start ${key} waited=${waited}`),
      onDone: (key, ms, outcome) => events.push(`done ${key} ${ms}ms ${outcome}`),
      onError: (key, error) => events.push(`error ${key} ${String(error)}`),
      onRetry: (key, delay) => events.push(`retry ${key} ${delay}`),
    };
    const queue = new WorkQueue({ clock, observer, backoff: { random: () => 0.5 } });
    queue.add('a');
    queue.add('a');
    clock.advance(30);
    void queue.run({ handler: harness.handler });
    await flush();
    clock.advance(20);
    await harness.finish('a', { requeueAfter: 100 });
    queue.add('b');
    await flush();
    clock.advance(5);
    queue.add('b');
    clock.advance(7);
    harness.run('b').fail(new Error('nope'));
    await flush();
    clock.advance(3);
    await flush();
    await harness.finish('b');
    assert.deepEqual(events, [
      'add a',
      'start a waited=30',
      'done a 20ms requeue',
      'add b',
      'start b waited=0',
      'add b',
      'error b Error: nope',
      'retry b 50',
      'done b 12ms error',
      'start b waited=7',
      'done b 3ms ok',
    ]);
  });

  void it('keeps working when an observer throws', async () => {
    const clock = new ManualClock();
    const harness = new Harness();
    const explode = (): void => {
      throw new Error('metrics are down');
    };
    const queue = new WorkQueue({
      clock,
      observer: { onAdd: explode, onStart: explode, onDone: explode, onError: explode, onRetry: explode },
    });
    void queue.run({ handler: harness.handler });
    queue.add('a');
    await flush();
    await harness.failRun('a');
    assert.equal(queue.scheduled(), 1);
    queue.add('a');
    await flush();
    await harness.finish('a');
    assert.deepEqual(harness.started, ['a', 'a']);
    assert.equal(queue.inFlight(), 0);
  });

  void it('tells a stuck loop from an idle one with lastProgressAt', async () => {
    const { clock, harness, queue } = runningQueue(1);
    clock.advance(1000);
    assert.equal(queue.lastProgressAt(), 1000, 'idle: progress is now');
    queue.add('a');
    queue.add('b');
    await flush();
    clock.advance(5000);
    assert.equal(queue.lastProgressAt(), 1000, 'stuck since it stopped being idle');
    await harness.finish('a');
    clock.advance(300);
    assert.equal(queue.lastProgressAt(), 6000, 'a completion is progress');
    await harness.finish('b');
    clock.advance(10_000);
    assert.equal(queue.lastProgressAt(), 16_300, 'idle again');
  });

  void it('counts a queue that has not started running as idle, so a slow cache sync is not a stuck loop', () => {
    const clock = new ManualClock();
    const queue = new WorkQueue({ clock });
    queue.add('a');
    clock.advance(60_000);
    assert.equal(queue.lastProgressAt(), 60_000);
  });
});

/** One step of the random scenario of the property test below. */
type Step =
  | { readonly op: 'add'; readonly key: string }
  | { readonly op: 'addAfter'; readonly key: string; readonly ms: number }
  | { readonly op: 'advance'; readonly ms: number }
  | { readonly op: 'end'; readonly index: number; readonly how: 'ok' | 'error' | 'requeue' };

const keyArb = fc.constantFrom('a', 'b', 'c', 'd');
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('add' as const), key: keyArb }),
  fc.record({ op: fc.constant('addAfter' as const), key: keyArb, ms: fc.integer({ min: 0, max: 300 }) }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 300 }) }),
  fc.record({
    op: fc.constant('end' as const),
    index: fc.nat(7),
    how: fc.constantFrom('ok' as const, 'error' as const, 'requeue' as const),
  }),
);

void describe('WorkQueue: property', () => {
  void it('never overlaps runs of a key, respects concurrency, and loses no add', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(stepArb, { maxLength: 60 }),
        async (concurrency, steps) => {
          const clock = new ManualClock();
          const harness = new Harness();
          const queue = new WorkQueue({ clock, backoff: { baseMs: 10, maxMs: 100, random: () => 0.5 } });
          void queue.run({ concurrency, handler: harness.handler });
          /** For each key, whether an add is still owed a run that starts after it. */
          const owed = new Set<string>();
          const settle = async (): Promise<void> => {
            await flush();
            for (const key of harness.started.splice(0)) owed.delete(key);
          };
          for (const step of steps) {
            if (step.op === 'add') {
              queue.add(step.key);
              owed.add(step.key);
            } else if (step.op === 'addAfter') {
              queue.addAfter(step.key, step.ms);
              clock.advance(0);
            } else if (step.op === 'advance') {
              clock.advance(step.ms);
            } else {
              const run = harness.running[step.index % Math.max(1, harness.running.length)];
              if (run && step.how === 'error') run.fail();
              else if (run) run.done(step.how === 'requeue' ? { requeueAfter: 50 } : {});
            }
            await settle();
            assert.ok(harness.maxSameKey <= 1, 'two runs of one key overlapped');
            assert.ok(harness.maxInFlight <= concurrency, 'concurrency exceeded');
          }
          // Let everything finish, including retries and requeues, until the queue is quiet.
          for (let round = 0; round < 200 && (harness.running.length > 0 || queue.scheduled() > 0); round++) {
            for (const run of [...harness.running]) run.done();
            await settle();
            clock.advance(1000);
            await settle();
          }
          await queue.shutdown();
          assert.deepEqual([...owed], [], 'an add did not lead to a later run');
        },
      ),
      { numRuns: 150 },
    );
  });
});
