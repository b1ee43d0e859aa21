/**
 * `nsync explain <secret|configmap>/<name> -n <namespace>`: what nsync does for one source in
 * every namespace, and why — the planner's own decisions, computed from a fresh read of the
 * cluster. Reads only; writes nothing.
 */
import { ClusterCache } from '../app/cache.ts';
import { ConfigError, guardrailsOf, OPTIONS, parseConfig, type Config } from '../app/config.ts';
import { planSource, snapshotOf } from '../app/reconcile.ts';
import { SourceReader } from '../app/sources.ts';
import { KubeconfigError, loadKubeConfig, Transport } from '../kube/transport.ts';
import { Writer } from '../kube/writer.ts';
import { formatExplain } from '../plan/explain.ts';
import { Limiter } from '../runtime/limit.ts';
import type { Kind } from '../rules/model.ts';

const KINDS: Readonly<Record<string, Kind>> = {
  secret: 'Secret',
  secrets: 'Secret',
  configmap: 'ConfigMap',
  configmaps: 'ConfigMap',
  cm: 'ConfigMap',
};

export const EXPLAIN_USAGE = `usage: nsync explain <secret|configmap>/<name> -n <namespace> [nsync run options]

explain takes every option of nsync run (flags or NSYNC_* variables), so passing the deployment's
own guardrails (--exclude-namespaces, --source-namespaces, --dialects …) shows exactly what it
decides. It only reads.`;

/** Splits explain's own arguments (target, namespace) from the run options it shares. */
function splitArguments(argv: readonly string[]): {
  target: string[];
  namespace: string | undefined;
  rest: string[];
} {
  const target: string[] = [];
  const rest: string[] = [];
  let namespace: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (arg === '-n' || arg === '--namespace') {
      namespace = argv[i + 1];
      i += 1;
    } else if (arg.startsWith('--namespace=')) {
      namespace = arg.slice('--namespace='.length);
    } else if (arg.startsWith('-')) {
      rest.push(arg);
      const option = OPTIONS.find((candidate) => `--${candidate.flag}` === arg);
      if (option?.type === 'string' && i + 1 < argv.length) {
        rest.push(argv[i + 1] ?? '');
        i += 1;
      }
    } else {
      target.push(arg);
    }
  }
  return { target, namespace, rest };
}

/** Prints the explanation; returns the exit code. */
export async function explainCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { target, namespace, rest } = splitArguments(argv);
  const [kindText = '', name = ''] = (target[0] ?? '').split('/');
  const kind = KINDS[kindText.toLowerCase()];
  if (kind === undefined || name === '' || namespace === undefined || target.length !== 1) {
    process.stderr.write(`${EXPLAIN_USAGE}\n`);
    return 2;
  }
  let config: Config;
  try {
    config = parseConfig(rest, env);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof TypeError) {
      process.stderr.write(`nsync explain: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  let transport: Transport;
  try {
    transport = await Transport.create(loadKubeConfig(config.access, { env }));
  } catch (error) {
    if (error instanceof KubeconfigError) {
      process.stderr.write(`nsync explain: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const cache = new ClusterCache(transport, [kind]);
  const stop = new AbortController();
  const running = cache.run(stop.signal);
  try {
    await cache.synced();
    const writer = new Writer(transport);
    const { snapshot, plan } = await planSource(
      { writer, limiter: new Limiter(4) },
      await snapshotOf(
        { cache, sources: new SourceReader(writer), guardrails: guardrailsOf(config) },
        { kind, namespace, name },
      ),
    );
    if (snapshot.source === undefined) process.stdout.write(`${kind} ${namespace}/${name} does not exist.\n`);
    process.stdout.write(`${formatExplain(plan)}\n`);
    return 0;
  } finally {
    stop.abort();
    await running;
    transport.close();
  }
}
