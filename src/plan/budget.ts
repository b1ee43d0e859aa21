/**
 * The fan-out budget: how much one source may place in the cluster. A 1 MiB Secret pushed to
 * every namespace of a 2,000-namespace cluster is 2 GiB, etcd's default quota, and an etcd over
 * its quota refuses every write in the cluster. So each source gets a limit on its mirrors
 * (targets) and on their bytes together (targets × the content's size); a source over it keeps
 * its existing mirrors, gets no new ones, and is reported. The defaults are far above ordinary
 * use (a 10 KiB certificate in 10,000 namespaces is 100 MiB).
 *
 * Pure: no I/O.
 */
import type { Kind } from '../rules/model.ts';
import type { HashableContent } from './hash.ts';

/** Limits on what one source may place. */
export interface FanOutBudget {
  /** Mirrors one source may have (push targets). @default 10_000 */
  readonly maxTargets: number;
  /** Bytes one source may place: mirrors × content size. @default 512 MiB */
  readonly maxBytes: number;
}

export const DEFAULT_FAN_OUT_BUDGET: FanOutBudget = { maxTargets: 10_000, maxBytes: 512 * 1024 * 1024 };

/** Decoded bytes of a base64 text, without decoding it. */
function base64Bytes(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((text.length * 3) / 4) - padding);
}

/**
 * The bytes a mirror of this content stores: key names plus values (Secret data and ConfigMap
 * binaryData are base64 in the API and counted decoded; ConfigMap data is UTF-8 text). Metadata is
 * left out: it is small and the same for any content.
 */
export function contentBytes(kind: Kind, content: HashableContent): number {
  let bytes = 0;
  for (const [key, value] of Object.entries(content.data)) {
    bytes += Buffer.byteLength(key) + (kind === 'Secret' ? base64Bytes(value) : Buffer.byteLength(value));
  }
  for (const [key, value] of Object.entries(content.binaryData)) {
    bytes += Buffer.byteLength(key) + base64Bytes(value);
  }
  return bytes;
}

/** Whether `targets` mirrors of `bytes` each fit, and if not, why in words. */
export function overBudget(budget: FanOutBudget, targets: number, bytes: number): string | undefined {
  if (targets > budget.maxTargets) {
    return `${String(targets)} mirrors exceed the limit of ${String(budget.maxTargets)} per source`;
  }
  const total = targets * bytes;
  if (total > budget.maxBytes) {
    return `${String(targets)} mirrors of ${formatBytes(bytes)} (${formatBytes(total)}) exceed the limit of ${formatBytes(budget.maxBytes)} per source`;
  }
  return undefined;
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown =
    unit === 0 || value >= 100 ? Math.round(value).toString() : value.toFixed(1).replace(/\.0$/, '');
  return `${shown} ${units[unit] ?? 'B'}`;
}
