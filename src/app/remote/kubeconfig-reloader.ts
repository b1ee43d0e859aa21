/**
 * Keeps the pipelines of `--remote-kubeconfig`'s contexts in step with the file while nsync runs
 * (docs/adr/0028). In a cluster the file is a mounted Secret that the kubelet replaces by swapping
 * a symlink; the file is read again every period and compared by content, which sees that swap
 * whatever the file system's notifications do. A changed file is applied per context: unchanged
 * contexts keep their pipelines, changed ones are rebuilt, new ones started, gone ones stopped
 * (their copies stay). A file that cannot be used changes nothing: it is reported and read again.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeconfigError, type FingerprintedContext } from '../../kube/kubeconfig.ts';
import { describeError, type EventRecorder, type EventSubject } from '../events.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { connectContexts, resolveRemoteContexts } from './connect.ts';
import { diffContexts } from './context-diff.ts';
import type { PipelineHost } from './registry.ts';

export interface ReloaderOptions {
  readonly path: string;
  /** This cluster's API server: a context reaching it is left out. */
  readonly localServer: URL;
  readonly periodMs: number;
  readonly userAgent: string;
  /** The contexts running at start, as connected by the caller. */
  readonly initial: readonly FingerprintedContext[];
  /** Where a refused file is reported: nsync's own Pod; undefined = log and metric only. */
  readonly eventSubject: EventSubject | undefined;
  readonly events: EventRecorder;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly host: PipelineHost;
  /**
   * Called once the contexts to run are known and the stale pipelines stopped, before new ones
   * start: registrations are checked against the new contexts there (a context wins, as at start).
   */
  readonly contextsChanged: (contexts: readonly { name: string; server: URL }[]) => Promise<void>;
}

/** The content hash of the file, or the read error (a KubeconfigError naming the file, no value). */
function contentHash(path: string): string {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new KubeconfigError(`cannot read kubeconfig ${path}: ${code ?? 'error'}`, { cause: error });
  }
}

/** Reads `--remote-kubeconfig` every period and applies what changed. */
export class RemoteKubeconfigReloader {
  private readonly options: ReloaderOptions;
  /** The contexts running now: name → fingerprint. */
  private running: Map<string, string>;
  /** The content last applied; undefined = not known (read again). */
  private applied: string | undefined;
  /** The problem last reported, so the log has one line per problem, not one per period. */
  private reported: string | undefined;

  constructor(options: ReloaderOptions) {
    this.options = options;
    this.running = new Map(options.initial.map((context) => [context.context, context.fingerprint]));
    // The content the initial contexts came from is not known (the file may have been swapped since
    // the caller read it): the first check parses the file and compares fingerprints, so a swap in
    // between is applied and an unchanged file touches nothing.
    this.applied = undefined;
    options.metrics.remoteKubeconfigLastReload.set(Date.now() / 1000);
  }

  /** The contexts running now. */
  names(): string[] {
    return [...this.running.keys()];
  }

  /** Checks the file every period until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await sleep(this.options.periodMs, undefined, { signal });
      } catch {
        return;
      }
      await this.check(signal);
    }
  }

  /** Reads the file once; applies it when its content changed since the last apply. */
  async check(signal?: AbortSignal): Promise<void> {
    const { path, log, metrics } = this.options;
    let hash: string;
    let contexts: FingerprintedContext[];
    try {
      hash = contentHash(path);
      if (hash === this.applied) return;
      contexts = resolveRemoteContexts(path, this.options.localServer, log);
    } catch (error) {
      this.refused(error);
      return;
    }
    const diff = diffContexts(
      this.running,
      new Map(contexts.map((context) => [context.context, context.fingerprint])),
    );
    if (diff.rebuild.length + diff.add.length + diff.remove.length > 0) {
      const starting = new Set([...diff.rebuild, ...diff.add]);
      let connected;
      try {
        // Every new connection is built before anything stops: a context that cannot connect
        // leaves all pipelines as they were.
        connected = await connectContexts(
          contexts.filter((context) => starting.has(context.context)),
          this.options.userAgent,
        );
      } catch (error) {
        this.refused(error);
        return;
      }
      if (signal?.aborted === true) {
        for (const access of connected) access.transport.close();
        return;
      }
      for (const name of [...diff.remove, ...diff.rebuild]) this.options.host.removeRemote(name);
      this.running = new Map(contexts.map((context) => [context.context, context.fingerprint]));
      await this.options.contextsChanged(
        contexts.map((context) => ({ name: context.context, server: context.config.server })),
      );
      for (const access of connected) this.options.host.addRemote(access);
      log.info(
        { added: diff.add, rebuilt: diff.rebuild, removed: diff.remove, kept: diff.keep.length },
        'remote kubeconfig reloaded',
      );
    }
    this.applied = hash;
    this.reported = undefined;
    metrics.remoteKubeconfigLastReload.set(Date.now() / 1000);
  }

  /** A file that cannot be used: counted, one log line per problem, a Warning Event; read again next period. */
  private refused(error: unknown): void {
    const problem = error instanceof KubeconfigError ? error.message : describeError(error).message;
    this.options.metrics.remoteKubeconfigReloadErrors.inc();
    const { eventSubject } = this.options;
    if (eventSubject !== undefined)
      this.options.events.emit(eventSubject, {
        type: 'Warning',
        reason: 'RemoteKubeconfigInvalid',
        action: 'Reload',
        note: `--remote-kubeconfig not applied, the running clusters are kept: ${problem}`,
      });
    if (this.reported === problem) return;
    this.reported = problem;
    this.options.log.warn(
      { path: this.options.path, problem },
      'remote kubeconfig refused: the running clusters are kept',
    );
  }
}
