/**
 * The work queue of a controller: it merges repeated requests for one key, never runs one key
 * twice at once, retries failures with backoff, schedules periodic requeues, and drains gracefully.
 *
 * Every key is in at most one of these states, which is what makes the guarantees easy to check:
 * - ready: waiting in FIFO order for a free slot;
 * - scheduled: waiting for a timer (`addAfter`, `addRateLimited`);
 * - in flight: its handler runs; it may also be marked dirty, meaning "run once more when done";
 * - absent.
 * A request for a key that is already due sooner is dropped (the earliest request wins).
 */
import { Backoff, type BackoffOptions } from './backoff.ts';
import { systemClock, type CancelTimer, type Clock } from './clock.ts';

/** How one handler run ended, as reported to `QueueObserver.onDone`. */
export type RunOutcome = 'ok' | 'error' | 'requeue';

/** What a handler asks for after a successful run. An empty object means "done until the next add". */
export interface HandlerResult {
  /** Run the key again after this many milliseconds (a periodic resync), unless it runs sooner. */
  readonly requeueAfter?: number;
}

/**
 * Reconciles one key. Resolving (with a HandlerResult, or with nothing for "done") resets the key's
 * backoff; throwing or rejecting means "retry later with backoff". Errors are reported to `QueueObserver.onError`, not swallowed silently.
 */
export type Handler = (key: string) => Promise<HandlerResult> | Promise<void>;

/**
 * Callbacks that let the wiring layer export metrics and logs without this module knowing any
 * metrics library. Each callback is optional. A callback that throws is ignored, so a broken
 * metric can never stop the work loop.
 */
export interface QueueObserver {
  /** A key became due now (queued, or marked dirty while in flight); merged duplicates are not reported. */
  onAdd?(key: string): void;
  /** A handler run starts; `waitedMs` is the time since the key became due. */
  onStart?(key: string, waitedMs: number): void;
  /** A handler run ended. */
  onDone?(key: string, durationMs: number, outcome: RunOutcome): void;
  /** A handler run failed; `error` is what it threw. Called before `onDone`. */
  onError?(key: string, error: unknown): void;
  /** A key was scheduled for a retry after `delayMs` by `addRateLimited`. */
  onRetry?(key: string, delayMs: number): void;
}

/** How a WorkQueue is built; every field is optional. */
export interface WorkQueueOptions {
  /**
   * The source of time and timers; tests pass a ManualClock.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * The retry policy of `addRateLimited`.
   * @default { baseMs: 100, maxMs: 60000, random: Math.random }
   */
  readonly backoff?: BackoffOptions;
  /** Metrics and logging callbacks. @default no callbacks */
  readonly observer?: QueueObserver;
}

/** How `run` processes keys. */
export interface RunOptions {
  /**
   * At most this many handlers run at once (on distinct keys).
   * @default 1
   */
  readonly concurrency?: number;
  /** The reconcile function. */
  readonly handler: Handler;
  /** Aborting it has the effect of `shutdown()`. */
  readonly signal?: AbortSignal;
}

/** The result of one handler run, caught so that it can never become an unhandled rejection. */
type Settled =
  { readonly ok: true; readonly value: HandlerResult } | { readonly ok: false; readonly error: unknown };

/** Runs the handler and captures a synchronous throw, a rejection or a result alike. */
async function settle(handler: Handler, key: string): Promise<Settled> {
  try {
    const value = await handler(key);
    return { ok: true, value: value ?? {} };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A delay is usable when it is a finite, non-negative number of milliseconds. */
function isDelay(ms: number): boolean {
  return Number.isFinite(ms) && ms >= 0;
}

/**
 * A keyed work queue with a built-in runner. Create it early so that triggers can add keys
 * before the caches have synced; call `run` once they have.
 */
export class WorkQueue {
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #observer: QueueObserver;
  /** Keys due now, in FIFO order (a Set keeps insertion order). */
  readonly #ready = new Set<string>();
  /** When each ready or dirty key became due, for `onStart`'s waitedMs. */
  readonly #dueSince = new Map<string, number>();
  readonly #inFlight = new Set<string>();
  /** In-flight keys that were added again and must run once more after their current run. */
  readonly #dirty = new Set<string>();
  readonly #scheduled = new Map<string, { readonly at: number; readonly cancel: CancelTimer }>();
  #runner: { readonly concurrency: number; readonly handler: Handler } | undefined;
  #stopping = false;
  #pumpQueued = false;
  #progressAt: number;
  readonly #drained: PromiseWithResolvers<void> = Promise.withResolvers();

  /** @throws RangeError when the backoff options are invalid. */
  constructor(options: WorkQueueOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#backoff = new Backoff(options.backoff);
    this.#observer = options.observer ?? {};
    this.#progressAt = this.#clock.now();
  }

  /**
   * Asks for `key` to be processed as soon as possible. Merged with a pending request for the
   * same key; replaces a scheduled (later) one; if the key is in flight, it runs once more after
   * the current run ends. Ignored after `shutdown`.
   */
  add(key: string): void {
    if (this.#stopping) return;
    this.#cancelScheduled(key);
    if (this.#ready.has(key) || this.#dirty.has(key)) return;
    this.#markProgressIfIdle();
    this.#dueSince.set(key, this.#clock.now());
    if (this.#inFlight.has(key)) {
      this.#dirty.add(key);
    } else {
      this.#ready.add(key);
      this.#schedulePump();
    }
    this.#notify((o) => o.onAdd?.(key));
  }

  /**
   * Asks for `key` to be processed after `ms` milliseconds (at once when `ms <= 0`). When the key
   * is already due sooner, the request is dropped; when it is scheduled later, the timer is moved
   * earlier. Ignored after `shutdown`.
   * @throws RangeError when `ms` is NaN or infinite.
   */
  addAfter(key: string, ms: number): void {
    if (Number.isNaN(ms) || !Number.isFinite(ms))
      throw new RangeError(`addAfter needs a finite delay, got ${ms}`);
    if (this.#stopping) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    if (this.#ready.has(key) || this.#dirty.has(key)) return;
    const at = this.#clock.now() + ms;
    const existing = this.#scheduled.get(key);
    if (existing && existing.at <= at) return;
    existing?.cancel();
    const cancel = this.#clock.setTimer(ms, () => {
      this.#scheduled.delete(key);
      this.add(key);
    });
    this.#scheduled.set(key, { at, cancel });
  }

  /**
   * Schedules a retry of `key` after its next backoff delay; every call counts as one more
   * failure until `forget(key)`. This is what the runner does when a handler throws.
   */
  addRateLimited(key: string): void {
    if (this.#stopping) return;
    const delay = this.#backoff.next(key);
    this.#notify((o) => o.onRetry?.(key, delay));
    this.addAfter(key, delay);
  }

  /** Resets the backoff of `key`; the runner does this after each successful run. */
  forget(key: string): void {
    this.#backoff.reset(key);
  }

  /** Consecutive failures of `key` since it last succeeded or was forgotten. */
  failures(key: string): number {
    return this.#backoff.failures(key);
  }

  /**
   * Processes keys until `shutdown()` (or `signal` aborts), at most `concurrency` at a time, in
   * FIFO order, never two runs of one key at once. A throw schedules a retry with backoff; a
   * success resets the backoff and honours `requeueAfter`. Resolves once shut down and drained.
   * Call it once per queue; call it only after the caches have synced.
   */
  run(options: RunOptions): Promise<void> {
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      return Promise.reject(new RangeError(`concurrency must be an integer >= 1, got ${concurrency}`));
    }
    if (this.#runner) return Promise.reject(new Error('WorkQueue.run was already called'));
    this.#progressAt = this.#clock.now();
    this.#runner = { concurrency, handler: options.handler };
    this.#watchSignal(options.signal);
    this.#schedulePump();
    return this.#drained.promise;
  }

  /**
   * Stops taking keys: pending and scheduled keys are dropped, `add` becomes a no-op, and no new
   * handler starts. Resolves when the handlers in flight have finished (a graceful drain); their
   * results no longer schedule anything. Idempotent.
   */
  shutdown(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      for (const { cancel } of this.#scheduled.values()) cancel();
      this.#scheduled.clear();
      this.#ready.clear();
      this.#dirty.clear();
      this.#dueSince.clear();
      this.#resolveIfDrained();
    }
    return this.#drained.promise;
  }

  /** True once `shutdown` was called (or the run signal aborted). */
  isShuttingDown(): boolean {
    return this.#stopping;
  }

  /** Keys due now and waiting for a slot (the `workqueue_depth` metric); scheduled keys are not counted. */
  depth(): number {
    return this.#ready.size;
  }

  /** Handlers running now. */
  inFlight(): number {
    return this.#inFlight.size;
  }

  /** Keys waiting for a timer (retries and requeues). */
  scheduled(): number {
    return this.#scheduled.size;
  }

  /**
   * The last time the loop made progress, on the clock's scale: now when it is idle (nothing due
   * or in flight, or not running yet), else the later of the last handler completion and the
   * moment it stopped being idle. Liveness fails when `clock.now() - lastProgressAt()` grows past
   * a limit: a stuck loop ages, an idle one does not.
   */
  lastProgressAt(): number {
    return this.#isIdle() ? this.#clock.now() : this.#progressAt;
  }

  /** Idle: nothing that should be making progress. A queue that is not running is idle. */
  #isIdle(): boolean {
    if (!this.#runner) return true;
    return this.#ready.size === 0 && this.#inFlight.size === 0;
  }

  /** Records the last idle moment, just before the queue may stop being idle. */
  #markProgressIfIdle(): void {
    if (this.#isIdle()) this.#progressAt = this.#clock.now();
  }

  #cancelScheduled(key: string): void {
    const entry = this.#scheduled.get(key);
    if (!entry) return;
    entry.cancel();
    this.#scheduled.delete(key);
  }

  #watchSignal(signal: AbortSignal | undefined): void {
    if (!signal) return;
    const stop = (): void => {
      void this.shutdown();
    };
    if (signal.aborted) {
      stop();
      return;
    }
    signal.addEventListener('abort', stop, { once: true });
    void this.#drained.promise.then(() => {
      signal.removeEventListener('abort', stop);
    });
  }

  /** Starts handlers on a later microtask, once, however many keys were added in this turn. */
  #schedulePump(): void {
    if (this.#pumpQueued || !this.#runner) return;
    this.#pumpQueued = true;
    queueMicrotask(() => {
      this.#pumpQueued = false;
      this.#pump();
    });
  }

  #pump(): void {
    const runner = this.#runner;
    if (!runner) return;
    while (!this.#stopping && this.#inFlight.size < runner.concurrency) {
      const key = this.#ready.values().next();
      if (key.done === true) return;
      this.#start(key.value, runner.handler);
    }
  }

  #start(key: string, handler: Handler): void {
    this.#ready.delete(key);
    this.#inFlight.add(key);
    const startedAt = this.#clock.now();
    const waited = startedAt - (this.#dueSince.get(key) ?? startedAt);
    this.#dueSince.delete(key);
    this.#notify((o) => o.onStart?.(key, waited));
    void settle(handler, key).then((settled) => {
      this.#finish(key, startedAt, settled);
    });
  }

  #finish(key: string, startedAt: number, settled: Settled): void {
    this.#inFlight.delete(key);
    this.#progressAt = this.#clock.now();
    if (this.#dirty.delete(key)) this.#ready.add(key);
    const outcome = this.#outcome(key, settled);
    this.#notify((o) => o.onDone?.(key, this.#clock.now() - startedAt, outcome));
    this.#schedulePump();
    this.#resolveIfDrained();
  }

  /** Turns a run's result into its follow-up (retry, requeue or nothing) and names the outcome. */
  #outcome(key: string, settled: Settled): RunOutcome {
    if (!settled.ok) return this.#failed(key, settled.error);
    const after = settled.value.requeueAfter;
    if (after === undefined) {
      this.forget(key);
      return 'ok';
    }
    if (!isDelay(after)) {
      return this.#failed(key, new RangeError(`handler returned an invalid requeueAfter: ${after}`));
    }
    this.forget(key);
    this.addAfter(key, after);
    return 'requeue';
  }

  #failed(key: string, error: unknown): RunOutcome {
    this.#notify((o) => o.onError?.(key, error));
    this.addRateLimited(key);
    return 'error';
  }

  #resolveIfDrained(): void {
    if (this.#stopping && this.#inFlight.size === 0) this.#drained.resolve();
  }

  /** Calls an observer callback, ignoring its failure (see QueueObserver). */
  #notify(call: (observer: QueueObserver) => void): void {
    try {
      call(this.#observer);
    } catch {
      // A metrics or logging failure must not break the work loop.
    }
  }
}
