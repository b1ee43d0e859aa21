/**
 * The one HTTP transport to the API server. Where the server is and how to authenticate
 * (kubeconfig files, contexts, in-cluster service account, exec plugins) comes from
 * ./kubeconfig.ts, nsync's own loader: @kubernetes/client-node's KubeConfig costs ~84 MiB of RSS
 * and is imported only for the kubeconfigs that loader hands over (docs/adr/0008). The requests
 * are our own on a keep-alive agent, because nsync needs what the generated client cannot
 * express: metadata-only list/watch by content negotiation, streaming watches with a watchdog,
 * and one connection pool with one error classification (docs/adr/0002).
 */
import type { Agent as HttpAgent } from 'node:http';
import { apiErrorFrom } from './errors.ts';
import { jsonPayload } from './json-payload.ts';
import type { CredentialSource, ResolvedKubeconfig, TlsMaterial } from './kubeconfig.ts';
import { readText, type Channel, type Exchange } from './transport-exchange.ts';
import { Http1Channel } from './transport-h1.ts';
import { Http2Channel, NoHttp2 } from './transport-h2.ts';

export {
  KubeconfigError,
  loadKubeConfig,
  type ClusterAccess,
  type FingerprintedContext,
  type KubeconfigEnvironment,
  type ResolvedKubeconfig,
} from './kubeconfig.ts';

/** Options of one request. */
export interface RequestSpec {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly accept?: string;
  /** @default 30_000 */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** A JSON answer with its status. */
export interface JsonResponse<T> {
  readonly status: number;
  readonly body: T;
}

/** Transport knobs. */
export interface TransportOptions {
  /** HTTP/1.1 connections kept to the API server (the fallback when it does not offer h2). @default 32 */
  readonly maxSockets?: number;
  /** User-Agent header, so audit logs and apiserver_request_total name nsync. @default 'nsync' */
  readonly userAgent?: string;
  /**
   * Offer h2 in the TLS handshake of an https: server (docs/adr/0019). false: HTTP/1.1 only, for
   * measurements and as an escape hatch. @default true
   */
  readonly http2?: boolean;
}

/** The wire protocol requests use: unknown until the first connection has been made. */
export type WireProtocol = 'h2' | 'http/1.1' | 'unknown';

/**
 * HTTP/2 until the server says it does not speak it, then HTTP/1.1 for good: a proxy or load
 * balancer in front of the API server that offers only http/1.1 costs one TLS handshake, once.
 */
class Negotiating implements Channel {
  private h2: Http2Channel | undefined;
  private h1: Http1Channel | undefined;
  private readonly fallback: () => Http1Channel;

  constructor(h2: Http2Channel, fallback: () => Http1Channel) {
    this.h2 = h2;
    this.fallback = fallback;
  }

  get protocol(): 'h2' | 'http/1.1' {
    return this.h1 === undefined ? 'h2' : 'http/1.1';
  }

  async send(outgoing: Parameters<Channel['send']>[0]): Promise<Exchange> {
    if (this.h2 === undefined || this.h1 !== undefined) return (this.h1 ??= this.fallback()).send(outgoing);
    try {
      return await this.h2.send(outgoing);
    } catch (error) {
      if (!(error instanceof NoHttp2)) throw error;
      this.h2.close();
      this.h2 = undefined;
      this.h1 ??= this.fallback();
      return this.h1.send(outgoing);
    }
  }

  close(): void {
    this.h2?.close();
    this.h1?.close();
  }
}

/** JSON requests and watch streams against one API server. */
export class Transport {
  readonly server: URL;
  private readonly credentials: CredentialSource;
  private readonly channel: Channel;
  private readonly userAgent: string;
  /** The server URL's path (an API server behind a path prefix), without its trailing slash. */
  private readonly pathPrefix: string;
  /** Shared with every view of withSignal(): whether any request went out. */
  private readonly usage: { used: boolean };
  /** withSignal()'s signal: ends every request of this view. */
  private readonly stop: AbortSignal | undefined;

  private constructor(
    server: URL,
    credentials: CredentialSource,
    channel: Channel,
    userAgent: string,
    usage: { used: boolean } = { used: false },
    stop?: AbortSignal,
  ) {
    this.server = server;
    this.credentials = credentials;
    this.channel = channel;
    this.userAgent = userAgent;
    this.pathPrefix = server.pathname.replace(/\/$/, '');
    this.usage = usage;
    this.stop = stop;
  }

  /**
   * The same connections, with every request (lists, watches, reads, writes) also ended when
   * `signal` aborts. A remote cluster's pipeline stops with nsync, and none of its requests may
   * hold that stop for a timeout: a remote server that accepts connections and never answers
   * would otherwise keep a write waiting 30 s (docs/multicluster.md, _Stopping_). Modules that
   * make requests (Writer, ListWatch) need not know about it.
   */
  withSignal(signal: AbortSignal): Transport {
    const stop = this.stop === undefined ? signal : AbortSignal.any([this.stop, signal]);
    return new Transport(this.server, this.credentials, this.channel, this.userAgent, this.usage, stop);
  }

  /**
   * Builds the transport: TLS material once, HTTP/2 with an HTTP/1.1 fallback (or a keep-alive
   * pool). Asks for credentials once, so a missing exec plugin or token fails here, at start,
   * rather than on the first watch. Connects on the first request, so a server that is down at
   * start is retried like any other outage.
   */
  static async create(config: ResolvedKubeconfig, options: TransportOptions = {}): Promise<Transport> {
    const { server, tls, credentials, agent: proxyAgent } = await config.connect();
    await credentials.current();
    const maxSockets = options.maxSockets ?? 32;
    return new Transport(
      server,
      credentials,
      channelFor(server, tls, maxSockets, options.http2 ?? true, proxyAgent),
      options.userAgent ?? 'nsync',
    );
  }

  /** What the requests travel on: h2, or http/1.1 (the fallback, plain http:, a proxy-url). */
  get protocol(): WireProtocol {
    return this.usage.used ? this.channel.protocol : 'unknown';
  }

  private async open(spec: RequestSpec): Promise<Exchange> {
    const payload = spec.body === undefined ? undefined : jsonPayload(spec.body);
    const credential = await this.credentials.current();
    const headers: Record<string, string> = {
      accept: spec.accept ?? 'application/json',
      'user-agent': this.userAgent,
    };
    for (const [name, value] of Object.entries(credential.headers)) headers[name.toLowerCase()] = value;
    if (payload !== undefined) headers['content-type'] = spec.contentType ?? 'application/json';
    const exchange = await this.channel.send({
      method: spec.method,
      path: this.pathPrefix + spec.path,
      headers,
      payload,
      timeoutMs: spec.timeoutMs ?? 30_000,
      signal: this.signalOf(spec),
      clientCert:
        credential.cert !== undefined && credential.key !== undefined
          ? { cert: credential.cert, key: credential.key }
          : undefined,
    });
    this.usage.used = true;
    return exchange;
  }

  /** The request's own signal and this view's, whichever aborts first. */
  private signalOf(spec: RequestSpec): AbortSignal | undefined {
    if (this.stop === undefined) return spec.signal;
    return spec.signal === undefined ? this.stop : AbortSignal.any([spec.signal, this.stop]);
  }

  /** One JSON request; non-2xx answers throw an ApiError. */
  async json<T>(spec: RequestSpec): Promise<JsonResponse<T>> {
    const response = await this.open(spec);
    const text = await readText(response.body);
    const status = response.status;
    if (status < 200 || status >= 300) {
      if (status === 401) this.credentials.invalidate();
      throw apiErrorFrom(status, text, `${spec.method} ${spec.path}`, response.retryAfter);
    }
    return { status, body: (text === '' ? {} : JSON.parse(text)) as T };
  }

  /**
   * Opens a watch and calls `onLine` for each JSON line. Resolves when the server ends the stream,
   * rejects on errors. `signal` aborts it (the watchdog uses that).
   */
  async stream(spec: RequestSpec, onLine: (line: unknown) => void): Promise<void> {
    const response = await this.open({ ...spec, timeoutMs: spec.timeoutMs ?? 0 });
    const status = response.status;
    if (status < 200 || status >= 300) {
      if (status === 401) this.credentials.invalidate();
      throw apiErrorFrom(status, await readText(response.body), `${spec.method} ${spec.path}`);
    }
    const body = response.body;
    body.setEncoding('utf8');
    let pending = '';
    await new Promise<void>((resolve, reject) => {
      body.on('data', (chunk: string) => {
        pending += chunk;
        let newline = pending.indexOf('\n');
        while (newline >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (line.trim() !== '') {
            try {
              onLine(JSON.parse(line));
            } catch (error) {
              body.destroy(error instanceof Error ? error : new Error(String(error)));
              return;
            }
          }
          newline = pending.indexOf('\n');
        }
      });
      body.on('end', resolve);
      body.on('error', reject);
      // An aborted or reset stream may end with 'close' alone; settling twice is a no-op.
      body.on('close', () => {
        if (response.complete()) resolve();
        else reject(new Error('watch stream closed'));
      });
    });
  }

  /** Closes pooled connections and sessions (shutdown). */
  close(): void {
    this.channel.close();
  }
}

/** HTTP/2 (negotiated) for https: servers reached directly; HTTP/1.1 for the rest. */
function channelFor(
  server: URL,
  tls: TlsMaterial,
  maxSockets: number,
  http2: boolean,
  proxyAgent: HttpAgent | undefined,
): Channel {
  const h1 = (): Http1Channel => new Http1Channel(server, tls, maxSockets, proxyAgent);
  if (!http2 || proxyAgent !== undefined || server.protocol !== 'https:') return h1();
  return new Negotiating(new Http2Channel(server, tls), h1);
}
