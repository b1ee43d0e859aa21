/**
 * What the benchmark writes: sources shaped like the Secrets nsync is for (a cert-manager TLS
 * Secret, small app Secrets and ConfigMaps), and floor objects shaped like the mirrors nsync
 * writes (same data, same number and size of labels and annotations), so the floor does the same
 * work per object as nsync.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { pool, type KubeClient } from './kube.ts';

/** Namespace of every source. */
export const SOURCE_NAMESPACE = 'bench-src';
/** Push to every namespace but `default` (kube-system, kube-public, kube-node-lease are excluded by nsync's defaults). */
export const PUSH_EVERYWHERE = '*, !default';

/** Random bytes as base64 (Secret data). */
export function randomBase64(bytes: number): string {
  return randomBytes(bytes).toString('base64');
}

/** The data of a TLS Secret of the size cert-manager issues (about 4.5 KiB in base64). */
export function tlsData(): Record<string, string> {
  return { 'tls.crt': randomBase64(1400), 'tls.key': randomBase64(1200), 'ca.crt': randomBase64(900) };
}

/** A small app Secret's data. */
export function smallSecretData(): Record<string, string> {
  return { username: randomBase64(12), password: randomBase64(600) };
}

/** A small ConfigMap's data. */
export function smallConfigData(): Record<string, string> {
  return { 'ca.pem': randomBytes(450).toString('hex'), 'settings.json': `{"rev":"${randomUUID()}"}` };
}

/**
 * A push source (Secret or ConfigMap) in SOURCE_NAMESPACE; `annotations` replace the default
 * push to every namespace (S6 aims its sources at its own namespaces and names a remote cluster).
 */
export function sourceBody(
  kind: 'Secret' | 'ConfigMap',
  name: string,
  data: Readonly<Record<string, string>>,
  type?: string,
  annotations: Readonly<Record<string, string>> = { 'nsync.dev/push-to': PUSH_EVERYWHERE },
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind,
    metadata: { name, namespace: SOURCE_NAMESPACE, annotations },
    ...(type === undefined ? {} : { type }),
    data,
  };
}

/** Label selector and hash annotation of floor objects (the floor's own watch uses them). */
export const FLOOR_SELECTOR = 'app.kubernetes.io/managed-by=bench-floor';
export const FLOOR_HASH = 'floor.bench/content-hash';

/**
 * A floor object: what a mirror looks like (label, three annotations of the same lengths, same
 * type and data), under keys nsync ignores.
 */
export function floorBody(
  namespace: string,
  name: string,
  data: Readonly<Record<string, string>>,
  hash: string,
  resourceVersion?: string,
  type = 'kubernetes.io/tls',
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'bench-floor' },
      annotations: {
        'floor.bench/source': `${SOURCE_NAMESPACE}/${name}`,
        'floor.bench/source-uid': FLOOR_UID,
        [FLOOR_HASH]: hash,
      },
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
    },
    type,
    data,
  };
}

const FLOOR_UID = randomUUID();

/** A content-hash-like value (sha256 hex length). */
export function fakeHash(): string {
  return randomBytes(32).toString('hex');
}

/** Creates sources in SOURCE_NAMESPACE, eight at a time (the set-up of S3, S4 and the scale profile). */
export async function createSources(
  admin: KubeClient,
  sources: readonly {
    readonly kind: 'Secret' | 'ConfigMap';
    readonly plural: string;
    readonly name: string;
    readonly data: Record<string, string>;
  }[],
): Promise<void> {
  await pool(sources.length, 8, async (i) => {
    const source = sources[i];
    if (source === undefined) return;
    await admin.ok(
      'POST',
      `/api/v1/namespaces/${SOURCE_NAMESPACE}/${source.plural}`,
      sourceBody(source.kind, source.name, source.data),
    );
  });
}
