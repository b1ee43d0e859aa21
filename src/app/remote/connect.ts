/**
 * Reads `--remote-kubeconfig` into one RemoteAccess per context (docs/adr/0018), with kubed's rules
 * for what a context means: two contexts reaching the same API server are an error, and a context
 * that reaches this very cluster is left out (it would copy a source onto itself).
 */
import { KubeconfigError, kubeconfigContexts, loadKubeConfig } from '../../kube/kubeconfig.ts';
import { Transport } from '../../kube/transport.ts';
import type { Logger } from '../log.ts';
import type { RemoteAccess } from './cluster.ts';

/** Connections kept to each remote API server: its watches, plus room for reads and writes. */
const REMOTE_SOCKETS = 8;

/**
 * One transport per context of the file. Throws KubeconfigError naming the file and context when
 * the file or a context cannot be used: the operator's configuration is wrong, and a clear error
 * at start is better than a cluster silently missing.
 */
export async function connectRemoteClusters(
  path: string,
  localServer: URL,
  log: Logger,
  userAgent = 'nsync',
): Promise<RemoteAccess[]> {
  const contexts = kubeconfigContexts(path);
  const byServer = new Map<string, string>();
  const resolved = [];
  for (const context of contexts) {
    const config = loadKubeConfig({ kubeconfig: path, context });
    if (config.server.host === localServer.host) {
      log.warn({ context, server: config.server.origin }, 'remote context reaches this cluster: left out');
      continue;
    }
    const other = byServer.get(config.server.host);
    if (other !== undefined) {
      throw new KubeconfigError(
        `--remote-kubeconfig ${path}: contexts "${other}" and "${context}" reach the same API server ${config.server.host}; one cluster must be one context`,
      );
    }
    byServer.set(config.server.host, context);
    resolved.push({ context, config });
  }
  const remotes: RemoteAccess[] = [];
  try {
    for (const { context, config } of resolved) {
      const transport = await Transport.create(config, { maxSockets: REMOTE_SOCKETS, userAgent });
      remotes.push({
        name: context,
        namespace: config.namespace,
        transport,
        origin: 'kubeconfig',
        labels: {},
        acceptFrom: '*',
      });
    }
  } catch (error) {
    for (const remote of remotes) remote.transport.close();
    throw error;
  }
  return remotes;
}
