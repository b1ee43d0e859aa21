/**
 * The Events that tell a source why targets in a remote cluster got no copy, one per reason (a
 * rule over every namespace of a cluster must not say it per namespace).
 *
 * Why two kinds of reason: the target side's own parties say "no" in a remote cluster exactly as
 * they do at home (ADR 10) — the team that edits the copy refuses it (`nsync.dev/refuse`), the
 * platform team of the namespace withholds consent (`nsync.dev/accept-from` under
 * `--target-consent`) — so their word is reported under the same reason as at home
 * (`MirrorRefused`, `TargetConsentMissing`), and whatever a source team watches for catches it in
 * every cluster (docs/adr/0027). The operator's guardrails there (exclusions, opt-out, reserved
 * names, budget, ...) stay `RemoteMirrorSkipped`. Every note starts with the cluster's name.
 *
 * Pure: no I/O.
 */
import type { Decision } from '../../plan/model.ts';

/** The reason of a skipped remote target's Event, by decision code. */
const PARTY_REASONS: Partial<Record<Decision['code'], string>> = {
  refused: 'MirrorRefused',
  'target-consent-missing': 'TargetConsentMissing',
};

/** What a skip Event says: its reason and its note. */
export interface SkipEvent {
  readonly reason: string;
  readonly note: string;
}

/** How many targets one note names before it says "…". */
const NAMED = 10;

/** The Events for the targets skipped in `cluster`, one per decision code, in the order first seen. */
export function skipEvents(cluster: string, skipped: readonly Decision[]): SkipEvent[] {
  const events: SkipEvent[] = [];
  for (const [code, found] of Map.groupBy(skipped, (decision) => decision.code)) {
    const [first] = found;
    if (first === undefined) continue;
    const where = found
      .slice(0, NAMED)
      .map((decision) => `${decision.namespace}/${decision.name}`)
      .join(', ');
    events.push({
      reason: PARTY_REASONS[code] ?? 'RemoteMirrorSkipped',
      note:
        found.length === 1
          ? `Cluster ${cluster}: ${first.message}`
          : `Cluster ${cluster}: ${String(found.length)} targets skipped (${code}): ${where}${found.length > NAMED ? ', …' : ''}. ${first.message}`,
    });
  }
  return events;
}
