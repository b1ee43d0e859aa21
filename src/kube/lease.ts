/**
 * Leader election on a coordination.k8s.io Lease. Expiry is judged by when THIS process last saw
 * the record change (not by the timestamps in it), so clock skew between nodes cannot make two
 * leaders; a leader that cannot renew within the renew deadline steps down before its lease can
 * expire for others (renewDeadline < leaseDuration), so two never write at once.
 */
import { delay, isAborted } from './abort.ts';
import { classify } from './errors.ts';
import { LEASES, collectionPath, microTime, objectPath } from './resources.ts';
import type { Transport } from './transport.ts';

/** Lease timing and identity. */
export interface LeaseOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

interface LeaseObject {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/** What release() did: gave the lease up, had none to give up, or could not reach the API server. */
export type ReleaseOutcome =
  | { readonly released: true }
  | { readonly released: false; readonly why: 'not-leading' | 'not-held' }
  | { readonly released: false; readonly why: 'failed'; readonly error: unknown };

/** Competes for one Lease and tells when leadership starts and ends. */
export class LeaderElector {
  private readonly transport: Transport;
  private readonly options: LeaseOptions;
  private observed: { record: string; at: number } = { record: '', at: 0 };
  private leading = false;
  /** The renew loop while leading: release() stops it first, so no renewal lands after the release. */
  private renewing: { readonly stop: AbortController; readonly done: Promise<void> } | undefined;

  constructor(transport: Transport, options: LeaseOptions) {
    this.transport = transport;
    this.options = options;
  }

  /** True while this instance holds the lease. */
  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Waits until this instance holds the lease (or the signal aborts: resolves false), then keeps
   * renewing in the background; `onLost` is called once if leadership is lost.
   */
  async acquire(signal: AbortSignal, onLost: () => void): Promise<boolean> {
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew().catch(() => false)) {
        this.leading = true;
        const stop = new AbortController();
        this.renewing = { stop, done: this.renewLoop(AbortSignal.any([signal, stop.signal]), onLost) };
        return true;
      }
      await delay(this.options.retryPeriodMs * (1 + Math.random() * 0.2), signal);
    }
    return false;
  }

  private async renewLoop(signal: AbortSignal, onLost: () => void): Promise<void> {
    let lastRenew = performance.now();
    while (!signal.aborted && this.leading) {
      await delay(this.options.retryPeriodMs, signal);
      if (isAborted(signal)) break;
      // The signal also cuts a renewal in flight short, so release() never waits out its timeout.
      const renewed = await this.tryAcquireOrRenew(signal).catch(() => false);
      if (isAborted(signal)) break; // stopping, not losing: an aborted renewal is no lost lease
      if (renewed) {
        lastRenew = performance.now();
      } else if (performance.now() - lastRenew >= this.options.renewDeadlineMs) {
        this.leading = false;
        onLost();
        return;
      }
    }
  }

  /**
   * Gives the lease up (graceful shutdown) so a standby takes over at once. Never rejects: a
   * shutdown must finish whatever the API server does meanwhile (it may be restarting or gone),
   * and a lease that could not be released merely expires after its duration. The renew loop is
   * stopped and waited for first, so a renewal in flight cannot take the lease back afterwards.
   */
  async release(): Promise<ReleaseOutcome> {
    const renewing = this.renewing;
    this.renewing = undefined;
    renewing?.stop.abort();
    await renewing?.done;
    if (!this.leading) return { released: false, why: 'not-leading' };
    this.leading = false;
    try {
      const lease = await this.get();
      if (lease?.spec.holderIdentity !== this.options.identity) return { released: false, why: 'not-held' };
      lease.spec.holderIdentity = null;
      lease.spec.leaseDurationSeconds = 1;
      lease.spec.renewTime = microTime(Date.now());
      await this.put(lease);
      return { released: true };
    } catch (error) {
      return { released: false, why: 'failed', error };
    }
  }

  private async get(signal?: AbortSignal): Promise<LeaseObject | undefined> {
    try {
      return (
        await this.transport.json<LeaseObject>({
          method: 'GET',
          path: objectPath(LEASES, this.options.namespace, this.options.name),
          timeoutMs: this.options.retryPeriodMs * 2,
          ...(signal === undefined ? {} : { signal }),
        })
      ).body;
    } catch (error) {
      if (classify(error) === 'not-found') return undefined;
      throw error;
    }
  }

  private async put(lease: LeaseObject, signal?: AbortSignal): Promise<void> {
    await this.transport.json({
      method: 'PUT',
      path: objectPath(LEASES, this.options.namespace, this.options.name),
      body: lease,
      timeoutMs: this.options.retryPeriodMs * 2,
      ...(signal === undefined ? {} : { signal }),
    });
  }

  private async tryAcquireOrRenew(signal?: AbortSignal): Promise<boolean> {
    const now = Date.now();
    const { identity, leaseDurationMs } = this.options;
    const leaseDurationSeconds = Math.ceil(leaseDurationMs / 1000);
    const lease = await this.get(signal);
    if (lease === undefined) {
      await this.transport.json({
        method: 'POST',
        path: collectionPath(LEASES, this.options.namespace),
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.options.name, namespace: this.options.namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        },
        timeoutMs: this.options.retryPeriodMs * 2,
        ...(signal === undefined ? {} : { signal }),
      });
      this.observed = { record: `${identity}|${microTime(now)}`, at: performance.now() };
      return true;
    }
    const holder = lease.spec.holderIdentity ?? '';
    const record = `${holder}|${lease.spec.renewTime ?? ''}`;
    if (record !== this.observed.record) this.observed = { record, at: performance.now() };
    const heldByOther = holder !== '' && holder !== identity;
    const observedDurationMs = (lease.spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    if (heldByOther && performance.now() - this.observed.at < observedDurationMs) return false;
    if (holder !== identity) {
      lease.spec.acquireTime = microTime(now);
      lease.spec.leaseTransitions = (lease.spec.leaseTransitions ?? 0) + 1;
    }
    lease.spec.holderIdentity = identity;
    lease.spec.leaseDurationSeconds = leaseDurationSeconds;
    lease.spec.renewTime = microTime(now);
    await this.put(lease, signal); // resourceVersion in metadata: a concurrent taker gets 409 and loses.
    this.observed = { record: `${identity}|${lease.spec.renewTime}`, at: performance.now() };
    return true;
  }
}
