/**
 * Keeps the running remote pipelines in step with the registration Secrets in nsync's own
 * namespace (docs/multicluster.md, docs/adr/0021): a Secret added starts its cluster's pipeline,
 * changed data rebuilds it with the new credentials (no restart of nsync), a deleted Secret stops
 * it. A refused Secret gets a `ClusterRegistrationInvalid` Event and affects no other cluster.
 */
import { ListWatch, type ListWatchStatus } from '../../kube/listwatch.ts';
import { SECRETS, type RawObject } from '../../kube/resources.ts';
import { Transport } from '../../kube/transport.ts';
import { describeError, type EventRecorder } from '../events.ts';
import type { Logger } from '../log.ts';
import type { RemoteAccess } from './cluster.ts';
import {
  CLUSTER_LABEL,
  resolveRegistrations,
  type InvalidRegistration,
  type KnownClusters,
  type Registration,
  type RegistrationSecret,
} from './registration.ts';

/** Connections kept to each registered API server: its watches, plus room for reads and writes. */
const REMOTE_SOCKETS = 8;

/** Where the registry starts and stops pipelines: the Controller. */
export interface PipelineHost {
  /** Starts a pipeline for this cluster; the host owns the transport from then on. */
  addRemote(access: RemoteAccess): void;
  /** Stops the cluster's pipeline and closes its transport (in the background: nothing waits on it). */
  removeRemote(name: string): void;
}

export interface RegistryOptions {
  /** The local cluster's transport: the Secrets are read there. */
  readonly transport: Transport;
  /** nsync's own namespace, where registrations live. */
  readonly namespace: string;
  readonly known: KnownClusters;
  readonly userAgent: string;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly host: PipelineHost;
  readonly onWatchRestart?: (reason: string) => void;
}

/** What the registry and `nsync explain` keep of a registration Secret as the API sent it. */
export function toRegistrationSecret(raw: RawObject): RegistrationSecret {
  const { metadata } = raw;
  return {
    namespace: metadata.namespace ?? '',
    name: metadata.name,
    uid: metadata.uid,
    creationTimestamp: metadata.creationTimestamp ?? '',
    labels: metadata.labels ?? {},
    annotations: metadata.annotations ?? {},
    data: raw.data ?? {},
  };
}

/**
 * Builds the connection to a registered cluster and what its pipeline needs to know of it. Shared
 * by the controller and `nsync explain`, so both reach a cluster the same way. Throws when the
 * connection cannot be built (the caller says so about the Secret).
 */
export async function connectRegistration(
  registration: Registration,
  userAgent: string,
): Promise<RemoteAccess> {
  const transport = await Transport.create(registration.kubeconfig, {
    maxSockets: REMOTE_SOCKETS,
    userAgent,
  });
  return {
    name: registration.name,
    namespace: registration.namespace,
    transport,
    origin: 'registered',
    labels: registration.labels,
    acceptFrom: registration.acceptFrom,
  };
}

/**
 * The registrations as they are now, read once (one LIST of the labelled Secrets in `namespace`,
 * with the caller's own rights) and resolved with the same refusals as the controller's: for
 * `nsync explain`, which must end rather than watch. Throws the API error when the LIST fails
 * (a caller who may not read Secrets there gets a 403).
 */
export async function readRegistrations(
  transport: Transport,
  namespace: string,
  known: KnownClusters,
): Promise<{ valid: Registration[]; invalid: InvalidRegistration[] }> {
  const query = new URLSearchParams({ labelSelector: CLUSTER_LABEL });
  const listed = await transport.json<{ items: readonly RawObject[] | null }>({
    method: 'GET',
    path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/${SECRETS.plural}?${query.toString()}`,
  });
  return resolveRegistrations((listed.body.items ?? []).map(toRegistrationSecret), known);
}

/** The registration Secrets, watched in full (data included: they are few and small), and what runs of them. */
export class ClusterRegistry {
  private readonly options: RegistryOptions;
  private readonly watch: ListWatch<RegistrationSecret>;
  private readonly secrets = new Map<string, RegistrationSecret>();
  /** Running clusters: name → the fingerprint of the registration they were built from. */
  private readonly running = new Map<string, string>();
  /** Problems last reported per Secret uid, so a log line is written once per problem. */
  private readonly reported = new Map<string, string>();
  /** Applies run one after another; `queued` coalesces a burst of changes into one more. */
  private applying: Promise<void> = Promise.resolve();
  private queued = false;
  private signal: AbortSignal | undefined;

  constructor(options: RegistryOptions) {
    this.options = options;
    this.watch = new ListWatch<RegistrationSecret>({
      transport: options.transport,
      resource: SECRETS,
      namespace: options.namespace,
      labelSelector: CLUSTER_LABEL,
      relistAfterError: true,
      sink: {
        convert: toRegistrationSecret,
        relisted: (items) => {
          this.secrets.clear();
          for (const item of items) this.secrets.set(item.name, item);
          this.changed();
        },
        event: (type, item) => {
          if (type === 'DELETED') this.secrets.delete(item.name);
          else this.secrets.set(item.name, item);
          this.changed();
        },
      },
      onRestart: (reason, error) => {
        options.onWatchRestart?.(reason);
        if (reason !== 'closed')
          options.log.info({ reason, err: describeError(error) }, 'cluster registration watch restarted');
      },
    });
  }

  /** Watches until the signal aborts, then waits for the apply in progress. */
  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    await this.watch.run(signal);
    await this.applying;
  }

  /** Resolves once the first complete list of registrations has been applied. */
  async synced(): Promise<void> {
    await this.watch.synced();
    await this.applying;
  }

  status(): ListWatchStatus {
    return { ...this.watch.status(), resource: `${SECRETS.plural} (cluster registrations)` };
  }

  /** The clusters running now, by name. */
  names(): string[] {
    return [...this.running.keys()];
  }

  /**
   * Applies the registrations again, now: the contexts of --remote-kubeconfig changed (a reload,
   * docs/adr/0028), and a registration may now conflict with one, or no longer.
   */
  async recheck(): Promise<void> {
    this.changed();
    await this.applying;
  }

  private stopping(): boolean {
    return this.signal?.aborted === true;
  }

  private changed(): void {
    if (this.queued) return;
    this.queued = true;
    this.applying = this.applying.then(async () => {
      this.queued = false;
      await this.apply();
    });
  }

  /** Brings the running pipelines in line with the Secrets as they are now. */
  private async apply(): Promise<void> {
    if (this.stopping()) return;
    const { valid, invalid } = resolveRegistrations(this.secrets.values(), this.options.known);
    const wanted = new Map(valid.map((registration) => [registration.name, registration]));
    for (const [name, fingerprint] of this.running) {
      const registration = wanted.get(name);
      if (registration?.fingerprint === fingerprint) continue;
      this.running.delete(name);
      this.options.host.removeRemote(name);
      this.options.log.info(
        {
          cluster: name,
          why: registration === undefined ? 'registration gone or invalid' : 'registration changed',
        },
        'registered cluster stopped',
      );
    }
    const problems: InvalidRegistration[] = [...invalid];
    for (const registration of valid) {
      if (this.running.has(registration.name)) continue;
      if (this.stopping()) return;
      const problem = await this.start(registration);
      if (problem !== undefined) problems.push({ secret: registration.secret, problem });
    }
    const current = new Set<string>();
    for (const { secret, problem } of problems) {
      current.add(secret.uid);
      this.report(secret, problem);
    }
    for (const uid of [...this.reported.keys()]) if (!current.has(uid)) this.reported.delete(uid);
  }

  /** Connects and hands the pipeline to the host; returns why not, when the connection cannot be built. */
  private async start(registration: Registration): Promise<string | undefined> {
    let access: RemoteAccess;
    try {
      access = await connectRegistration(registration, this.options.userAgent);
    } catch (error) {
      return `cannot build a connection to its API server: ${describeError(error).message}`;
    }
    const { transport } = access;
    if (this.stopping()) {
      transport.close();
      return undefined;
    }
    this.running.set(registration.name, registration.fingerprint);
    this.reported.delete(registration.secret.uid);
    this.options.host.addRemote(access);
    this.options.log.info(
      {
        cluster: registration.name,
        secret: `${registration.secret.namespace}/${registration.secret.name}`,
        server: transport.server.origin,
        ...(registration.namespace === undefined ? {} : { namespace: registration.namespace }),
      },
      'registered cluster started',
    );
    return undefined;
  }

  /** An Event on the Secret (the recorder repeats it only after its window) and one log line per problem. */
  private report(secret: RegistrationSecret, problem: string): void {
    this.options.events.emit(
      { kind: 'Secret', namespace: secret.namespace, name: secret.name, uid: secret.uid },
      {
        type: 'Warning',
        reason: 'ClusterRegistrationInvalid',
        action: 'Register',
        note: `Cluster registration refused, nothing is synced to it: ${problem}`,
      },
    );
    if (this.reported.get(secret.uid) === problem) return;
    this.reported.set(secret.uid, problem);
    this.options.log.warn(
      { secret: `${secret.namespace}/${secret.name}`, problem },
      'cluster registration refused',
    );
  }
}
