/**
 * Contested mirrors (docs/adr/0010). When another field manager changes a mirror — a person's
 * edit, `kubectl apply`, a GitOps tool's forced server-side apply — nsync restores it, as an
 * accidental edit must be repaired. But a tool that re-applies its own version on every change
 * would then fight nsync without end, so restores are counted on the mirror itself
 * (`nsync.dev/restores: "<count> since <time>"`, written with each restore): once `maxRestores`
 * were made within `windowMs`, a change by another manager inside that window is not restored,
 * and the mirror is contested.
 *
 * The count lives on the object, not in nsync's memory, so a restart or a new leader does not
 * reset it, and stopping needs no extra write. The verdict depends only on the object (the count,
 * and the time of the other manager's write from managedFields), never on the clock, so it stays
 * decided while nsync leaves the object alone: nothing resumes on a timer. The contest is over
 * when the object is deleted (nsync creates a fresh mirror), its nsync markers are removed (it is
 * then the other party's), someone removes `nsync.dev/restores` (handing it back), or the other
 * party changes it again after the window (a new change, repaired like any edit, and counted
 * anew).
 *
 * Pure: no I/O, no clock (the time comes with the snapshot).
 */
import { owned } from '../rules/markers.ts';
import type { ObjectMeta } from './model.ts';
import { ownValue } from './render.ts';

/** How many restores a window allows. */
export interface ContestLimits {
  /** Restores allowed within one window; the next one is not made. @default 3 */
  readonly maxRestores: number;
  /** Length of the window restores are counted in, from the first of them. @default 600_000 */
  readonly windowMs: number;
}

/** The defaults: three restores within ten minutes. */
export const DEFAULT_CONTEST_LIMITS: ContestLimits = { maxRestores: 3, windowMs: 600_000 };

/** A parsed `nsync.dev/restores` marker. */
export interface RestoreCount {
  readonly count: number;
  /** ISO-8601 time of the first restore of the window. */
  readonly since: string;
}

const MARKER = /^(\d{1,6}) since (\d{4}-\d{2}-\d{2}T[0-9:.]+Z)$/;

/** Reads the marker; undefined when absent or not in nsync's format (then nothing is counted). */
export function parseRestores(value: string | undefined): RestoreCount | undefined {
  const match = value === undefined ? null : MARKER.exec(value.trim());
  if (match === null) return undefined;
  const since = match[2] ?? '';
  if (Number.isNaN(Date.parse(since))) return undefined;
  return { count: Number(match[1]), since };
}

/** The marker as written. */
export function formatRestores(restores: RestoreCount): string {
  return `${String(restores.count)} since ${restores.since}`;
}

/**
 * Whether an update of an existing mirror restores it after someone else's change, rather than
 * following the source: another field manager wrote it since nsync did, and the content hash nsync
 * recorded still matches the source, so the source's content did not change.
 */
export function isRestore(existing: ObjectMeta, hash: string): boolean {
  return existing.foreignWrite !== undefined && ownValue(existing.annotations, owned.contentHash) === hash;
}

/** Milliseconds from one ISO time to another; NaN when either is unreadable. */
function elapsed(from: string, to: string): number {
  return Date.parse(to) - Date.parse(from);
}

/** What to do about a restore that is due. */
export type ContestVerdict =
  | { readonly contested: false; readonly marker: string }
  | { readonly contested: true; readonly restores: RestoreCount; readonly managers: readonly string[] };

/**
 * Decides a due restore. Contested when the marker already counts `maxRestores` and the other
 * manager's change came within the window that began with the first of them (an undated change
 * counts as within). Otherwise the restore is made, and the marker to write counts it: one more
 * within a running window, or 1 in a new window that begins now.
 */
export function judgeRestore(existing: ObjectMeta, now: string, limits: ContestLimits): ContestVerdict {
  const recorded = parseRestores(ownValue(existing.annotations, owned.restores));
  const changedAt = existing.foreignWrite?.at ?? '';
  if (recorded !== undefined && recorded.count >= limits.maxRestores) {
    const sinceWindow = changedAt === '' ? 0 : elapsed(recorded.since, changedAt);
    if (!(sinceWindow >= limits.windowMs)) {
      return { contested: true, restores: recorded, managers: existing.foreignWrite?.managers ?? [] };
    }
  }
  const running = recorded !== undefined && elapsed(recorded.since, now) < limits.windowMs;
  const next: RestoreCount =
    running && recorded.count < limits.maxRestores
      ? { count: recorded.count + 1, since: recorded.since }
      : { count: 1, since: now };
  return { contested: false, marker: formatRestores(next) };
}
