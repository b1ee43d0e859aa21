/**
 * `nsync run`: the controller process. Exits 0 after a graceful SIGTERM/SIGINT (in-flight writes
 * finish, the Lease is released — or left to expire when the API server cannot be reached), 1 on
 * a fatal error, 2 on bad configuration, 3 when leadership was lost (Kubernetes restarts it as a
 * standby), 70 on a bug: an unhandled rejection or uncaught exception (./crash.ts).
 */
import { connectContexts, resolveRemoteContexts } from '../app/remote/connect.ts';
import type { RemoteAccess } from '../app/remote/cluster.ts';
import { parseConfig, ConfigError, type Config } from '../app/config.ts';
import { Controller } from '../app/controller.ts';
import { describeError } from '../app/events.ts';
import { serveHealth } from '../app/health.ts';
import { createLogger } from '../app/log.ts';
import { Metrics } from '../app/metrics.ts';
import {
  KubeconfigError,
  loadKubeConfig,
  Transport,
  type FingerprintedContext,
  type ResolvedKubeconfig,
} from '../kube/transport.ts';
import { exitOnBug } from './crash.ts';
import { VERSION } from './version.ts';

/** Runs the controller until a signal; returns the exit code. */
export async function runCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let config: Config;
  try {
    config = parseConfig(argv, env);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof TypeError) {
      process.stderr.write(`nsync run: ${error.message}\nSee nsync run --help.\n`);
      return 2;
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  exitOnBug(log);
  let kubeConfig: ResolvedKubeconfig;
  try {
    kubeConfig = loadKubeConfig(config.access, { env });
  } catch (error) {
    if (error instanceof KubeconfigError) {
      process.stderr.write(`nsync run: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (config.leaderElection.enabled && config.leaderElection.namespace === '') {
    config = {
      ...config,
      leaderElection: { ...config.leaderElection, namespace: kubeConfig.namespace ?? 'default' },
    };
  }
  // The identity in the User-Agent lets audit logs tell the writes of each replica apart.
  const transport = await Transport.create(kubeConfig, {
    // Watches hold a connection each for as long as they run: room for them, source reads and
    // Events on top of the writes, so a small --write-concurrency can never starve the pool.
    maxSockets: config.writeConcurrency + config.kinds.length + 1 + 4,
    userAgent: `nsync/${VERSION} (${config.identity})`,
  });
  const metrics = new Metrics(VERSION);
  let remotes: RemoteAccess[] = [];
  let contexts: FingerprintedContext[] | undefined;
  if (config.remoteKubeconfig !== '') {
    try {
      contexts = resolveRemoteContexts(config.remoteKubeconfig, transport.server, log);
      remotes = await connectContexts(contexts, `nsync/${VERSION} (${config.identity})`);
    } catch (error) {
      transport.close();
      if (error instanceof KubeconfigError) {
        process.stderr.write(`nsync run: ${error.message}\n`);
        return 2;
      }
      throw error;
    }
  }
  const controller = new Controller(
    config,
    transport,
    log,
    metrics,
    remotes,
    `nsync/${VERSION} (${config.identity})`,
    contexts,
  );
  const server = await serveHealth(config.listen, metrics, controller);
  const address = server.address();
  log.info(
    {
      version: VERSION,
      server: transport.server.origin,
      kubeconfig: kubeConfig.origin,
      context: kubeConfig.context,
      // Which parts of the kubeconfig needed @kubernetes/client-node (docs/adr/0008).
      ...(kubeConfig.fallback.length === 0 ? {} : { clientNodeFallback: kubeConfig.fallback }),
      listen:
        typeof address === 'object' && address ? `${address.address}:${String(address.port)}` : config.listen,
      kinds: config.kinds,
      dialects: config.dialects,
      leaderElection: config.leaderElection.enabled,
      identity: config.identity,
      ...(remotes.length === 0 ? {} : { remoteClusters: remotes.map((remote) => remote.name) }),
      ...(config.registeredClusters ? { registeredClustersIn: config.ownNamespace } : {}),
    },
    'nsync starting',
  );
  // Settled at once: a failure while stopping is reported below as a failure, never left as a
  // rejection nobody awaits yet (controller.start() may still be running when it happens).
  let stopping: Promise<{ readonly failed: unknown } | undefined> | undefined;
  const stop = (signal: string): void => {
    log.info({ signal }, 'shutting down: finishing in-flight writes');
    stopping ??= controller.stop().then(
      () => undefined,
      (error: unknown) => ({ failed: error }),
    );
  };
  process.once('SIGTERM', () => {
    stop('SIGTERM');
  });
  process.once('SIGINT', () => {
    stop('SIGINT');
  });
  try {
    await controller.start();
    const stopped = await stopping;
    if (stopped !== undefined) throw stopped.failed;
  } catch (error) {
    log.fatal({ err: describeError(error) }, 'nsync failed');
    return 1;
  } finally {
    server.close();
    transport.close();
    for (const remote of remotes) remote.transport.close();
  }
  log.info('nsync stopped');
  return controller.leadershipLost ? 3 : 0;
}
