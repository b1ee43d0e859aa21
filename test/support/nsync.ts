/**
 * Runs an nsync controller in the test process against the shared control plane, confined by its
 * own guardrails to the namespaces of one test file, so files can run side by side.
 */
import { Writable } from 'node:stream';
import { parseConfig, type Config } from '../../src/app/config.ts';
import { Controller } from '../../src/app/controller.ts';
import { createLogger } from '../../src/app/log.ts';
import { Metrics } from '../../src/app/metrics.ts';
import type { RemoteCluster } from '../../src/app/remote/cluster.ts';
import { connectContexts, resolveRemoteContexts } from '../../src/app/remote/connect.ts';
import { loadKubeConfig, Transport } from '../../src/kube/transport.ts';
import type { Cluster } from '../../tools/controlplane/harness.ts';
import { eventually } from './cluster.ts';

/** A running in-process nsync. */
export interface RunningNsync {
  readonly controller: Controller;
  readonly metrics: Metrics;
  /** Every log line so far (JSON text). */
  readonly logs: string[];
  /**
   * Resolves once the work queue is empty and nothing is in flight: what nsync was going to do
   * about the changes so far is done, so an assertion that something did NOT happen means it.
   */
  idle(): Promise<void>;
  /** Graceful stop (idempotent). */
  stop(): Promise<void>;
}

/** Starts a controller with a given configuration and identity; resolves once its caches synced. */
export async function startController(config: Config, kubeconfigPath: string): Promise<RunningNsync> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== ''),
      );
      done();
    },
  });
  const transport = await Transport.create(loadKubeConfig({ kubeconfig: kubeconfigPath }));
  const metrics = new Metrics('test', { defaultMetrics: false });
  const log = createLogger(config.logLevel, sink);
  // As `nsync run` does (src/cli/run.ts): the file is read again while nsync runs (docs/adr/0028).
  const contexts =
    config.remoteKubeconfig === ''
      ? undefined
      : resolveRemoteContexts(config.remoteKubeconfig, transport.server, log);
  const remotes = contexts === undefined ? [] : await connectContexts(contexts, 'nsync');
  const controller = new Controller(config, transport, log, metrics, remotes, 'nsync', contexts);
  const running = controller.start();
  await Promise.race([controller.cache.synced(), running]);
  let stopped: Promise<void> | undefined;
  return {
    controller,
    metrics,
    logs,
    async idle() {
      const { queue } = controller;
      try {
        await eventually('nsync to be idle', () =>
          queue.depth() === 0 && queue.inFlight() === 0 ? true : undefined,
        );
      } catch (error) {
        // Say what kept it busy, so a failure on a loaded machine can be told from a loop.
        const busy = logs.filter((line) => /reconcile|failed|retry/i.test(line)).slice(-5);
        throw new Error(
          `${(error as Error).message}: depth ${String(queue.depth())}, in flight ${String(queue.inFlight())}; last reconcile log lines:\n${busy.join('\n')}`,
          { cause: error },
        );
      }
    },
    stop() {
      stopped ??= (async () => {
        await controller.stop();
        await running;
        transport.close();
        for (const remote of remotes) remote.transport.close();
      })();
      return stopped;
    },
  };
}

/** Whether a remote pipeline's cache has listed everything it watches. */
export function remoteListed(remote: RemoteCluster): boolean {
  return remote.status().every((watch) => watch.synced);
}

/**
 * Resolves once the local queue and every remote pipeline's queue have nothing left to do and
 * every remote cache has listed: an assertion that a copy did NOT arrive in a remote cluster
 * means it only then.
 */
export async function allIdle(nsync: RunningNsync, timeoutMs = 120_000): Promise<void> {
  await nsync.idle();
  await eventually(
    'remote queues idle',
    () =>
      nsync.controller.remotes.every(
        (remote) => remoteListed(remote) && remote.queue.depth() === 0 && remote.queue.inFlight() === 0,
      )
        ? true
        : undefined,
    { timeoutMs, intervalMs: 250 },
  );
  await nsync.idle();
}

/**
 * Starts nsync as admin, confined to `namespaces` (globs): it reads sources from and writes into
 * those only. Resolves once its caches have synced.
 */
export async function startNsync(
  cluster: Cluster,
  namespaces: readonly string[],
  extraArgs: readonly string[] = [],
): Promise<RunningNsync> {
  const config = parseConfig(
    [
      `--kubeconfig=${cluster.admin.kubeconfigPath}`,
      '--leader-elect=false',
      '--listen=127.0.0.1:0',
      `--exclude-namespaces=*,${namespaces.map((glob) => `!${glob}`).join(',')}`,
      `--source-namespaces=${namespaces.join(',')}`,
      '--log-level=debug',
      ...extraArgs,
    ],
    {},
  );
  return startController(config, cluster.admin.kubeconfigPath);
}
