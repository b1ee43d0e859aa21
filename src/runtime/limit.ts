/**
 * Runs async tasks with at most `concurrency` in flight. Writes to the API server go through one
 * limiter so a large fan-out uses the connection pool fully without flooding it.
 */
export class Limiter {
  private readonly concurrency: number;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  /** @param concurrency tasks in flight at once; at least 1. */
  constructor(concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError('concurrency must be a whole number ≥ 1');
    this.concurrency = concurrency;
  }

  /** Runs `task` when a slot is free; resolves or rejects with its result. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running += 1;
    try {
      return await task();
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }

  /** Tasks in flight now. */
  get active(): number {
    return this.running;
  }
}
