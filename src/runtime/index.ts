/**
 * The generic controller machinery: time, backoff, the work queue and the list+watch cache. It
 * knows no domain and no Kubernetes client, so app/ wires it to kube/ and the reconciler.
 */
export { Limiter } from './limit.ts';
export { ManualClock, sleepOn, systemClock, type CancelTimer, type Clock } from './clock.ts';
export {
  Backoff,
  backoffCeiling,
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_MAX_MS,
  type BackoffOptions,
} from './backoff.ts';
export {
  WorkQueue,
  type Handler,
  type HandlerResult,
  type QueueObserver,
  type RunOptions,
  type RunOutcome,
  type WorkQueueOptions,
} from './queue.ts';
export {
  Store,
  StoreListenerError,
  type IndexFunctions,
  type StoreChange,
  type StoreListener,
  type StoreOptions,
} from './store.ts';
