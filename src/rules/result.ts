/**
 * A value-or-error type for the parsers. Annotation text is user input: a bad value must become a
 * RuleProblem on that one object, never an exception that unwinds a reconcile, so every parser in
 * rules/ returns this instead of throwing.
 */

/** Either a parsed value or a message that is safe to show a user (names the input, no data). */
export type Result<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** Wraps a value, so call sites read as the happy path. */
export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

/** Wraps a message; `never` lets one failure flow into any Result type without casts. */
export function fail(error: string): Result<never> {
  return { ok: false, error };
}

/**
 * The longest slice of user text quoted back in a message. Annotation values can be up to 256 KiB;
 * an Event or log line that repeats all of it helps nobody and may be truncated by the API server.
 */
export const MAX_QUOTED_LENGTH = 80;

/**
 * Quotes user text for a message: JSON-style so control characters are visible, shortened so a
 * huge value stays a readable message.
 */
export function quote(text: string): string {
  const chars = Array.from(text);
  const shown = chars.length > MAX_QUOTED_LENGTH ? `${chars.slice(0, MAX_QUOTED_LENGTH).join('')}…` : text;
  return JSON.stringify(shown);
}
