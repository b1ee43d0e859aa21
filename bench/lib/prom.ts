/**
 * Prometheus text parsing, just enough for two sources: nsync's /metrics and the API server's
 * apiserver_request_total (the API server's own count of the requests it served, so the writes
 * the benchmark reports are not nsync's word for it).
 */
import type { KubeClient } from './kube.ts';

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the samples whose metric name is in `names` (all when undefined). */
export function parseProm(text: string, names?: ReadonlySet<string>): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    if (space < 0) continue;
    const name = brace >= 0 && brace < space ? line.slice(0, brace) : line.slice(0, line.indexOf(' '));
    if (names !== undefined && !names.has(name)) continue;
    const labels: Record<string, string> = {};
    if (brace >= 0 && brace < space) {
      const body = line.slice(brace + 1, line.lastIndexOf('}'));
      for (const match of body.matchAll(LABEL)) labels[match[1] ?? ''] = match[2] ?? '';
    }
    samples.push({ name, labels, value: Number(line.slice(space + 1)) });
  }
  return samples;
}

/** Sum of a metric's samples, optionally filtered by labels. */
export function sumOf(
  samples: readonly Sample[],
  name: string,
  filter: (labels: Readonly<Record<string, string>>) => boolean = () => true,
): number {
  let total = 0;
  for (const sample of samples) if (sample.name === name && filter(sample.labels)) total += sample.value;
  return total;
}

/** Write verbs as apiserver_request_total names them. */
export const WRITE_VERBS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY']);

/** apiserver_request_total by `VERB resource[/subresource] code`, resource requests only. */
export type RequestCounts = ReadonlyMap<string, number>;

/** The API server's request counters now. */
export async function apiserverRequests(client: KubeClient): Promise<RequestCounts> {
  const samples = parseProm(await client.text('/metrics'), new Set(['apiserver_request_total']));
  const counts = new Map<string, number>();
  for (const { labels, value } of samples) {
    const resource = labels['resource'] ?? '';
    if (resource === '') continue;
    const sub = labels['subresource'] ?? '';
    const key = `${labels['verb'] ?? '?'} ${resource}${sub === '' ? '' : `/${sub}`} ${labels['code'] ?? '?'}`;
    counts.set(key, (counts.get(key) ?? 0) + value);
  }
  return counts;
}

/** One row of a request difference. */
export interface RequestDelta {
  readonly verb: string;
  readonly resource: string;
  readonly code: string;
  readonly count: number;
}

/** after − before, non-zero rows only, sorted. */
export function requestDelta(before: RequestCounts, after: RequestCounts): RequestDelta[] {
  const rows: RequestDelta[] = [];
  for (const [key, value] of after) {
    const count = value - (before.get(key) ?? 0);
    if (count === 0) continue;
    const [verb = '', resource = '', code = ''] = key.split(' ');
    rows.push({ verb, resource, code, count });
  }
  return rows.sort(
    (a, b) =>
      a.resource.localeCompare(b.resource) || a.verb.localeCompare(b.verb) || a.code.localeCompare(b.code),
  );
}

/** Totals of a delta by `VERB resource`, codes merged. */
export function byVerb(rows: readonly RequestDelta[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const row of rows) {
    const key = `${row.verb} ${row.resource}`;
    totals[key] = (totals[key] ?? 0) + row.count;
  }
  return totals;
}

/** Write requests on the given resources in a delta (every code: a refused write is still a write). */
export function writesOn(rows: readonly RequestDelta[], resources: readonly string[]): number {
  return rows
    .filter((row) => WRITE_VERBS.has(row.verb) && resources.includes(row.resource))
    .reduce((total, row) => total + row.count, 0);
}

/** Requests of the given verbs on the given resources in a delta. */
export function countOf(
  rows: readonly RequestDelta[],
  verbs: readonly string[],
  resources: readonly string[],
): number {
  return rows
    .filter((row) => verbs.includes(row.verb) && resources.includes(row.resource))
    .reduce((total, row) => total + row.count, 0);
}
