/**
 * `nsync explain <secret|configmap>/<name> [-n <namespace>] [-o json]`: what nsync does for one
 * source in every namespace, and why — the planner's own decisions, computed from a fresh read of
 * the cluster. Reads only; writes nothing. Its flags follow kubectl's, so it also works as the
 * kubectl plugin `kubectl nsync explain …` (bin/kubectl-nsync.js).
 */
import { ClusterCache } from '../app/cache.ts';
import {
  ConfigError,
  guardrailsOf,
  OPTIONS,
  parseConfig,
  parseDuration,
  type Config,
} from '../app/config.ts';
import { describeError } from '../app/events.ts';
import { planSource, snapshotOf } from '../app/reconcile.ts';
import type { RemoteAccess } from '../app/remote/cluster.ts';
import { connectRemoteClusters } from '../app/remote/connect.ts';
import { CLUSTER_LABEL } from '../app/remote/registration.ts';
import { connectRegistration, readRegistrations } from '../app/remote/registry.ts';
import { classify } from '../kube/errors.ts';
import { copiedAcrossClusters, RemoteExplainer } from '../app/remote/explain.ts';
import { SourceReader } from '../app/sources.ts';
import { KubeconfigError, loadKubeConfig, Transport } from '../kube/transport.ts';
import { Writer } from '../kube/writer.ts';
import { formatCluster, formatExplain, localHeading, type ClusterExplanation } from '../plan/explain.ts';
import { EXPLAIN_API_VERSION, explainDocument } from '../plan/explain-json.ts';
import { Limiter } from '../runtime/limit.ts';
import type { MirrorKind } from '../api/index.ts';
import { createLogger } from '../app/log.ts';
import { MirrorResources, type CachedMirror } from '../app/mirror-resources.ts';
import { parseSourceQueueKey } from '../app/objects.ts';
import type { Plan } from '../plan/model.ts';
import type { Kind, ObjectKey } from '../rules/model.ts';
import { VERSION } from './version.ts';

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
  --remote-kubeconfig <file> --cluster-name <name>
      as given to nsync run: also explains, per remote cluster and namespace, what nsync does there
  --registered-clusters --own-namespace <namespace> --cluster-name <name>
      as given to nsync run: the registered clusters too (read from their Secrets with your own
      rights; without the right to list them, explain says so and answers without them)
  --cluster <name>
      only this remote cluster (the --cluster-name of this one: no remote cluster)
  --cluster-timeout <duration>
      how long each remote cluster may take to answer before it is reported unreachable
      (default ${String(DEFAULT_CLUSTER_TIMEOUT_MS / 1000)}s)

explain takes every option of nsync run (flags or NSYNC_* variables), so passing the deployment's
own guardrails (--exclude-namespaces, --source-namespaces, --dialects …) shows exactly what it
decides. It only reads.`;
}

/** How explain names itself to remote API servers (their audit logs). */
const EXPLAIN_USER_AGENT = `nsync/${VERSION} (explain)`;

/** How long a remote cluster may take to list what nsync watches there, unless --cluster-timeout says. */
const DEFAULT_CLUSTER_TIMEOUT_MS = 20_000;

/** How explain prints its answer. */
type OutputFormat = 'table' | 'json';

/** explain's own arguments, split from the run options it shares. */
interface ExplainArguments {
  readonly target: readonly string[];
  readonly namespace: string | undefined;
  readonly output: string | undefined;
  /** `--cluster`: only this remote cluster. */
  readonly cluster: string | undefined;
  readonly clusterTimeout: string | undefined;
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
  const own: Record<'namespace' | 'output' | 'cluster' | 'clusterTimeout', string | undefined> = {
    namespace: undefined,
    output: undefined,
    cluster: undefined,
    clusterTimeout: undefined,
  };
  let missing: string | undefined;
  const spellings = [
    { key: 'namespace', short: '-n', long: '--namespace' },
    { key: 'output', short: '-o', long: '--output' },
    { key: 'cluster', short: '--cluster', long: '--cluster' },
    { key: 'clusterTimeout', short: '--cluster-timeout', long: '--cluster-timeout' },
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
  return {
    target,
    namespace: own.namespace,
    output: own.output,
    cluster: own.cluster,
    clusterTimeout: own.clusterTimeout,
    rest,
    missing,
  };
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

/** An explain argument that cannot be used: exit 2 with the message, as for a bad run option. */
class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The remote clusters nsync run would serve, and those explain asks. */
interface RemoteClusters {
  /**
   * Every remote cluster nsync run would serve (undefined without --remote-kubeconfig and
   * --registered-clusters): this cluster's plan then reports only `sync-contexts` entries that
   * name none of them, as the controller does.
   */
  readonly contexts: ReadonlySet<string> | undefined;
  /** The clusters to explain, connected: all of them, or the one --cluster names. */
  readonly explained: readonly RemoteAccess[];
  /**
   * What explain could not learn about the registered clusters (registrations it may not read,
   * refused ones): printed to stderr, the answer goes on without them.
   */
  readonly notes: readonly string[];
}

/**
 * The registered clusters as nsync run would serve them (docs/adr/0021): one LIST of the
 * registration Secrets in --own-namespace with the caller's own rights, the same refusals, the
 * same connection. A caller who may not read them is told so, and explain answers without them.
 */
async function registeredClustersOf(
  config: Config,
  local: Transport,
  contexts: readonly RemoteAccess[],
): Promise<{ accesses: RemoteAccess[]; notes: string[] }> {
  const where = `Secrets labelled ${CLUSTER_LABEL} in namespace ${config.ownNamespace}`;
  let resolved: Awaited<ReturnType<typeof readRegistrations>>;
  try {
    resolved = await readRegistrations(local, config.ownNamespace, {
      local: local.server,
      contexts: contexts.map((remote) => ({ name: remote.name, server: remote.transport.server })),
    });
  } catch (error) {
    const { message } = describeError(error);
    return {
      accesses: [],
      notes: [
        classify(error) === 'forbidden'
          ? `registered clusters not shown: your credentials may not list the cluster registrations (${where}): ${message}`
          : `registered clusters not shown: cannot list the cluster registrations (${where}): ${message}`,
      ],
    };
  }
  const notes = resolved.invalid.map(
    ({ secret, problem }) =>
      `registration Secret ${secret.namespace}/${secret.name} is refused, as nsync run refuses it: ${problem}`,
  );
  const accesses: RemoteAccess[] = [];
  for (const registration of resolved.valid) {
    try {
      accesses.push(await connectRegistration(registration, EXPLAIN_USER_AGENT));
    } catch (error) {
      notes.push(
        `registered cluster ${registration.name}: cannot build a connection to its API server: ${describeError(error).message}`,
      );
    }
  }
  return { accesses, notes };
}

/**
 * The remote clusters to explain: the contexts of --remote-kubeconfig (a context that reaches this
 * cluster is left out, as by nsync run) and the registered clusters, narrowed by --cluster. Throws
 * KubeconfigError for a file nsync run would refuse, and UsageError for a --cluster that names no
 * cluster.
 */
async function remoteClustersOf(
  config: Config,
  only: string | undefined,
  local: Transport,
): Promise<RemoteClusters> {
  if (config.remoteKubeconfig === '' && !config.registeredClusters) {
    if (only !== undefined)
      throw new UsageError(
        '--cluster needs --remote-kubeconfig or --registered-clusters (and --cluster-name), as nsync run has them',
      );
    return { contexts: undefined, explained: [], notes: [] };
  }
  const fromFile =
    config.remoteKubeconfig === ''
      ? []
      : await connectRemoteClusters(
          config.remoteKubeconfig,
          local.server,
          createLogger('silent'),
          EXPLAIN_USER_AGENT,
        );
  const registered = config.registeredClusters
    ? await registeredClustersOf(config, local, fromFile)
    : { accesses: [], notes: [] };
  const all = [...fromFile, ...registered.accesses];
  const contexts = new Set(all.map((remote) => remote.name));
  if (only === undefined) return { contexts, explained: all, notes: registered.notes };
  const kept = only === config.clusterName ? [] : all.filter((remote) => remote.name === only);
  for (const remote of all) if (!kept.includes(remote)) remote.transport.close();
  if (only !== config.clusterName && kept.length === 0) {
    throw new UsageError(
      `--cluster: no cluster named "${only}" (this one is "${config.clusterName}"; remote: ${all.map((remote) => remote.name).join(', ') || 'none'})`,
    );
  }
  return { contexts, explained: kept, notes: registered.notes };
}

/** --cluster-timeout in milliseconds, or a UsageError. */
function clusterTimeoutOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CLUSTER_TIMEOUT_MS;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0)
    throw new UsageError(`--cluster-timeout: expected a duration such as 500ms, 30s or 1m, got "${text}"`);
  return ms;
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
  let clusterTimeoutMs: number;
  try {
    config = parseConfig(args.rest, env);
    clusterTimeoutMs = clusterTimeoutOf(args.clusterTimeout);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof UsageError || error instanceof TypeError)
      return fail(error.message);
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
  let remotes: RemoteClusters;
  try {
    remotes = await remoteClustersOf(config, args.cluster, transport);
  } catch (error) {
    transport.close();
    if (error instanceof KubeconfigError || error instanceof UsageError) return fail(error.message);
    throw error;
  }
  for (const note of remotes.notes) process.stderr.write(`${program} explain: ${note}\n`);
  try {
    return await explainWith(
      { program, output, config, transport, namespace, remotes, clusterTimeoutMs },
      parsed,
    );
  } finally {
    for (const remote of remotes.explained) remote.transport.close();
    transport.close();
  }
}

/** What explain has once its arguments are understood and its clusters connected. */
interface ExplainSetup {
  readonly program: string;
  readonly output: OutputFormat;
  readonly config: Config;
  readonly transport: Transport;
  /** The source's namespace. */
  readonly namespace: string;
  /** The remote clusters to explain too (none without --remote-kubeconfig or --registered-clusters). */
  readonly remotes: RemoteClusters;
  readonly clusterTimeoutMs: number;
}

/** Reads, plans and prints; the caller closes the transports. */
async function explainWith(
  setup: ExplainSetup,
  parsed: { kind: Kind | MirrorKind; name: string },
): Promise<number> {
  const { program, output, config, transport, namespace } = setup;
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
  const writer = new Writer(transport);
  const sources = new SourceReader(writer);
  const guardrails = guardrailsOf(config);
  // Remote clusters list while this one does; each within its own deadline.
  const remote =
    setup.remotes.explained.length > 0 && copiedAcrossClusters(kind)
      ? new RemoteExplainer(setup.remotes.explained, {
          local: cache,
          sources,
          guardrails,
          resources,
          timeoutMs: setup.clusterTimeoutMs,
        })
      : undefined;
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
    const planned = await planSource(
      { writer, limiter: new Limiter(4) },
      await snapshotOf(
        {
          cache,
          sources,
          guardrails,
          resources,
          ...(setup.remotes.contexts === undefined ? {} : { remoteContexts: setup.remotes.contexts }),
        },
        { kind, namespace: target.namespace, name },
      ),
    );
    const { snapshot } = planned;
    // For a resource: only what its own rule decided, here and in every remote cluster.
    const narrow = (plan: Plan): Plan => ('origin' in wanted ? onlyOrigin(plan, wanted.origin) : plan);
    const plan = narrow(planned.plan);
    const clusters = ((await remote?.explain({ kind, namespace: target.namespace, name })) ?? []).map(
      (cluster): ClusterExplanation =>
        cluster.outcome.status === 'planned' && cluster.outcome.plan !== undefined
          ? { ...cluster, outcome: { ...cluster.outcome, plan: narrow(cluster.outcome.plan) } }
          : cluster,
    );
    const exists = snapshot.source !== undefined;
    if (output === 'json') {
      const document = explainDocument({ kind, namespace: target.namespace, name }, exists, plan, clusters);
      process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
      return 0;
    }
    const remoteShown = config.remoteKubeconfig !== '' || config.registeredClusters;
    if ('origin' in wanted)
      process.stdout.write(`${wanted.origin} pushes ${kind} ${target.namespace}/${name}.\n`);
    if (!exists) process.stdout.write(`${kind} ${target.namespace}/${name} does not exist.\n`);
    if (remoteShown) process.stdout.write(`${localHeading(config.clusterName)}\n`);
    process.stdout.write(`${formatExplain(plan)}\n`);
    if (remoteShown && !copiedAcrossClusters(kind))
      process.stdout.write('Other clusters: nsync copies only Secrets and ConfigMaps there.\n');
    for (const cluster of clusters) process.stdout.write(`${formatCluster(cluster)}\n`);
    return 0;
  } finally {
    stop.abort();
    await Promise.all([running, remote?.stop()]);
  }
}
