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
  /** The body as UTF-8 chunks (json-payload.ts), sent in order. */
  readonly payload: readonly Buffer[] | undefined;
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

/**
 * An answer's whole body as text. Read with 'data' and 'end' rather than an async iterator: the
 * iterator's end-of-stream check takes an HTTP/2 stream whose frames are all in (`closed`, its
 * data still buffered) for one cut short, and failed ~1 % of the writes of a large fan-out with
 * "Premature close" although the server had answered them (docs/adr/0025).
 */
export function readText(body: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    body.once('error', reject);
    if (body.destroyed && !body.readableEnded) {
      // Destroyed before anyone read: its 'close' (and any 'error') may already be past.
      reject(body.errored ?? new Error('the answer was cut off before its body was read'));
      return;
    }
    const chunks: Buffer[] = [];
    body.on('data', (chunk: Buffer) => chunks.push(chunk));
    body.once('end', () => {
      resolve(
        chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8'),
      );
    });
    // A connection cut mid-body may end with 'close' alone; after 'end' settling again is a no-op.
    body.once('close', () => {
      reject(new Error('the answer was cut off before its body was complete'));
    });
  });
}
