/**
 * Builds the control-plane binaries before the integration tests start, so a cold build (minutes,
 * once per machine and release) is reported on its own and never counted against a test's deadline.
 * Builds the release the tests will run: $NSYNC_KUBE_VERSION, else the newest pinned.
 */
import { controlPlaneBinaries } from './harness.ts';

const started = performance.now();
const { dir, version, etcdVersion } = controlPlaneBinaries();
console.log(
  `control plane binaries: Kubernetes ${version}, etcd ${etcdVersion} in ${dir} (${Math.round(performance.now() - started)} ms)`,
);
