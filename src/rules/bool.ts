/**
 * Boolean annotation values, per dialect. The three dialects disagree on what counts as true, and
 * manifests written for each rely on their own rules, so one shared "truthy" test would silently
 * turn some sources on or off after a migration.
 */
import { fail, ok, quote, type Result } from './result.ts';

/**
 * reflector: `true`/`false` in any case (surrounding whitespace ignored, as .NET's bool parsing
 * does); anything else — including absence — is false. Never an error, because reflector never
 * reported one: a typo there meant "off", and turning it into a problem would change nothing a
 * user could see except noise.
 */
export function parseReflectorBool(value: string | undefined): boolean {
  return value !== undefined && value.trim().toLowerCase() === 'true';
}

const GO_TRUE: ReadonlySet<string> = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE: ReadonlySet<string> = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/**
 * replicator: exactly Go's strconv.ParseBool (no trimming, no other spellings), because replicator
 * users may have written `1` or `T`. Anything else is invalid, and the caller decides whether that
 * denies (it must never grant).
 */
export function parseReplicatorBool(value: string): Result<boolean> {
  if (GO_TRUE.has(value)) return ok(true);
  if (GO_FALSE.has(value)) return ok(false);
  return fail(
    `${quote(value)} is not a boolean; use true or false (also accepted: 1, t, T, TRUE, True, 0, f, F, FALSE, False)`,
  );
}

/**
 * native: `true`/`false` in any case, surrounding whitespace ignored; anything else is a problem,
 * so that `yes` or `on` is reported instead of quietly meaning false.
 */
export function parseNativeBool(value: string): Result<boolean> {
  const normalised = value.trim().toLowerCase();
  if (normalised === 'true') return ok(true);
  if (normalised === 'false') return ok(false);
  return fail(`${quote(value)} is not a boolean; use "true" or "false"`);
}
