import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock, sleepOn, systemClock } from './clock.ts';

/** Lets pending promise continuations run; uses no timer and no wall-clock time. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

void describe('ManualClock', () => {
  void it('starts where told and moves only on advance', () => {
    const clock = new ManualClock(1000);
    assert.equal(clock.now(), 1000);
    clock.advance(250);
    assert.equal(clock.now(), 1250);
  });

  void it('fires due timers in due order, ties in arming order, with now() at each due time', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    clock.setTimer(30, () => fired.push(`c@${clock.now()}`));
    clock.setTimer(10, () => fired.push(`a@${clock.now()}`));
    clock.setTimer(10, () => fired.push(`b@${clock.now()}`));
    clock.setTimer(31, () => fired.push('late'));
    clock.advance(30);
    assert.deepEqual(fired, ['a@10', 'b@10', 'c@30']);
    assert.equal(clock.now(), 30);
    assert.equal(clock.pendingTimers(), 1);
    assert.equal(clock.nextTimerAt(), 31);
  });

  void it('fires timers armed by timers when they fall due within the same advance', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.setTimer(5, () => {
      fired.push(clock.now());
      clock.setTimer(5, () => fired.push(clock.now()));
      clock.setTimer(50, () => fired.push(clock.now()));
    });
    clock.advance(20);
    assert.deepEqual(fired, [5, 10]);
    assert.equal(clock.pendingTimers(), 1);
  });

  void it('fires a zero-delay timer on advance(0), never synchronously', () => {
    const clock = new ManualClock();
    let fired = false;
    clock.setTimer(0, () => (fired = true));
    assert.equal(fired, false);
    clock.advance(0);
    assert.equal(fired, true);
  });

  void it('does not fire a cancelled timer', () => {
    const clock = new ManualClock();
    let fired = false;
    const cancel = clock.setTimer(10, () => (fired = true));
    cancel();
    clock.advance(100);
    assert.equal(fired, false);
    assert.equal(clock.pendingTimers(), 0);
  });

  void it('refuses to go backwards', () => {
    assert.throws(() => {
      new ManualClock().advance(-1);
    }, RangeError);
  });

  void it('resolves sleep only once advanced far enough', async () => {
    const clock = new ManualClock();
    let woke = false;
    const sleeping = clock.sleep(100).then(() => (woke = true));
    clock.advance(99);
    await flush();
    assert.equal(woke, false);
    clock.advance(1);
    await sleeping;
    assert.equal(woke, true);
  });

  void it('rejects sleep with the abort reason and disarms its timer', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(100, controller.signal);
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(sleeping, (error) => error === reason);
    assert.equal(clock.pendingTimers(), 0);
  });

  void it('rejects at once when the signal is already aborted, with an AbortError for a non-Error reason', async () => {
    const clock = new ManualClock();
    await assert.rejects(clock.sleep(100, AbortSignal.abort('because')), {
      name: 'AbortError',
      cause: 'because',
    });
    assert.equal(clock.pendingTimers(), 0);
  });
});

void describe('systemClock', () => {
  void it('reads a monotonic time', () => {
    const a = systemClock.now();
    const b = systemClock.now();
    assert.ok(b >= a);
  });

  void it('shares the abort semantics of sleepOn', async () => {
    await assert.rejects(systemClock.sleep(60_000, AbortSignal.abort()), { name: 'AbortError' });
    await assert.rejects(sleepOn(systemClock, 60_000, AbortSignal.abort()), { name: 'AbortError' });
  });

  void it('arms timers longer than setTimeout supports as a chain, firing them on time and not after 1 ms', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const armed = t.mock.method(globalThis, 'setTimeout');
    const limit = 2 ** 31 - 1;
    let fired = 0;
    systemClock.setTimer(2 ** 33, () => fired++);
    // Node's mock timers fire a timer armed during a tick only on a later tick: one tick per link.
    for (const step of [limit, limit, limit, limit, 3]) t.mock.timers.tick(step);
    assert.equal(fired, 0);
    t.mock.timers.tick(1);
    assert.equal(fired, 1);
    const delays = armed.mock.calls.map((call) => Number(call.arguments[1]));
    assert.ok(delays.length >= 2 && delays.every((delay) => delay <= limit), `delays ${delays.join(', ')}`);
  });

  void it('cancels a chained timer between its links', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let fired = false;
    const cancel = systemClock.setTimer(2 ** 32, () => (fired = true));
    t.mock.timers.tick(2 ** 31);
    cancel();
    for (let i = 0; i < 4; i++) t.mock.timers.tick(2 ** 31);
    assert.equal(fired, false);
  });
});
