/**
 * API errors, classified once so that every caller handles them the same way: the queue retries
 * what is transient, the writer falls back on what is invalid, the list/watch relists on Gone.
 * Kubeconfig errors are configuration mistakes: `nsync run` exits 2 on them.
 */

/** A kubeconfig nsync cannot use. Messages name files, contexts, clusters and users, never secrets. */
export class KubeconfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KubeconfigError';
  }
}

/** An error answer from the API server. Its message never carries request bodies (no data values). */
export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  /** Seconds the server asked us to wait (429/503 Retry-After), if any. */
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, reason: string, message: string, retryAfterSeconds?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.reason = reason;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Longest server message kept: Status messages can quote long field paths. */
const MAX_MESSAGE = 300;

/** Builds an ApiError from a response status and its (Status-shaped, usually) body text. */
export function apiErrorFrom(status: number, bodyText: string, what: string, retryAfter?: string): ApiError {
  let reason: string;
  let message: string;
  try {
    const parsed = JSON.parse(bodyText) as { reason?: unknown; message?: unknown };
    reason = typeof parsed.reason === 'string' ? parsed.reason : '';
    message = typeof parsed.message === 'string' ? parsed.message : '';
  } catch {
    reason = '';
    message = bodyText;
  }
  const seconds = retryAfter === undefined ? undefined : Number.parseInt(retryAfter, 10);
  return new ApiError(
    status,
    reason,
    `${what}: ${status}${reason ? ` ${reason}` : ''}${message ? `: ${message.slice(0, MAX_MESSAGE)}` : ''}`,
    seconds !== undefined && Number.isFinite(seconds) ? seconds : undefined,
  );
}

/** The error classes callers act on. */
export type ErrorClass =
  | 'not-found'
  | 'conflict'
  | 'already-exists'
  | 'invalid'
  | 'gone'
  | 'forbidden'
  | 'throttled'
  | 'transient'
  | 'fatal';

/** Classifies any error thrown by the transport. Network errors are transient. */
export function classify(error: unknown): ErrorClass {
  if (!(error instanceof ApiError)) return 'transient';
  switch (error.status) {
    case 404:
      return 'not-found';
    case 409:
      return error.reason === 'AlreadyExists' ? 'already-exists' : 'conflict';
    case 410:
      return 'gone';
    case 422:
      return 'invalid';
    case 401:
    case 403:
      return 'forbidden';
    case 429:
      return 'throttled';
    default:
      return error.status >= 500 || error.status === 408 ? 'transient' : 'fatal';
  }
}
