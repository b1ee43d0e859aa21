/**
 * `npm run cluster`: a real control plane on loopback for a person, until Ctrl-C or SIGTERM.
 * The first line printed is `export KUBECONFIG=…`, so `eval "$(npm run -s cluster | head -1)"`
 * in another shell works too.
 */
import { startControlPlane } from './controlplane/harness.ts';

const controlPlane = await startControlPlane();
console.log(`export KUBECONFIG=${controlPlane.admin.kubeconfigPath}`);
console.error(
  `kube-apiserver ${controlPlane.version} (etcd ${controlPlane.etcdVersion}) ${controlPlane.server} is ready (logs in ${controlPlane.dir}). Ctrl-C stops it.`,
);
for (const user of controlPlane.users) {
  console.error(`  user ${user.user} (no rights until RBAC grants some): ${user.kubeconfigPath}`);
}

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  console.error('stopping the control plane…');
  controlPlane.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
