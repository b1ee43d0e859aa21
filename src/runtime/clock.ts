/**
 * Time, injected. The queue and backoff read the time and arm timers only through a `Clock`, so
 * tests drive them with a manual clock and never sleep or depend on how fast the machine is.
 */

/** Cancels a timer armed by `Clock.setTimer`; calling it after the timer fired does nothing. */
export type CancelTimer = () => void;

/**
 * The time source of the runtime. Implementations must fire timers in due order and never early.
 */
export interface Clock {
  /**
   * Milliseconds on a monotonic scale. Only differences mean something: the scale of the system
   * clock is not wall time, so an NTP step can never stretch or shrink a backoff.
   */
  now(): number;
  /**
   * Resolves after `ms` milliseconds. Rejects with `signal.reason` (see abortReason) as soon as `signal` aborts, so a
   * shutdown never waits for a long sleep to end.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` once after `ms` milliseconds (at once for `ms <= 0`, on a later turn) unless cancelled. */
  setTimer(ms: number, fn: () => void): CancelTimer;
}

/**
 * The longest delay `setTimeout` honours: Node fires longer ones after 1 ms, which would turn a
 * long requeue into a tight loop. Longer timers are armed as a chain of shorter ones.
 */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Sleeps on any clock's timers. Shared by every implementation so that abort semantics are the
 * same under test as in production.
 */
export function sleepOn(clock: Pick<Clock, 'setTimer'>, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      cancel();
      reject(abortReason(signal));
    };
    const cancel = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The error a sleep rejects with when aborted: the signal's reason when it is an Error (Node sets
 * an AbortError by default), else an AbortError that carries the reason as its cause.
 */
function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  return Object.assign(new Error('The operation was aborted', { cause: reason }), { name: 'AbortError' });
}

/** Arms a real timer of any length (see MAX_TIMEOUT_MS). */
function setRealTimer(ms: number, fn: () => void): CancelTimer {
  let handle: NodeJS.Timeout | undefined;
  const arm = (remaining: number): void => {
    const step = Math.min(Math.max(0, remaining), MAX_TIMEOUT_MS);
    handle = setTimeout(() => {
      if (remaining > step) arm(remaining - step);
      else fn();
    }, step);
  };
  arm(ms);
  return () => {
    clearTimeout(handle);
  };
}

/** The process's clock: `performance.now()` for time (monotonic) and `setTimeout` for timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer: setRealTimer,
  sleep(ms, signal) {
    return sleepOn(systemClock, ms, signal);
  },
};

/** One timer of a ManualClock; `seq` keeps timers due at the same time in the order they were armed. */
interface ManualTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * A clock that moves only when told to, for tests: `advance(ms)` fires every timer that falls due,
 * in due order, with `now()` reading each timer's due time while it runs. Nothing ever sleeps.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, ManualTimer>();

  /** @param start the value `now()` reads before the first advance. @default 0 */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The current manual time. */
  now(): number {
    return this.#now;
  }

  /** Arms a timer due at `now() + ms`; a timer due now fires on the next `advance`, even `advance(0)`. */
  setTimer(ms: number, fn: () => void): CancelTimer {
    const seq = this.#seq++;
    this.#timers.set(seq, { at: this.#now + Math.max(0, ms), seq, fn });
    return () => {
      this.#timers.delete(seq);
    };
  }

  /** Sleeps until the clock is advanced past `ms` (see `sleepOn` for abort semantics). */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /**
   * Moves time forward by `ms`, firing due timers in order, including timers that those timers arm
   * if they fall due within the window. Promise continuations run only after this returns.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`cannot advance a clock by ${ms} ms`);
    const target = this.#now + ms;
    for (let timer = this.#nextDue(target); timer; timer = this.#nextDue(target)) {
      this.#timers.delete(timer.seq);
      this.#now = timer.at;
      timer.fn();
    }
    this.#now = target;
  }

  /** How many timers are armed and not yet fired or cancelled: lets tests prove nothing leaks. */
  pendingTimers(): number {
    return this.#timers.size;
  }

  /** When the earliest armed timer is due, or undefined when none is armed. */
  nextTimerAt(): number | undefined {
    return this.#nextDue(Number.POSITIVE_INFINITY)?.at;
  }

  /** The earliest timer due at or before `limit`. */
  #nextDue(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const timer of this.#timers.values()) {
      if (timer.at > limit) continue;
      if (!best || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq)) best = timer;
    }
    return best;
  }
}
