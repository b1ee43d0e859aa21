/**
 * Reads `--remote-kubeconfig` into one RemoteAccess per context (docs/adr/0018), with kubed's rules
 * for what a context means: two contexts reaching the same API server are an error, and a context
 * that reaches this very cluster is left out (it would copy a source onto itself). The same rules
 * hold at start and at every reload of the file (docs/adr/0028).
 */
import { KubeconfigError, loadEachContext, type FingerprintedContext } from '../../kube/kubeconfig.ts';
import { Transport } from '../../kube/transport.ts';
import type { Logger } from '../log.ts';
import type { RemoteAccess } from './cluster.ts';

/** Connections kept to each remote API server: its watches, plus room for reads and writes. */
const REMOTE_SOCKETS = 8;

/**
 * The file's contexts that are target clusters, checked but not connected. Throws KubeconfigError
 * naming the file and context when the file or a context cannot be used: the operator's
 * configuration is wrong, and a clear error is better than a cluster silently missing.
 */
export function resolveRemoteContexts(path: string, localServer: URL, log: Logger): FingerprintedContext[] {
  const byServer = new Map<string, string>();
  const resolved: FingerprintedContext[] = [];
  for (const entry of loadEachContext(path)) {
    const { context, config } = entry;
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
    resolved.push(entry);
  }
  return resolved;
}

/**
 * Connects every given context, or none: when one fails, those already built are closed and the
 * error is thrown, so a reload that cannot complete changes nothing.
 */
export async function connectContexts(
  contexts: readonly FingerprintedContext[],
  userAgent: string,
): Promise<RemoteAccess[]> {
  const remotes: RemoteAccess[] = [];
  try {
    for (const { context, config } of contexts) {
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

/** One transport per context of the file, read once (`nsync explain`, and `nsync run` at start). */
export async function connectRemoteClusters(
  path: string,
  localServer: URL,
  log: Logger,
  userAgent = 'nsync',
): Promise<RemoteAccess[]> {
  return connectContexts(resolveRemoteContexts(path, localServer, log), userAgent);
}
