/**
 * What differs between the Kubernetes releases the harness runs (tools/controlplane/kubernetes/<minor>/,
 * pinned by pin.sh): the flags a release needs to run on loopback, and the controller names
 * kube-controller-manager takes. Kept apart from harness.ts so a new minor's quirks land in one
 * small place, with the reason next to each.
 */

/** A Kubernetes release as `v1.<minor>.<patch>`, split for comparisons. */
export interface KubeVersion {
  readonly gitVersion: string;
  readonly minor: number;
  readonly patch: number;
}

/** Parses `v1.37.2` (what `kube-apiserver --version` and build.sh's `version` file say). */
export function parseKubeVersion(text: string): KubeVersion {
  const match = /^v?1\.(\d+)\.(\d+)$/.exec(text.trim());
  if (!match) throw new Error(`not a Kubernetes release version: ${JSON.stringify(text.trim())}`);
  const minor = Number(match[1]);
  const patch = Number(match[2]);
  return { gitVersion: `v1.${minor}.${patch}`, minor, patch };
}

/**
 * kube-controller-manager controllers nsync's behaviour depends on: namespace deletion, garbage
 * collection, default service accounts, the kube-root-ca.crt ConfigMap in every namespace, and
 * ClusterRole aggregation.
 * Canonical names rather than the short aliases (`namespace`, `garbagecollector`, ...): every
 * pinned release (1.34 to 1.37) accepts both, and an unknown name stops kube-controller-manager.
 */
export const CONTROLLERS = [
  'namespace-controller',
  'garbage-collector-controller',
  'serviceaccount-controller',
  'root-ca-certificate-publisher-controller',
  // ClusterRole aggregation: the chart's Mirror rights reach the built-in admin/edit/view roles.
  'clusterrole-aggregation-controller',
] as const;

/** A kube-apiserver flag that the releases from `fromMinor` to `untilMinor` need. */
interface ReleaseFlag {
  readonly flag: string;
  readonly fromMinor: number;
  readonly untilMinor?: number;
}

/**
 * `--endpoint-reconciler-type=none`: the default (`lease`) reconciler publishes the advertise
 * address (127.0.0.1 here) as the endpoint of the `default/kubernetes` Service, and a loopback
 * address is not a valid endpoint. Up to 1.36 that write is refused every 10 s ("unable to sync
 * kubernetes service ... may not be in the loopback range") and the Endpoints never exist; 1.37
 * checks the address at start and kube-apiserver exits ("cannot use public IP 127.0.0.1 with
 * endpoint reconciler"). With `none` the API looks the same on every release (the Service, no
 * Endpoints), so it is set on all of them: one configuration across the matrix, no error loop.
 */
const RELEASE_FLAGS: readonly ReleaseFlag[] = [{ flag: '--endpoint-reconciler-type=none', fromMinor: 34 }];

/** The kube-apiserver flags the given release needs besides the common ones. */
export function apiserverReleaseFlags(version: KubeVersion): string[] {
  return RELEASE_FLAGS.filter(
    ({ fromMinor, untilMinor }) => version.minor >= fromMinor && version.minor <= (untilMinor ?? Infinity),
  ).map(({ flag }) => flag);
}
