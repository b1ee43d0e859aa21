/**
 * `nsync explain <secret|configmap>/<name> -n <namespace>`: what nsync does for one source in
 * every namespace, and why — the planner's own decisions, computed from a fresh read of the
 * cluster. Reads only; writes nothing.
 */
import { parseArgs } from 'node:util';
import { ClusterCache } from '../app/cache.ts';
import { guardrailsOf, parseConfig } from '../app/config.ts';
import { snapshotOf } from '../app/reconcile.ts';
import { SourceReader } from '../app/sources.ts';
import { loadKubeConfig, Transport } from '../kube/transport.ts';
import { Writer } from '../kube/writer.ts';
import { formatExplain } from '../plan/explain.ts';
import { plan } from '../plan/plan.ts';
import type { Kind } from '../rules/model.ts';

const KINDS: Readonly<Record<string, Kind>> = {
  secret: 'Secret',
  secrets: 'Secret',
  configmap: 'ConfigMap',
  configmaps: 'ConfigMap',
  cm: 'ConfigMap',
};

export const EXPLAIN_USAGE = `usage: nsync explain <secret|configmap>/<name> -n <namespace> [--kubeconfig FILE] [--context NAME]

Guardrails (--exclude-namespaces etc.) are read from the same NSYNC_* environment variables as
nsync run, so set them as your deployment does to see exactly what it decides.`;

/** Prints the explanation; returns the exit code. */
export async function explainCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      namespace: { type: 'string', short: 'n' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
    },
    allowPositionals: true,
  });
  const [target] = positionals;
  const [kindText = '', name = ''] = (target ?? '').split('/');
  const kind = KINDS[kindText.toLowerCase()];
  const namespace = values.namespace;
  if (kind === undefined || name === '' || namespace === undefined || positionals.length !== 1) {
    process.stderr.write(`${EXPLAIN_USAGE}\n`);
    return 2;
  }
  const config = parseConfig([], env);
  const transport = await Transport.create(
    loadKubeConfig({
      kubeconfig: values.kubeconfig ?? config.access.kubeconfig,
      context: values.context ?? config.access.context,
    }),
  );
  const cache = new ClusterCache(transport, [kind]);
  const stop = new AbortController();
  const running = cache.run(stop.signal);
  try {
    await cache.synced();
    const snapshot = await snapshotOf(
      { cache, sources: new SourceReader(new Writer(transport)), guardrails: guardrailsOf(config) },
      { kind, namespace, name },
    );
    if (snapshot.source === undefined) process.stdout.write(`${kind} ${namespace}/${name} does not exist.\n`);
    process.stdout.write(`${formatExplain(plan(snapshot))}\n`);
    return 0;
  } finally {
    stop.abort();
    await running;
    transport.close();
  }
}
