/**
 * The one-key Secrets the cross-cluster tests copy around (`data.value`), and the polls on them:
 * each of those tests asks the same questions of several clusters.
 */
import type { Cluster } from '../../tools/controlplane/harness.ts';
import { b64, getObject } from './cluster.ts';

/** An Opaque Secret holding `value` under the key `value`. */
export function secretWithValue(
  name: string,
  value: string,
  annotations: Record<string, string> = {},
): object {
  return { metadata: { name, annotations }, type: 'Opaque', data: { value: b64(value) } };
}

/** The decoded `value` of a Secret in that cluster, or undefined when it (or the key) is absent. */
export async function valueIn(
  cluster: Cluster,
  namespace: string,
  name: string,
): Promise<string | undefined> {
  const value = (await getObject(cluster, 'secrets', namespace, name))?.data?.['value'];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** A poll for `eventually`: the Secret holds `expected`. */
export function hasValue(cluster: Cluster, namespace: string, name: string, expected: string) {
  return async (): Promise<true | undefined> =>
    (await valueIn(cluster, namespace, name)) === expected ? true : undefined;
}

/** A poll for `eventually`: the Secret is gone. */
export function gone(cluster: Cluster, namespace: string, name: string) {
  return async (): Promise<true | undefined> =>
    (await getObject(cluster, 'secrets', namespace, name)) === undefined ? true : undefined;
}
