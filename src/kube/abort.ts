/**
 * Waiting that stops early on abort, for the loops of list+watch and leader election: a stop
 * request must never wait out a backoff or a retry period.
 */

/** Reads the flag through a call: it changes while we await, which type narrowing cannot see. */
export function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** Resolves after `ms`, or at once when the signal aborts (never rejects). */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
