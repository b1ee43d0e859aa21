/**
 * The benchmark's eye on the mirrors: ONE metadata-only watch per kind, filtered on nsync's
 * managed-by label, so observing costs the API server little and never touches other objects.
 * Each mirror's content-hash annotation and the moment its last event arrived are kept; waiters
 * resolve at the arrival time of the event that made their condition true for the last key.
 * Data itself is verified after the timed part, with one LIST (verifyData).
 */
import { META_LIST, META_WATCH, type KubeClient } from './kube.ts';

/** The managed-by label selector of nsync's mirrors. */
export const MIRROR_SELECTOR = 'app.kubernetes.io/managed-by=nsync';
/** nsync's content-hash annotation. */
export const CONTENT_HASH = 'nsync.dev/content-hash';

/** What is known of one mirror. */
export interface MirrorState {
  readonly resourceVersion: string;
  readonly hash: string | undefined;
  /** performance.now() when its last event was read. */
  readonly at: number;
}

interface RawMeta {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly resourceVersion: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
}

/** How a wait ended. */
export interface WaitResult {
  readonly done: boolean;
  /** performance.now() of the event that satisfied the last key (or of the timeout). */
  readonly at: number;
  /** performance.now() of the first key satisfied by an event (undefined: none). */
  readonly first: number | undefined;
  readonly satisfied: number;
  readonly total: number;
}

interface Waiter {
  readonly keys: ReadonlySet<string>;
  readonly pending: Set<string>;
  readonly predicate: (state: MirrorState | undefined) => boolean;
  first: number | undefined;
  readonly resolve: (result: WaitResult) => void;
}

/** A label-selected, metadata-only list+watch of one resource, all namespaces. */
export class MirrorWatch {
  readonly mirrors = new Map<string, MirrorState>();
  private readonly client: KubeClient;
  private readonly plural: string;
  private readonly selector: string;
  private readonly waiters = new Set<Waiter>();
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private resourceVersion = '';
  /** Events received (for the report: what observing cost). */
  events = 0;
  restarts = 0;

  private readonly hashAnnotation: string;

  /** `selector` and `hashAnnotation` default to nsync's mirrors; the floor's objects use others. */
  constructor(client: KubeClient, plural: string, selector = MIRROR_SELECTOR, hashAnnotation = CONTENT_HASH) {
    this.client = client;
    this.plural = plural;
    this.selector = selector;
    this.hashAnnotation = hashAnnotation;
  }

  /** Lists, then keeps watching in the background until stop(). */
  async start(): Promise<void> {
    await this.list();
    this.running = this.loop();
  }

  private async list(): Promise<void> {
    let token: string | undefined;
    do {
      const query = new URLSearchParams({ labelSelector: this.selector, limit: '500' });
      if (token !== undefined) query.set('continue', token);
      const page = await this.client.ok<{
        metadata: { resourceVersion: string; continue?: string };
        items: RawMeta[] | null;
      }>('GET', `/api/v1/${this.plural}?${query.toString()}`, undefined, { accept: META_LIST });
      const at = performance.now();
      for (const item of page.items ?? []) this.apply('ADDED', item, at);
      this.resourceVersion = page.metadata.resourceVersion;
      token = page.metadata.continue === '' ? undefined : page.metadata.continue;
    } while (token !== undefined);
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    let failures = 0;
    while (!signal.aborted && failures < 20) {
      const query = new URLSearchParams({
        labelSelector: this.selector,
        watch: '1',
        allowWatchBookmarks: 'true',
        resourceVersion: this.resourceVersion,
        timeoutSeconds: '3600',
      });
      try {
        await this.client.stream(
          `/api/v1/${this.plural}?${query.toString()}`,
          META_WATCH,
          (line, at) => {
            this.onLine(line, at);
          },
          signal,
        );
        failures = 0;
      } catch {
        failures += 1;
        if (isAborted(signal)) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
        // A 410 or a broken stream: start over from a fresh list.
        await this.list().catch(() => undefined);
      }
      if (!isAborted(signal)) this.restarts += 1;
    }
  }

  private onLine(line: unknown, at: number): void {
    const event = line as { type?: string; object?: RawMeta & { code?: number } };
    if (event.object === undefined) return;
    switch (event.type ?? '') {
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED':
        this.events += 1;
        this.apply(event.type as 'ADDED' | 'MODIFIED' | 'DELETED', event.object, at);
        this.resourceVersion = event.object.metadata.resourceVersion;
        return;
      case 'BOOKMARK':
        this.resourceVersion = event.object.metadata.resourceVersion;
        return;
      case 'ERROR':
        throw new Error(`watch ${this.plural}: ${JSON.stringify(event.object)}`);
      default:
        return;
    }
  }

  private apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: RawMeta, at: number): void {
    const key = `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    let state: MirrorState | undefined;
    if (type === 'DELETED') this.mirrors.delete(key);
    else {
      state = {
        resourceVersion: object.metadata.resourceVersion,
        hash: object.metadata.annotations?.[this.hashAnnotation],
        at,
      };
      this.mirrors.set(key, state);
    }
    for (const waiter of this.waiters) {
      if (!waiter.keys.has(key)) continue;
      if (waiter.predicate(state)) {
        if (waiter.pending.delete(key)) waiter.first ??= at;
      } else waiter.pending.add(key);
      if (waiter.pending.size === 0) {
        this.waiters.delete(waiter);
        waiter.resolve({
          done: true,
          at,
          first: waiter.first,
          satisfied: waiter.keys.size,
          total: waiter.keys.size,
        });
      }
    }
  }

  /**
   * Resolves when `predicate` holds for every key (`namespace/name`), judged on every event.
   * Never rejects: a timeout resolves with done=false and how far it got.
   */
  waitAll(
    keys: Iterable<string>,
    predicate: (state: MirrorState | undefined) => boolean,
    timeoutMs: number,
  ): Promise<WaitResult> {
    const set = new Set(keys);
    const pending = new Set([...set].filter((key) => !predicate(this.mirrors.get(key))));
    if (pending.size === 0) {
      return Promise.resolve({
        done: true,
        at: performance.now(),
        first: undefined,
        satisfied: set.size,
        total: set.size,
      });
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        keys: set,
        pending,
        predicate,
        first: undefined,
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        resolve({
          done: false,
          at: performance.now(),
          first: waiter.first,
          satisfied: set.size - waiter.pending.size,
          total: set.size,
        });
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Distinct content hashes among the given keys (undefined for a missing mirror or hash). */
  hashes(keys: Iterable<string>): Set<string | undefined> {
    const seen = new Set<string | undefined>();
    for (const key of keys) seen.add(this.mirrors.get(key)?.hash);
    return seen;
  }

  /** Stops the watch. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }
}

/** Reads the flag through a call: it changes while we await, which narrowing cannot see. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/**
 * Reads every mirror in full (outside any timed part) and counts those whose data differs from
 * the expected data. Returns the number checked and the number wrong.
 */
export async function verifyData(
  client: KubeClient,
  plural: string,
  expected: (namespace: string, name: string) => Readonly<Record<string, string>> | undefined,
): Promise<{ checked: number; wrong: number; examples: string[] }> {
  let token: string | undefined;
  let checked = 0;
  let wrong = 0;
  const examples: string[] = [];
  do {
    const query = new URLSearchParams({ labelSelector: MIRROR_SELECTOR, limit: '500' });
    if (token !== undefined) query.set('continue', token);
    const page = await client.ok<{
      metadata: { continue?: string };
      items: { metadata: { namespace: string; name: string }; data?: Record<string, string> }[];
    }>('GET', `/api/v1/${plural}?${query.toString()}`);
    for (const item of page.items) {
      const want = expected(item.metadata.namespace, item.metadata.name);
      if (want === undefined) continue;
      checked += 1;
      if (!sameMap(want, item.data ?? {})) {
        wrong += 1;
        if (examples.length < 5) examples.push(`${item.metadata.namespace}/${item.metadata.name}`);
      }
    }
    token = page.metadata.continue === '' ? undefined : page.metadata.continue;
  } while (token !== undefined);
  return { checked, wrong, examples };
}

function sameMap(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
