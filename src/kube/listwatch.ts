/**
 * List+watch of one resource into a sink, that never gives up: it relists on 410 Gone,
 * reconnects with backoff on any other error, and aborts a watch that has been silent too long
 * (the client-node informer stops on errors and has had silent stalls; this replaces it).
 */
import { delay, isAborted } from './abort.ts';
import { ApiError, classify } from './errors.ts';
import type { Transport } from './transport.ts';
import {
  collectionPath,
  METADATA_LIST_ACCEPT,
  METADATA_WATCH_ACCEPT,
  type RawList,
  type RawObject,
  type Resource,
} from './resources.ts';

/** Where list and watch results go. */
export interface ListWatchSink<T> {
  /**
   * Turns an API object into what the sink keeps. Applied to each item as its page arrives, so a
   * large list never holds more than one page of full objects (managedFields and all) at once.
   */
  convert(raw: RawObject): T;
  /**
   * Whether the sink already holds exactly this version of the object — the watch's echo of a
   * write whose answer was applied already — so converting and delivering it again is skipped.
   */
  known?(raw: RawObject): boolean;
  /** A complete list replaced whatever was known (first sync, and every relist). */
  relisted(items: readonly T[]): void;
  /** One watch event. */
  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', item: T): void;
}

/** Health of one list+watch, for readiness, liveness and metrics. */
export interface ListWatchStatus {
  readonly resource: string;
  /** True once the first complete list has reached the sink. */
  readonly synced: boolean;
  /** True while a watch stream is open. */
  readonly watching: boolean;
  /** performance.now() of the last byte of progress (list, event or bookmark). */
  readonly lastProgressAt: number;
  readonly restarts: number;
  /**
   * True from a failed list or watch until a list succeeds or the watch delivers a line again.
   * `watching` alone cannot tell: it is set before each attempt to connect (docs/adr/0018).
   */
  readonly failing: boolean;
}

/** Knobs and hooks. */
export interface ListWatchOptions<T> {
  readonly transport: Transport;
  readonly resource: Resource;
  readonly sink: ListWatchSink<T>;
  /** Ask for PartialObjectMetadata: no data crosses the wire or sits in memory. @default false */
  readonly metadataOnly?: boolean;
  /** Only this namespace's objects (a namespaced list+watch needs no cluster-wide rights). @default all */
  readonly namespace?: string;
  /** Only objects this label selector selects (e.g. nsync's own mirrors in a remote cluster). @default all */
  readonly labelSelector?: string;
  /**
   * Relist after a failed attempt instead of resuming the watch: for small caches (a remote
   * cluster's, docs/adr/0018), so a successful list proves the server is back. @default false
   */
  readonly relistAfterError?: boolean;
  /** Page size of lists. @default 500 */
  readonly pageSize?: number;
  /** Server-side watch timeout; each watch picks a value in [t, 2t) so watches don't expire together. @default 300 */
  readonly watchTimeoutSeconds?: number;
  /** A watch with no line (not even a bookmark) for this long is aborted and re-opened. @default watchTimeoutSeconds*2+30 s */
  readonly silenceLimitMs?: number;
  /** Delay after the n-th consecutive failure. */
  readonly backoffMs?: (failures: number) => number;
  /** Told about every restart, with a reason code for metrics. */
  readonly onRestart?: (reason: 'gone' | 'error' | 'silent' | 'closed', error?: unknown) => void;
}

const defaultBackoff = (failures: number): number =>
  Math.min(30_000, 200 * 2 ** Math.min(failures, 10)) * (0.5 + Math.random() / 2);

/** One resource's list+watch loop. */
export class ListWatch<T> {
  private readonly options: ListWatchOptions<T>;
  private state: {
    synced: boolean;
    watching: boolean;
    lastProgressAt: number;
    restarts: number;
    failing: boolean;
  } = {
    synced: false,
    watching: false,
    lastProgressAt: performance.now(),
    restarts: 0,
    failing: false,
  };
  private readonly firstSync: Promise<void>;
  private resolveFirstSync: () => void = () => undefined;

  constructor(options: ListWatchOptions<T>) {
    this.options = options;
    this.firstSync = new Promise((resolve) => {
      this.resolveFirstSync = resolve;
    });
  }

  /** Resolves once the first complete list has reached the sink. */
  synced(): Promise<void> {
    return this.firstSync;
  }

  status(): ListWatchStatus {
    return { resource: this.options.resource.plural, ...this.state };
  }

  /** Runs until the signal aborts. Never throws. */
  async run(signal: AbortSignal): Promise<void> {
    let resourceVersion: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        resourceVersion ??= await this.list(signal);
        resourceVersion = await this.watch(resourceVersion, signal);
        failures = 0;
        this.restart('closed');
      } catch (error) {
        if (isAborted(signal)) break;
        const kind = classify(error);
        if (kind === 'gone') {
          resourceVersion = undefined;
          this.restart('gone', error);
          continue;
        }
        failures += 1;
        this.state.failing = true;
        if (this.options.relistAfterError === true) resourceVersion = undefined;
        this.restart(error instanceof SilentWatch ? 'silent' : 'error', error);
        await delay((this.options.backoffMs ?? defaultBackoff)(failures), signal);
      } finally {
        this.state.watching = false;
      }
    }
  }

  private restart(reason: 'gone' | 'error' | 'silent' | 'closed', error?: unknown): void {
    this.state.restarts += 1;
    this.options.onRestart?.(reason, error);
  }

  private progress(): void {
    this.state.lastProgressAt = performance.now();
  }

  private async list(signal: AbortSignal): Promise<string> {
    const { transport, resource, metadataOnly = false, pageSize = 500 } = this.options;
    const items: T[] = [];
    const { sink } = this.options;
    let continueToken: string | undefined;
    let resourceVersion: string;
    do {
      const query = new URLSearchParams({ limit: String(pageSize) });
      if (continueToken !== undefined) query.set('continue', continueToken);
      if (this.options.labelSelector !== undefined) query.set('labelSelector', this.options.labelSelector);
      const { body } = await transport.json<RawList>({
        method: 'GET',
        path: `${collectionPath(resource, this.options.namespace)}?${query.toString()}`,
        accept: metadataOnly ? METADATA_LIST_ACCEPT : 'application/json',
        timeoutMs: 60_000,
        signal,
      });
      for (const item of body.items ?? []) items.push(sink.convert(item));
      resourceVersion = body.metadata.resourceVersion;
      continueToken = body.metadata.continue === '' ? undefined : body.metadata.continue;
      this.progress();
    } while (continueToken !== undefined);
    sink.relisted(items);
    this.state.failing = false;
    if (!this.state.synced) {
      this.state.synced = true;
      this.resolveFirstSync();
    }
    return resourceVersion;
  }

  private async watch(fromVersion: string, outer: AbortSignal): Promise<string> {
    const { transport, resource, metadataOnly = false, watchTimeoutSeconds = 300 } = this.options;
    const timeoutSeconds = Math.floor(watchTimeoutSeconds * (1 + Math.random()));
    const silenceLimitMs = this.options.silenceLimitMs ?? (timeoutSeconds + 30) * 1000;
    const query = new URLSearchParams({
      watch: '1',
      resourceVersion: fromVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(timeoutSeconds),
    });
    if (this.options.labelSelector !== undefined) query.set('labelSelector', this.options.labelSelector);
    const local = new AbortController();
    const abort = (): void => {
      local.abort();
    };
    outer.addEventListener('abort', abort, { once: true });
    const silence = { noticed: false };
    const watchdog = setTimeout(onSilence, silenceLimitMs);
    function onSilence(): void {
      silence.noticed = true;
      local.abort();
    }
    let resourceVersion = fromVersion;
    try {
      this.state.watching = true;
      this.progress();
      await transport.stream(
        {
          method: 'GET',
          path: `${collectionPath(resource, this.options.namespace)}?${query.toString()}`,
          accept: metadataOnly ? METADATA_WATCH_ACCEPT : 'application/json',
          signal: local.signal,
        },
        (line) => {
          // Restarts the same timer: a new one per event was measurable in a fan-out's echo.
          watchdog.refresh();
          this.progress();
          this.state.failing = false;
          resourceVersion = this.dispatch(line) ?? resourceVersion;
        },
      );
      return resourceVersion;
    } catch (error) {
      if (silence.noticed)
        throw new SilentWatch(`${resource.plural} watch silent for ${silenceLimitMs} ms`, { cause: error });
      throw error;
    } finally {
      clearTimeout(watchdog);
      outer.removeEventListener('abort', abort);
    }
  }

  /** Handles one watch line; returns the resourceVersion to resume from. */
  private dispatch(line: unknown): string | undefined {
    const event = line as {
      type?: unknown;
      object?: RawObject & { code?: number; message?: string; reason?: string };
    };
    const object = event.object;
    if (object === undefined) return undefined;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
        if (this.options.sink.known?.(object) !== true) {
          this.options.sink.event(event.type, this.options.sink.convert(object));
        }
        return object.metadata.resourceVersion;
      case 'DELETED':
        this.options.sink.event(event.type, this.options.sink.convert(object));
        return object.metadata.resourceVersion;
      case 'BOOKMARK':
        return object.metadata.resourceVersion;
      case 'ERROR':
        throw new ApiError(object.code ?? 500, object.reason ?? '', `watch: ${object.message ?? 'error'}`);
      default:
        return undefined;
    }
  }
}

/** A watch that said nothing, not even a bookmark, for longer than the silence limit. */
class SilentWatch extends Error {}
