/**
 * Kubernetes Events (events.k8s.io/v1) on the objects concerned: conflicts, refused consent,
 * invalid annotations, repeated failures. Repeats are suppressed for a while and the rate is
 * bounded, so a flapping rule cannot flood the API server; notes never carry data values.
 */
import { randomBytes } from 'node:crypto';
import { EVENTS, microTime } from '../kube/resources.ts';
import type { Resource } from '../kube/resources.ts';
import { apiVersionOf } from '../rules/kinds.ts';
import { objectNameProblem } from '../rules/names.ts';
import type { Kind } from '../rules/model.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';

/** The object an Event is about. */
export interface EventSubject {
  /** 'Pod': nsync's own, for what concerns the process (its --remote-kubeconfig file). */
  readonly kind: Kind | 'ClusterMirror' | 'Mirror' | 'Pod';
  /** The object's apiVersion. @default 'v1' */
  readonly apiVersion?: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** One Event to emit. */
export interface EventSpec {
  readonly type: 'Normal' | 'Warning';
  /** CamelCase reason, e.g. ConflictWithUnownedObject. */
  readonly reason: string;
  /** Short verb phrase: what nsync was doing. */
  readonly action: string;
  /** Human sentence; truncated to the API's 1 kB limit. */
  readonly note: string;
  /**
   * Emitted once per object and note while this process remembers it, not again after the repeat
   * window: news that stays true (a key not copied) is told once. @default false
   */
  readonly once?: boolean;
}

/** Where Events are written (the kube Writer in production). */
export interface EventSink {
  create(resource: Resource, namespace: string, body: object): Promise<unknown>;
}

/** Recorder knobs. */
export interface EventRecorderOptions {
  /** The same Event on the same object is not repeated within this window. @default 600_000 */
  readonly repeatAfterMs?: number;
  /** At most this many Events per minute in all; the rest are dropped and counted. @default 300 */
  readonly perMinute?: number;
  /**
   * At most this many per namespace and minute, so one tenant's flood of invalid objects cannot
   * use up everyone's budget. @default 100
   */
  readonly perNamespacePerMinute?: number;
  /** reportingInstance (pod name). */
  readonly instance: string;
  /** Wall clock in ms; tests pass their own. @default Date.now */
  readonly now?: () => number;
}

const MAX_NOTE = 1000;
const MAX_REMEMBERED = 10_000;

/** Emits Events with de-duplication and a rate limit. Emission never throws into callers. */
export class EventRecorder {
  private readonly writer: EventSink;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly options: Required<EventRecorderOptions>;
  private readonly lastEmitted = new Map<string, number>();
  private windowStart = 0;
  private inWindow = 0;
  private readonly inWindowByNamespace = new Map<string, number>();

  constructor(writer: EventSink, log: Logger, metrics: Metrics, options: EventRecorderOptions) {
    this.writer = writer;
    this.log = log;
    this.metrics = metrics;
    this.options = {
      repeatAfterMs: 600_000,
      perMinute: 300,
      perNamespacePerMinute: 100,
      now: Date.now,
      ...options,
    };
  }

  /** Emits an Event unless the same one was emitted recently; returns whether it was sent. */
  emit(subject: EventSubject, spec: EventSpec): boolean {
    const now = this.options.now();
    const key = `${subject.uid}|${spec.reason}|${spec.note}`;
    const last = this.lastEmitted.get(key);
    if (last !== undefined && (spec.once === true || now - last < this.options.repeatAfterMs)) return false;
    if (now - this.windowStart >= 60_000) {
      this.windowStart = now;
      this.inWindow = 0;
      this.inWindowByNamespace.clear();
    }
    const inNamespace = this.inWindowByNamespace.get(subject.namespace) ?? 0;
    if (this.inWindow >= this.options.perMinute || inNamespace >= this.options.perNamespacePerMinute) {
      this.metrics.events.inc({ type: spec.type, reason: 'RateLimited' });
      return false;
    }
    this.inWindow += 1;
    this.inWindowByNamespace.set(subject.namespace, inNamespace + 1);
    this.remember(key, now);
    this.metrics.events.inc({ type: spec.type, reason: spec.reason });
    this.writer.create(EVENTS, subject.namespace, this.body(subject, spec, now)).catch((error: unknown) => {
      this.log.warn({ err: describeError(error), reason: spec.reason }, 'could not emit an Event');
    });
    return true;
  }

  private remember(key: string, now: number): void {
    this.lastEmitted.delete(key);
    this.lastEmitted.set(key, now);
    if (this.lastEmitted.size > MAX_REMEMBERED) {
      const oldest = this.lastEmitted.keys().next().value;
      if (oldest !== undefined) this.lastEmitted.delete(oldest);
    }
  }

  private body(subject: EventSubject, spec: EventSpec, now: number): object {
    return {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: eventName(subject.name, now), namespace: subject.namespace },
      eventTime: microTime(now),
      reportingController: 'nsync.dev/nsync',
      reportingInstance: this.options.instance,
      action: spec.action,
      reason: spec.reason,
      note: spec.note.length > MAX_NOTE ? `${spec.note.slice(0, MAX_NOTE - 1)}…` : spec.note,
      type: spec.type,
      regarding: {
        apiVersion:
          subject.kind === 'ClusterMirror' || subject.kind === 'Mirror'
            ? (subject.apiVersion ?? 'nsync.dev/v1alpha1')
            : subject.kind === 'Pod'
              ? 'v1'
              : apiVersionOf(subject.kind),
        kind: subject.kind,
        namespace: subject.namespace,
        name: subject.name,
        uid: subject.uid,
      },
    };
  }
}

/**
 * `<object>.<hex>`, the usual Event name (generateName cannot end in a dot). Role and RoleBinding
 * names may hold characters an Event name may not (`team:reader`): those become `-`.
 */
function eventName(objectName: string, now: number): string {
  const name = objectName.slice(0, 200);
  const safe =
    objectNameProblem(name) === undefined
      ? name
      : name
          .toLowerCase()
          .replace(/[^a-z0-9]+/g, '-')
          .replace(/^-+|-+$/g, '') || 'object';
  return `${safe}.${now.toString(16)}${randomBytes(4).toString('hex')}`;
}

/** An error as a log field: message and class only (messages never include request bodies). */
export function describeError(error: unknown): { message: string; type: string } {
  return error instanceof Error
    ? { message: error.message, type: error.name }
    : { message: String(error), type: typeof error };
}
