/**
 * Per-key exponential backoff with full jitter. A key that keeps failing (a 409, an API server
 * that is down) waits longer each time, up to a cap, instead of spinning; jitter spreads the
 * retries of many keys that failed together so they do not hit the API server in one burst.
 */

/** The first retry waits up to this long. */
export const DEFAULT_BACKOFF_BASE_MS = 100;

/** No retry waits longer than this, however often a key failed. */
export const DEFAULT_BACKOFF_MAX_MS = 60_000;

/** How a Backoff grows; every field is optional. */
export interface BackoffOptions {
  /**
   * The ceiling of the first delay; each further failure doubles the ceiling.
   * @default 100
   */
  readonly baseMs?: number;
  /**
   * The cap on the ceiling.
   * @default 60000
   */
  readonly maxMs?: number;
  /**
   * A source of numbers in [0, 1); injected so tests get exact, repeatable delays.
   * @default Math.random
   */
  readonly random?: () => number;
}

/**
 * The largest delay allowed after `failures` consecutive failures: `min(maxMs, baseMs * 2^(failures-1))`.
 * Exported because it is the pure part of the policy, and what tests and docs reason about.
 */
export function backoffCeiling(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** (failures - 1));
}

/** Rejects settings that would make the backoff spin or never retry. */
function checkedOptions(options: BackoffOptions): Required<BackoffOptions> {
  const baseMs = options.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
  const maxMs = options.maxMs ?? DEFAULT_BACKOFF_MAX_MS;
  if (!Number.isFinite(baseMs) || baseMs <= 0)
    throw new RangeError(`backoff baseMs must be > 0, got ${baseMs}`);
  if (!Number.isFinite(maxMs) || maxMs < baseMs) {
    throw new RangeError(`backoff maxMs must be finite and >= baseMs (${baseMs}), got ${maxMs}`);
  }
  return { baseMs, maxMs, random: options.random ?? Math.random };
}

/**
 * Counts consecutive failures per key and turns them into delays. Memory is one number per key
 * that is currently failing: `reset` forgets the key entirely.
 */
export class Backoff {
  readonly #options: Required<BackoffOptions>;
  readonly #failures = new Map<string, number>();

  /** @throws RangeError when baseMs is not positive or maxMs is below baseMs. */
  constructor(options: BackoffOptions = {}) {
    this.#options = checkedOptions(options);
  }

  /**
   * Records one more failure of `key` and returns how long to wait before retrying it: a whole
   * number of milliseconds drawn uniformly from [0, ceiling) ("full jitter").
   */
  next(key: string): number {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    const { baseMs, maxMs, random } = this.#options;
    const unit = Math.min(Math.max(random(), 0), 1);
    return Math.floor(unit * backoffCeiling(failures, baseMs, maxMs));
  }

  /** Forgets the failures of `key`, so that its next failure starts from the base delay again. */
  reset(key: string): void {
    this.#failures.delete(key);
  }

  /** Consecutive failures of `key` since its last reset; for logs ("attempt 4") and tests. */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** How many keys are currently failing. */
  get size(): number {
    return this.#failures.size;
  }
}
