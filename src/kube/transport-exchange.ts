/**
 * What the transport's two wire protocols have in common: a request goes out with its headers and
 * body, an answer comes back as a status, a Retry-After and a readable body. The Transport above
 * them classifies errors, parses JSON and splits watch lines once, whichever protocol carried them.
 */
import type { Readable } from 'node:stream';

/** One request as it goes on the wire. */
export interface Outgoing {
  readonly method: string;
  /** Path and query, with the server URL's path prefix already in front. */
  readonly path: string;
  /** Header names in lower case (HTTP/2 requires it; HTTP/1.1 does not care). */
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: string | undefined;
  /** 0: no timeout (watches). */
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  /** An exec plugin's client certificate: connections are kept per certificate. */
  readonly clientCert: { readonly cert: Buffer; readonly key: Buffer } | undefined;
}

/** One answer, its body not yet read. */
export interface Exchange {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly body: Readable;
  /** True when the whole body arrived (a stream cut mid-way is not complete). */
  complete(): boolean;
}

/** A way to send requests to one server: the HTTP/1.1 pool or an HTTP/2 session. */
export interface Channel {
  readonly protocol: 'h2' | 'http/1.1';
  send(request: Outgoing): Promise<Exchange>;
  close(): void;
}
