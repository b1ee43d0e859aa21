/**
 * `nsync explain <secret|configmap>/<name> [-n <namespace>] [-o json]`: what nsync does for one
 * source in every namespace, and why — the planner's own decisions, computed from a fresh read of
 * the cluster. Reads only; writes nothing. Its flags follow kubectl's, so it also works as the
 * kubectl plugin `kubectl nsync explain …` (bin/kubectl-nsync.js).
 */
import { ClusterCache } from '../app/cache.ts';
import { ConfigError, guardrailsOf, OPTIONS, parseConfig, type Config } from '../app/config.ts';
import { describeError } from '../app/events.ts';
import { planSource, snapshotOf } from '../app/reconcile.ts';
import { SourceReader } from '../app/sources.ts';
import { KubeconfigError, loadKubeConfig, Transport } from '../kube/transport.ts';
import { Writer } from '../kube/writer.ts';
import { formatExplain } from '../plan/explain.ts';
import { EXPLAIN_API_VERSION, explainDocument } from '../plan/explain-json.ts';
import { Limiter } from '../runtime/limit.ts';
import type { MirrorKind } from '../api/index.ts';
import { createLogger } from '../app/log.ts';
import { MirrorResources, type CachedMirror } from '../app/mirror-resources.ts';
import { parseSourceQueueKey } from '../app/objects.ts';
import type { Plan } from '../plan/model.ts';
import type { Kind, ObjectKey } from '../rules/model.ts';

/** A plan narrowed to the decisions one resource's rule made, and where it was outranked. */
function onlyOrigin(plan: Plan, origin: string): Plan {
  const outranked = plan.outranked.filter((claim) => claim.origin === origin);
  const mine = plan.decisions.filter((decision) => decision.origin === origin);
  const at = new Set(mine.map((decision) => `${decision.namespace}/${decision.name}`));
  return {
    ...plan,
    ops: plan.ops.filter((op) => at.has(`${op.target.namespace}/${op.target.name}`)),
    decisions: [
      ...mine,
      ...outranked.map((claim) => ({
        namespace: claim.namespace,
        name: claim.name,
        mode: 'push' as const,
        code: 'conflict-other-source' as const,
        message: `${claim.by} pushes the same name here and ranks first; it makes the mirror.`,
        origin,
      })),
    ],
    outranked,
  };
}

/** The spec problems of a resource that cannot be served, in one line. */
function problemsOf(entry: CachedMirror): string {
  return entry.conversion.ok
    ? 'its source kind is not mirrored'
    : entry.conversion.problems.map((problem) => `${problem.field}: ${problem.message}`).join('; ');
}

const KINDS: Readonly<Record<string, Kind | MirrorKind>> = {
  secret: 'Secret',
  secrets: 'Secret',
  configmap: 'ConfigMap',
  configmaps: 'ConfigMap',
  cm: 'ConfigMap',
  role: 'Role',
  roles: 'Role',
  rolebinding: 'RoleBinding',
  rolebindings: 'RoleBinding',
  serviceaccount: 'ServiceAccount',
  serviceaccounts: 'ServiceAccount',
  sa: 'ServiceAccount',
  clustermirror: 'ClusterMirror',
  clustermirrors: 'ClusterMirror',
  cmirror: 'ClusterMirror',
  mirror: 'Mirror',
  mirrors: 'Mirror',
  mir: 'Mirror',
};

/** The explain part of the usage text, under the name the command was called by. */
export function explainUsage(program: string): string {
  return `usage: ${program} explain <secret|configmap|role|rolebinding|serviceaccount>/<name> [-n <namespace>] [-o json] [nsync run options]
       ${program} explain clustermirror/<name> | mirror/<name> [-n <namespace>] [-o json]

  -n, --namespace <namespace>
      the source's namespace (default: the kubeconfig context's namespace, else default)
  -o, --output json
      a versioned JSON document for scripts (apiVersion ${EXPLAIN_API_VERSION}; see
      docs/operations.md); without it, a table
  --kubeconfig <file>, --context <name>
      as for kubectl, which also passes them to the kubectl-nsync plugin; $KUBECONFIG is honoured

explain takes every option of nsync run (flags or NSYNC_* variables), so passing the deployment's
own guardrails (--exclude-namespaces, --source-namespaces, --dialects …) shows exactly what it
decides. It only reads.`;
}

/** How explain prints its answer. */
type OutputFormat = 'table' | 'json';

/** explain's own arguments, split from the run options it shares. */
interface ExplainArguments {
  readonly target: readonly string[];
  readonly namespace: string | undefined;
  readonly output: string | undefined;
  readonly rest: readonly string[];
  /** A flag of explain's own given without its value. */
  readonly missing: string | undefined;
}

/**
 * Splits explain's own arguments from the run options it shares, the way kubectl spells them:
 * `-n x`, `-n=x`, `--namespace x`, `--namespace=x`, and the same for `-o`/`--output`.
 */
function splitArguments(argv: readonly string[]): ExplainArguments {
  const target: string[] = [];
  const rest: string[] = [];
  const own: Record<'namespace' | 'output', string | undefined> = { namespace: undefined, output: undefined };
  let missing: string | undefined;
  const spellings = [
    { key: 'namespace', short: '-n', long: '--namespace' },
    { key: 'output', short: '-o', long: '--output' },
  ] as const;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    const flag = spellings.find(({ short, long }) => arg === short || arg === long);
    const joined = spellings.find(
      ({ short, long }) => arg.startsWith(`${short}=`) || arg.startsWith(`${long}=`),
    );
    if (flag !== undefined) {
      const value = argv[i + 1];
      if (value === undefined) missing = arg;
      own[flag.key] = value;
      i += 1;
    } else if (joined !== undefined) {
      own[joined.key] = arg.slice(arg.indexOf('=') + 1);
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
  return { target, namespace: own.namespace, output: own.output, rest, missing };
}

/** `secret/name`, or kubectl's other spelling `secret name`. */
function parseTarget(target: readonly string[]): { kind: Kind | MirrorKind; name: string } | undefined {
  const [first = '', second] = target;
  const [kindText = '', name = ''] =
    target.length === 1 ? first.split('/') : target.length === 2 ? [first, second ?? ''] : [];
  const kind = KINDS[kindText.toLowerCase()];
  if (kind === undefined || name === '' || name.includes('/')) return undefined;
  return { kind, name };
}

/** The output format, or undefined when the value is not one. */
function parseOutput(text: string | undefined): OutputFormat | undefined {
  if (text === undefined) return 'table';
  return text.trim().toLowerCase() === 'json' ? 'json' : undefined;
}

/**
 * Prints the explanation; returns the exit code. `program` is the name the command was called by
 * (`nsync`, or `kubectl nsync` for the plugin), for the usage text and errors.
 */
export async function explainCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  program = 'nsync',
): Promise<number> {
  const args = splitArguments(argv);
  const parsed = parseTarget(args.target);
  const output = parseOutput(args.output);
  const fail = (message: string): number => {
    process.stderr.write(`${program} explain: ${message}\n`);
    return 2;
  };
  if (args.missing !== undefined) return fail(`${args.missing} needs a value`);
  if (output === undefined) {
    return fail(`-o/--output: expected json (or no -o for the table), got "${args.output ?? ''}"`);
  }
  if (parsed === undefined || args.namespace === '') {
    process.stderr.write(`${explainUsage(program)}\n`);
    return 2;
  }
  let config: Config;
  try {
    config = parseConfig(args.rest, env);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof TypeError) return fail(error.message);
    throw error;
  }
  let transport: Transport;
  let namespace: string;
  try {
    const kubeConfig = loadKubeConfig(config.access, { env });
    // As kubectl: no -n means the context's namespace (in-cluster: the service account's).
    namespace = args.namespace ?? kubeConfig.namespace ?? 'default';
    transport = await Transport.create(kubeConfig);
  } catch (error) {
    if (error instanceof KubeconfigError) return fail(error.message);
    throw error;
  }
  const stop = new AbortController();
  // A controller retries a failed list for ever; a command says what failed and stops, as kubectl.
  let failure: { readonly resource: string; readonly error: unknown } | undefined;
  let synced = false;
  const resources = new MirrorResources(transport, createLogger('silent'));
  const wanted = await (async () => {
    if (parsed.kind !== 'ClusterMirror' && parsed.kind !== 'Mirror')
      return { ...parsed, kind: parsed.kind, namespace };
    const listed = resources.run(stop.signal);
    await resources.synced();
    const key =
      parsed.kind === 'ClusterMirror' ? `ClusterMirror/${parsed.name}` : `Mirror/${namespace}/${parsed.name}`;
    const entry = resources.store.get(key);
    const source = entry?.sourceKey === undefined ? undefined : parseSourceQueueKey(entry.sourceKey);
    return { origin: key, entry, source, listed };
  })();
  if ('origin' in wanted && (wanted.entry === undefined || wanted.source === undefined)) {
    stop.abort();
    await wanted.listed;
    transport.close();
    process.stderr.write(
      wanted.entry === undefined
        ? `${program} explain: ${wanted.origin} not found (are the nsync.dev CRDs installed?)\n`
        : `${program} explain: ${wanted.origin} names no source nsync can read: ${problemsOf(wanted.entry)}\n`,
    );
    return 1;
  }
  const target = 'origin' in wanted ? (wanted.source as ObjectKey) : wanted;
  const { kind, name } = target;
  const cache = new ClusterCache(transport, [kind], {
    onWatchRestart: (resource, reason, error) => {
      if (synced || reason !== 'error' || failure !== undefined) return;
      failure = { resource, error };
      stop.abort();
    },
  });
  const running = Promise.all([
    cache.run(stop.signal),
    'origin' in wanted ? wanted.listed : resources.run(stop.signal),
  ]);
  try {
    await Promise.race([Promise.all([cache.synced(), resources.synced()]), running]);
    synced = true;
    if (failure !== undefined) {
      process.stderr.write(
        `${program} explain: cannot list ${failure.resource} at ${transport.server.origin}: ${describeError(failure.error).message}\n`,
      );
      return 1;
    }
    const writer = new Writer(transport);
    const planned = await planSource(
      { writer, limiter: new Limiter(4) },
      await snapshotOf(
        { cache, sources: new SourceReader(writer), guardrails: guardrailsOf(config), resources },
        { kind, namespace: target.namespace, name },
      ),
    );
    const { snapshot } = planned;
    // For a resource: only what its own rule decided.
    const plan = 'origin' in wanted ? onlyOrigin(planned.plan, wanted.origin) : planned.plan;
    const exists = snapshot.source !== undefined;
    if (output === 'json') {
      const document = explainDocument({ kind, namespace: target.namespace, name }, exists, plan);
      process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
      return 0;
    }
    if ('origin' in wanted)
      process.stdout.write(`${wanted.origin} pushes ${kind} ${target.namespace}/${name}.\n`);
    if (!exists) process.stdout.write(`${kind} ${target.namespace}/${name} does not exist.\n`);
    process.stdout.write(`${formatExplain(plan)}\n`);
    return 0;
  } finally {
    stop.abort();
    await running;
    transport.close();
  }
}
