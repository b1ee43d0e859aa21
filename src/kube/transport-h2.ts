/**
 * HTTP/2 to the API server: one TLS connection carries every request as a stream, as client-go
 * does. Against HTTP/1.1 it saves a connection per concurrent write and most of the client's CPU
 * per request (docs/adr/0019). The TLS handshake offers h2 and http/1.1; a server or proxy that
 * picks http/1.1 gets a `NoHttp2` error before anything is sent, and the transport falls back.
 *
 * What a server may do to a session, and what happens then:
 * - GOAWAY: the session takes no new streams (the next request opens a new session); streams the
 *   server did not take (REFUSED_STREAM, or refused because the session was closing) are sent
 *   again once, on a new session — the server guarantees it never processed them;
 * - a stream reset or a connection cut mid-answer: that request fails as a network error, which
 *   the queue retries with backoff (writes carry preconditions, so a repeat is safe);
 * - silence: a request that times out sends a PING; no answer within `PING_TIMEOUT_MS` ends the
 *   session, so a half-open connection does not hold every later request.
 */
import {
  connect as http2Connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { isIP } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { TlsMaterial } from './kubeconfig.ts';
import type { Channel, Exchange, Outgoing } from './transport-exchange.ts';
import { tlsOptions } from './transport-h1.ts';

/** The server (or a proxy) chose http/1.1 in the TLS handshake; nothing was sent. */
export class NoHttp2 extends Error {
  constructor(server: URL, chosen: string | false | null) {
    super(
      `${server.host} does not offer h2 (ALPN chose ${chosen === false || chosen === null ? 'nothing' : chosen})`,
    );
    this.name = 'NoHttp2';
  }
}

/**
 * Flow-control windows. Node's defaults (64 KiB for the connection and for each stream) make a
 * large LIST or a burst of watch events wait on WINDOW_UPDATE round trips; these only permit the
 * server to send ahead, they allocate nothing.
 */
const STREAM_WINDOW = 4 * 1024 * 1024;
const SESSION_WINDOW = 16 * 1024 * 1024;
/** How long a PING may go unanswered before the session is taken for dead. */
export const PING_TIMEOUT_MS = 10_000;
/** How long the TCP connect and TLS handshake may take. */
const CONNECT_TIMEOUT_MS = 30_000;

interface Live {
  readonly session: ClientHttp2Session;
  readonly cert: Buffer | undefined;
  active: number;
  probing: boolean;
}

interface Pending {
  readonly cert: Buffer | undefined;
  readonly live: Promise<Live>;
  /** Set once connected, so that a GOAWAY can retire it synchronously. */
  session?: ClientHttp2Session;
}

function sameCert(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.equals(b));
}

/** Requests as streams of one HTTP/2 session at a time (a new one per client certificate). */
export class Http2Channel implements Channel {
  readonly protocol = 'h2';
  private readonly server: URL;
  private readonly tls: TlsMaterial;
  private readonly hostname: string;
  private readonly port: number;
  private current: Pending | undefined;
  private readonly sessions = new Set<ClientHttp2Session>();
  /** TLS connections still in their handshake: close() must end them too, or their timer holds the process. */
  private readonly connecting = new Set<TLSSocket>();
  private closed = false;

  constructor(server: URL, tls: TlsMaterial) {
    this.server = server;
    this.tls = tls;
    this.hostname = server.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = server.port === '' ? 443 : Number(server.port);
  }

  async send(outgoing: Outgoing): Promise<Exchange> {
    return this.attempt(outgoing, false);
  }

  private async attempt(outgoing: Outgoing, again: boolean): Promise<Exchange> {
    const live = await abortable(this.live(outgoing.clientCert), outgoing.signal);
    const headers: OutgoingHttpHeaders = {
      ...outgoing.headers,
      [constants.HTTP2_HEADER_METHOD]: outgoing.method,
      [constants.HTTP2_HEADER_PATH]: outgoing.path,
    };
    let stream: ClientHttp2Stream;
    try {
      stream = live.session.request(headers, {
        endStream: outgoing.payload === undefined,
        ...(outgoing.signal === undefined ? {} : { signal: outgoing.signal }),
      });
    } catch (error) {
      // The session got a GOAWAY or closed between our check and this request: nothing was sent.
      this.forget(live.session);
      if (again) throw error;
      return this.attempt(outgoing, true);
    }
    this.track(live, stream);
    return new Promise<Exchange>((resolve, reject) => {
      let settled = false;
      const settle = (action: () => void): void => {
        if (settled) return;
        settled = true;
        action();
      };
      // on, not once: each of these comes at most once, and once() wraps every listener (per request).
      stream.on('response', (answer) => {
        const retryAfter = answer['retry-after'];
        settle(() => {
          resolve({
            status: Number(answer[constants.HTTP2_HEADER_STATUS] ?? 0),
            retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
            body: stream,
            complete: () => stream.readableEnded,
          });
        });
      });
      const failed = (error: Error): void => {
        settle(() => {
          if (!again && stream.rstCode === constants.NGHTTP2_REFUSED_STREAM) {
            // Refused streams were never processed (RFC 9113 §8.7): safe to send again, once.
            resolve(this.attempt(outgoing, true));
          } else {
            reject(error);
          }
        });
      };
      stream.on('error', failed);
      stream.on('close', () => {
        // Every stream closes; only one that closed unanswered needs an Error (its stack costs ~20 µs).
        if (!settled)
          failed(new Error(`${outgoing.method} ${outgoing.path}: stream closed before an answer`));
      });
      if (outgoing.timeoutMs > 0) {
        stream.setTimeout(outgoing.timeoutMs, () => {
          stream.destroy(new Error(`${outgoing.method} ${outgoing.path} timed out`));
          this.probe(live);
        });
      }
      if (outgoing.payload !== undefined) {
        // Corked (end() uncorks): the chunks leave as one write, not one DATA frame each.
        stream.cork();
        for (const chunk of outgoing.payload) stream.write(chunk);
        stream.end();
      }
    });
  }

  /** Keeps the process alive only while streams are open, as an idle keep-alive socket does not. */
  private track(live: Live, stream: ClientHttp2Stream): void {
    if (live.active++ === 0) live.session.ref();
    stream.on('close', () => {
      if (--live.active === 0 && !live.session.destroyed) live.session.unref();
    });
  }

  /** The session for this certificate, opening one if there is none or it is closing. */
  private live(clientCert: Outgoing['clientCert']): Promise<Live> {
    if (this.closed) return Promise.reject(new Error('transport closed'));
    const cert = clientCert?.cert;
    const current = this.current;
    if (current !== undefined && sameCert(current.cert, cert)) return current.live;
    if (current !== undefined) {
      // A rotated client certificate: new streams go to a new session, the old one drains.
      void current.live.then(
        (old) => {
          this.forget(old.session);
          old.session.close();
        },
        () => undefined,
      );
    }
    const pending: Pending = { cert, live: this.open(clientCert) };
    this.current = pending;
    pending.live.then(
      (live) => {
        pending.session = live.session;
        if (live.session.closed || live.session.destroyed) this.forget(live.session);
      },
      () => {
        if (this.current === pending) this.current = undefined;
      },
    );
    return pending.live;
  }

  private open(clientCert: Outgoing['clientCert']): Promise<Live> {
    return new Promise((resolve, reject) => {
      const servername = this.tls.servername ?? (isIP(this.hostname) === 0 ? this.hostname : undefined);
      const socket = tlsConnect({
        host: this.hostname,
        port: this.port,
        ALPNProtocols: ['h2', 'http/1.1'],
        ...tlsOptions(this.tls),
        ...(servername === undefined ? {} : { servername }),
        ...(clientCert ?? {}),
      });
      this.connecting.add(socket);
      const timer = setTimeout(() => {
        socket.destroy(new Error(`connecting to ${this.server.host} timed out`));
      }, CONNECT_TIMEOUT_MS);
      const failed = (error: Error): void => {
        clearTimeout(timer);
        this.connecting.delete(socket);
        reject(error);
      };
      socket.once('error', failed);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        this.connecting.delete(socket);
        socket.removeListener('error', failed);
        if (socket.alpnProtocol !== 'h2') {
          const chosen = socket.alpnProtocol;
          socket.destroy();
          reject(new NoHttp2(this.server, chosen));
          return;
        }
        const session = http2Connect(this.server.origin, {
          createConnection: () => socket,
          settings: { enablePush: false, initialWindowSize: STREAM_WINDOW },
        });
        this.sessions.add(session);
        const live: Live = { session, cert: clientCert?.cert, active: 0, probing: false };
        session.on('error', () => {
          // The streams see the error too; the next request opens a new session.
          this.forget(session);
        });
        session.once('goaway', () => {
          this.forget(session);
        });
        session.once('close', () => {
          this.forget(session);
          this.sessions.delete(session);
        });
        session.once('connect', () => {
          session.setLocalWindowSize(SESSION_WINDOW);
        });
        session.unref();
        if (this.closed) session.destroy();
        resolve(live);
      });
    });
  }

  /** New requests no longer go to this session. */
  private forget(session: ClientHttp2Session): void {
    if (this.current?.session === session) this.current = undefined;
  }

  /** A request timed out: is the connection still there? No PING answer ends the session. */
  private probe(live: Live): void {
    if (live.probing || live.session.destroyed) return;
    live.probing = true;
    const timer = setTimeout(() => {
      live.session.destroy(new Error(`no PING answer from ${this.server.host} in ${PING_TIMEOUT_MS} ms`));
    }, PING_TIMEOUT_MS);
    const sent = live.session.ping((error) => {
      clearTimeout(timer);
      live.probing = false;
      if (error !== null) live.session.destroy(error);
    });
    if (!sent) {
      clearTimeout(timer);
      live.probing = false;
    }
  }

  close(): void {
    this.closed = true;
    this.current = undefined;
    for (const session of this.sessions) session.destroy();
    this.sessions.clear();
    for (const socket of this.connecting) socket.destroy(new Error('transport closed'));
    this.connecting.clear();
  }
}

/**
 * Waits for `pending` unless `signal` aborts first. A session still connecting is shared by every
 * request waiting for it, so one request's stop must not end it; it only stops that request from
 * waiting (a TLS handshake with a server that never answers takes up to CONNECT_TIMEOUT_MS).
 */
function abortable<T>(pending: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return pending;
  if (signal.aborted) {
    // Nobody else may be waiting for it: its failure must not become an unhandled rejection.
    pending.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('request aborted');
}
