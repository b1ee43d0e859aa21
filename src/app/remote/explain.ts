/**
 * `nsync explain` in remote clusters: for each cluster, the remote pipeline's own cache, snapshot
 * and planner (cluster.ts), run until its cache has listed once and then asked about one source —
 * so explain shows exactly what that pipeline would decide. Takes `RemoteAccess[]` whatever their
 * origin (kubeconfig contexts, registered clusters). Reads only: the pipeline's work queue never
 * runs, and Events have nowhere to go.
 *
 * A command must end: each cluster gets a deadline, and the first failed request before its cache
 * is complete settles it as unreachable or forbidden (as explain does for this cluster), where the
 * controller would retry for ever.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { classify } from '../../kube/errors.ts';
import type { RequestSpec, Transport } from '../../kube/transport.ts';
import type { ClusterExplanation, ClusterOutcome } from '../../plan/explain.ts';
import type { Guardrails } from '../../plan/model.ts';
import { plan } from '../../plan/plan.ts';
import { evaluateFilter } from '../../rules/filter.ts';
import type { Kind, ObjectKey } from '../../rules/model.ts';
import type { ClusterCache } from '../cache.ts';
import { describeError, EventRecorder } from '../events.ts';
import { createLogger } from '../log.ts';
import { Metrics } from '../metrics.ts';
import type { MirrorResources } from '../mirror-resources.ts';
import type { SourceReader } from '../sources.ts';
import { REMOTE_KINDS, RemoteCluster, type RemoteAccess } from './cluster.ts';

/** What explaining remote clusters needs from this cluster's side. */
export interface RemoteExplainDeps {
  /** This cluster's cache, synced before `explain` is called: where the source is found. */
  readonly local: ClusterCache;
  readonly sources: SourceReader;
  readonly guardrails: Guardrails;
  /**
   * This cluster's ClusterMirrors and Mirrors, listed: a source that only they name (spec.clusters)
   * is planned in a remote cluster as the controller's pipeline plans it. Absent: annotations only.
   */
  readonly resources?: MirrorResources;
  /** How long one cluster may take to list what nsync watches there. */
  readonly timeoutMs: number;
}

/** How often the wait for a cluster's first complete list looks at its watches. */
const POLL_MS = 25;

/** The remote pipeline's queue never runs here; its resync period only has to be valid. */
const NEVER_MS = 3_600_000;

/** Whether a kind is copied across clusters at all (ADR 18: Secrets and ConfigMaps). */
export function copiedAcrossClusters(kind: Kind): boolean {
  return REMOTE_KINDS.includes(kind);
}

/** The outcome of a failed request to a remote cluster: forbidden when its credentials were refused. */
export function failedOutcome(server: URL, error: unknown): ClusterOutcome {
  const { message } = describeError(error);
  return classify(error) === 'forbidden'
    ? { status: 'forbidden', reason: message }
    : { status: 'unreachable', reason: `cannot reach ${server.origin}: ${message}` };
}

/**
 * The cluster's transport, as the pipeline uses it, with every failed request reported to
 * `onFailure`: the pipeline's watches retry quietly, and explain needs the first error itself to
 * say why a cluster could not be read. An object on top of the transport, not a copy: closing,
 * credentials and the connection pool stay the transport's own.
 */
function observed(transport: Transport, onFailure: (error: unknown) => void): Transport {
  const view = Object.create(transport) as Transport;
  const report = (error: unknown): never => {
    onFailure(error);
    throw error;
  };
  view.json = <T>(spec: RequestSpec) => transport.json<T>(spec).catch(report);
  view.stream = (spec, onLine) => transport.stream(spec, onLine).catch(report);
  // The pipeline makes its requests on a view that ends with its stop: that view is observed too.
  view.withSignal = (signal) => observed(transport.withSignal(signal), onFailure);
  return view;
}

/** A remote pipeline being read: its cache runs, its queue never does. */
interface Reading {
  readonly access: RemoteAccess;
  readonly cluster: RemoteCluster;
  /** Resolves once the cache listed completely (undefined), or with why it could not. */
  readonly ready: Promise<ClusterOutcome | undefined>;
  readonly running: Promise<void>;
}

/**
 * Starts reading every cluster at once (their first lists run while this cluster's cache syncs);
 * `explain` then plans one source in each, `stop` ends every watch.
 */
export class RemoteExplainer {
  private readonly readings: readonly Reading[];
  private readonly deps: RemoteExplainDeps;
  private readonly abort = new AbortController();

  constructor(accesses: readonly RemoteAccess[], deps: RemoteExplainDeps) {
    this.deps = deps;
    const log = createLogger('silent');
    const metrics = new Metrics('explain', { defaultMetrics: false });
    // Explain never reconciles, so nothing reports; should that change, no Event is ever written.
    const events = new EventRecorder(
      {
        create: () => Promise.reject(new Error('nsync explain writes no Events')),
      },
      log,
      metrics,
      { instance: 'nsync-explain' },
    );
    const deadline = Date.now() + deps.timeoutMs;
    this.readings = accesses.map((access) => {
      // The first request that failed, kept as it is so forbidden and unreachable can be told apart.
      const first: { failure?: { readonly error: unknown } } = {};
      const transport = observed(access.transport, (error) => {
        if (this.abort.signal.aborted) return;
        first.failure ??= { error };
      });
      const cluster = new RemoteCluster(
        { ...access, transport },
        {
          local: deps.local,
          sources: deps.sources,
          guardrails: deps.guardrails,
          ...(deps.resources === undefined ? {} : { resources: deps.resources }),
          events,
          metrics,
          log,
          writeConcurrency: 1,
          workers: 1,
        },
      );
      const running = cluster.run(this.abort.signal, Promise.resolve(false), NEVER_MS);
      const ready = (async (): Promise<ClusterOutcome | undefined> => {
        for (;;) {
          const watches = cluster.status();
          if (this.abort.signal.aborted) return { status: 'unreachable', reason: 'explain stopped first' };
          if (watches.every((watch) => watch.synced)) return undefined;
          if (first.failure !== undefined) return failedOutcome(access.transport.server, first.failure.error);
          if (Date.now() >= deadline) {
            const listing = watches.filter((watch) => !watch.synced).map((watch) => watch.resource);
            return {
              status: 'unreachable',
              reason: `no complete answer from ${access.transport.server.origin} within ${formatSeconds(deps.timeoutMs)} (still listing ${listing.join(', ')})`,
            };
          }
          await sleep(POLL_MS);
        }
      })();
      return { access, cluster, ready, running };
    });
  }

  /** The names of the clusters being read, in order. */
  get names(): readonly string[] {
    return this.readings.map((reading) => reading.access.name);
  }

  /**
   * What each cluster's pipeline decides for one local source, in the order the clusters were
   * given. Never throws for a cluster: what fails there becomes its outcome.
   */
  explain(source: ObjectKey): Promise<ClusterExplanation[]> {
    return Promise.all(
      this.readings.map(async ({ access, cluster, ready }) => ({
        name: access.name,
        origin: access.origin,
        server: access.transport.server.origin,
        namespace: access.namespace,
        outcome: (await ready) ?? (await this.planIn(access, cluster, source)),
      })),
    );
  }

  private async planIn(
    access: RemoteAccess,
    cluster: RemoteCluster,
    source: ObjectKey,
  ): Promise<ClusterOutcome> {
    try {
      const found = await cluster.snapshotOf(source.kind, source.namespace, source.name);
      if (found === undefined) return { status: 'planned', plan: undefined, namespaces: 0 };
      const { snapshot, refused } = found;
      const planned = plan(snapshot);
      return {
        status: 'planned',
        // The namespaces the source's rules select there, as its Events tell them (ADR 24's
        // sections list targets): not every other namespace of a whole cluster.
        plan: {
          ...planned,
          decisions: planned.decisions.filter(
            (decision) => decision.code !== 'not-selected' && cluster.selectedHere(snapshot, decision),
          ),
        },
        // The namespaces there a rule selects: none means its target is missing in that cluster.
        namespaces: snapshot.namespaces.filter((namespace) =>
          (snapshot.source?.spec.push ?? []).some((rule) => evaluateFilter(rule.targets, namespace).match),
        ).length,
        refused: refused.map((entry) => entry.why),
      };
    } catch (error) {
      return failedOutcome(access.transport.server, error);
    }
  }

  /** Ends every watch; the transports stay open (their owner closes them). */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.readings.map((reading) => reading.running));
  }
}

/** `20 s`, `1.5 s`. */
function formatSeconds(ms: number): string {
  return `${String(ms / 1000)} s`;
}
