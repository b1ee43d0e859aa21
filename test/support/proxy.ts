/**
 * A fault-injecting reverse proxy in front of a real kube-apiserver, for the fault tests: plain
 * HTTP on loopback (nsync's transport speaks http: URLs), forwarding to the API server over HTTPS
 * with the cluster's CA. It passes every request through untouched — streaming watch responses
 * included — unless the test's fault policy says otherwise for that request:
 *
 * - `429`: answers 429 TooManyRequests with a Retry-After header, without forwarding;
 * - `500`: answers 500 without forwarding;
 * - `500-after`: forwards (the write happens), then answers 500 instead of the real answer;
 * - `hang`: never forwards and never answers, until the client gives up;
 * - `hang-after`: forwards (the write happens), then never answers;
 * - `reset`: destroys the connection at once (under HTTP/2: every stream on it);
 * - `rst-stream`: resets this request's HTTP/2 stream alone (HTTP/1.1: destroys the connection);
 * - `refuse`: resets the stream with REFUSED_STREAM, which promises it was not processed (HTTP/1.1:
 *   destroys the connection).
 *
 * By default it speaks plain HTTP/1.1. With `tls: 'h2'` it is an HTTPS server that offers h2 and
 * http/1.1 in its TLS handshake (with the API server's own certificate, so the cluster's CA file
 * verifies it) and can send GOAWAY on every session; with `tls: 'http/1.1'` it offers only
 * http/1.1, as a proxy or load balancer in front of an API server may: clients must fall back.
 *
 * It also counts write attempts per object, can end or cut every open watch (as a server that
 * closes watches), and can hold new watches back (so a client resumes them only after etcd has
 * compacted the revision it resumes from).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  Agent,
  createServer as createHttpsServer,
  request as httpsRequest,
  type RequestOptions,
} from 'node:https';
import {
  constants as http2Constants,
  createSecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from 'node:http2';
import type { ClientRequest, IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What the proxy does with one request. */
export type Fault =
  'pass' | '429' | '500' | '500-after' | 'hang' | 'hang-after' | 'reset' | 'rst-stream' | 'refuse';

/** A request as either server kind hands it over. */
type Incoming = IncomingMessage | Http2ServerRequest;
/** An answer as either server kind takes it. */
type Outgoing = ServerResponse | Http2ServerResponse;

/** One request as the fault policy sees it. */
export interface ProxiedRequest {
  readonly method: string;
  /** Path without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly watch: boolean;
  /** `secrets`, `configmaps`, `namespaces`, `events` …, when the path names one. */
  readonly resource: string | undefined;
  readonly namespace: string | undefined;
  /** The object's name: from the path, or from the body of a POST. */
  readonly name: string | undefined;
}

/** One write that reached the proxy, with what was done with it. */
export interface WriteAttempt {
  readonly method: string;
  readonly fault: Fault;
  /** Date.now() when it arrived. */
  readonly at: number;
}

/** Settings of a proxy. */
export interface FaultProxyOptions {
  /** The API server's https URL. */
  readonly upstream: string;
  /** CA that signs the API server's certificate. */
  readonly caFile: string;
  /** Decides each request's fate. @default every request passes */
  readonly policy?: (request: ProxiedRequest) => Fault;
  /** Retry-After (seconds) of injected 429s, per request. @default 1 */
  readonly retryAfterSeconds?: (request: ProxiedRequest) => number;
  /**
   * Plain HTTP (the default), HTTPS offering h2 and http/1.1, or HTTPS offering http/1.1 only.
   * @default 'none'
   */
  readonly tls?: 'none' | 'h2' | 'http/1.1';
}

/** A running proxy. */
export interface FaultProxy {
  /** `http://127.0.0.1:<port>`, or https: with `tls`. */
  readonly url: string;
  /** Requests seen per HTTP version ('1.1', '2.0'). */
  readonly versions: ReadonlyMap<string, number>;
  /** Sends GOAWAY on every open HTTP/2 session and closes it; returns how many. */
  goaway(): number;
  /** Replaces the fault policy. */
  setPolicy(policy: (request: ProxiedRequest) => Fault): void;
  /** Writes a kubeconfig that reaches the API server through this proxy with `token`. */
  kubeconfig(user: string, token: string): string;
  /** Write attempts (POST, PUT, PATCH, DELETE) per object, keyed `<resource>/<namespace>/<name>`. */
  readonly writes: ReadonlyMap<string, readonly WriteAttempt[]>;
  /** How many requests got each fault so far. */
  readonly injected: Readonly<Record<Fault, number>>;
  /** Watches currently streaming through the proxy. */
  openWatches(): number;
  /**
   * Ends every open watch: `clean` ends the response as a server-side timeout does; otherwise
   * the connection is cut mid-stream. Returns how many were ended.
   */
  endWatches(clean: boolean): number;
  /** New watch requests wait (unanswered, not forwarded) until releaseWatches(). */
  holdWatches(): void;
  /** Forwards the held watch requests and lets new ones through again. */
  releaseWatches(): void;
  /** Watch requests waiting now. */
  heldWatches(): number;
  close(): Promise<void>;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Hop-by-hop headers a proxy must not forward. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'host',
]);

function forwardable(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    // HTTP/2 pseudo-headers (:method, :path …) are the request line, not headers.
    if (value !== undefined && !HOP_BY_HOP.has(name.toLowerCase()) && !name.startsWith(':'))
      out[name] = value;
  }
  return out;
}

/** Starts an answer on either server kind. */
function writeHead(response: Outgoing, status: number, headers: Record<string, string | string[]>): void {
  if ('stream' in response) response.writeHead(status, headers);
  else response.writeHead(status, headers);
}

/** Reads `/api/v1/namespaces/<ns>/<resource>/<name>` and `/apis/<g>/<v>/namespaces/…` paths. */
function describePath(path: string): { resource?: string; namespace?: string; name?: string } {
  const parts = path.split('/').filter((part) => part !== '');
  const start = parts[0] === 'api' ? 2 : parts[0] === 'apis' ? 3 : -1;
  if (start < 0) return {};
  const rest = parts.slice(start);
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    return {
      namespace: rest[1] ?? '',
      resource: rest[2] ?? '',
      ...(rest[3] === undefined ? {} : { name: rest[3] }),
    };
  }
  return {
    ...(rest[0] === undefined ? {} : { resource: rest[0] }),
    ...(rest[1] === undefined ? {} : { name: rest[1] }),
  };
}

function nameFromBody(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { metadata?: { name?: unknown } };
    return typeof parsed.metadata?.name === 'string' ? parsed.metadata.name : undefined;
  } catch {
    return undefined;
  }
}

function statusBody(code: number, reason: string): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `injected by the fault proxy (${String(code)} ${reason})`,
    reason,
    code,
  });
}

/** Starts a proxy on a free loopback port. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ca: readFileSync(options.caFile) });
  const retryAfter = options.retryAfterSeconds ?? ((): number => 1);
  let policy = options.policy ?? ((): Fault => 'pass');
  const writes = new Map<string, WriteAttempt[]>();
  const injected: Record<Fault, number> = {
    pass: 0,
    '429': 0,
    '500': 0,
    '500-after': 0,
    hang: 0,
    'hang-after': 0,
    reset: 0,
    'rst-stream': 0,
    refuse: 0,
  };
  const versions = new Map<string, number>();
  const sessions = new Set<Http2Session>();
  const watches = new Set<{
    response: Outgoing;
    answer: IncomingMessage;
    upstreamRequest: ClientRequest;
  }>();
  let holding = false;
  const held: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const dir = mkdtempSync(join(tmpdir(), 'nsync-proxy-'));

  /** Sends the request upstream; calls `onResponse` with the answer (not yet read). */
  const forward = (
    request: Incoming,
    body: Buffer,
    onResponse: (answer: IncomingMessage, upstreamRequest: ClientRequest) => void,
    onError: (error: Error) => void,
  ): ClientRequest => {
    const target = new URL(request.url ?? '/', upstream);
    const requestOptions: RequestOptions = {
      method: request.method ?? 'GET',
      agent,
      headers: { ...forwardable(request.headers), 'content-length': String(body.length) },
    };
    const upstreamRequest = httpsRequest(target, requestOptions, (answer) => {
      onResponse(answer, upstreamRequest);
    });
    upstreamRequest.on('error', onError);
    upstreamRequest.end(body);
    return upstreamRequest;
  };

  const relay = (request: Incoming, response: Outgoing, body: Buffer, watch: boolean): void => {
    const upstreamRequest = forward(
      request,
      body,
      (answer) => {
        writeHead(response, answer.statusCode ?? 502, forwardable(answer.headers));
        if ('flushHeaders' in response) response.flushHeaders();
        if (watch) {
          const entry = { response, answer, upstreamRequest };
          watches.add(entry);
          const forget = (): void => {
            watches.delete(entry);
          };
          response.once('close', forget);
          answer.once('end', forget);
        }
        answer.pipe(response);
        answer.on('error', () => {
          if (!response.writableEnded) response.destroy();
        });
      },
      () => {
        if (!response.headersSent) {
          writeHead(response, 502, { 'content-type': 'application/json' });
          response.end(statusBody(502, 'BadGateway'));
        } else {
          response.destroy();
        }
      },
    );
    // The client went away (a timeout, a cut): stop the upstream side too.
    response.once('close', () => {
      if (!response.writableFinished) upstreamRequest.destroy();
    });
  };

  /** Resets this request's HTTP/2 stream with `code`; under HTTP/1.1 cuts the connection. */
  const resetStream = (request: Incoming, code: number): void => {
    if ('stream' in request) request.stream.close(code);
    else request.socket.destroy();
  };

  const handle = (request: Incoming, response: Outgoing, body: Buffer): void => {
    versions.set(request.httpVersion, (versions.get(request.httpVersion) ?? 0) + 1);
    const url = new URL(request.url ?? '/', 'http://proxy');
    const method = request.method ?? 'GET';
    const watch = url.searchParams.get('watch') === '1' || url.searchParams.get('watch') === 'true';
    const described = describePath(url.pathname);
    const name = described.name ?? (method === 'POST' ? nameFromBody(body) : undefined);
    const info: ProxiedRequest = {
      method,
      path: url.pathname,
      query: url.searchParams,
      watch,
      resource: described.resource,
      namespace: described.namespace,
      name,
    };
    let fault: Fault;
    try {
      fault = policy(info);
    } catch {
      fault = 'pass';
    }
    injected[fault] += 1;
    if (WRITE_METHODS.has(method) && described.resource !== undefined) {
      const key = `${described.resource}/${described.namespace ?? ''}/${name ?? ''}`;
      const list = writes.get(key) ?? [];
      list.push({ method, fault, at: Date.now() });
      writes.set(key, list);
    }
    switch (fault) {
      case 'pass':
        if (watch && holding) {
          held.push(() => {
            if (!response.destroyed) relay(request, response, body, watch);
          });
          return;
        }
        relay(request, response, body, watch);
        return;
      case '429':
        writeHead(response, 429, {
          'content-type': 'application/json',
          'retry-after': String(retryAfter(info)),
        });
        response.end(statusBody(429, 'TooManyRequests'));
        return;
      case '500':
        writeHead(response, 500, { 'content-type': 'application/json' });
        response.end(statusBody(500, 'InternalError'));
        return;
      case '500-after':
        forward(
          request,
          body,
          (answer) => {
            answer.resume();
            answer.once('end', () => {
              writeHead(response, 500, { 'content-type': 'application/json' });
              response.end(statusBody(500, 'InternalError'));
            });
          },
          () => response.destroy(),
        );
        return;
      case 'hang':
        return;
      case 'hang-after':
        forward(
          request,
          body,
          (answer) => answer.resume(),
          () => undefined,
        );
        return;
      case 'reset':
        // Under HTTP/2 the request's socket is a view of its stream: cut the whole connection.
        if ('stream' in request) request.stream.session?.destroy();
        else request.socket.destroy();
        return;
      case 'rst-stream':
        resetStream(request, http2Constants.NGHTTP2_INTERNAL_ERROR);
        return;
      case 'refuse':
        resetStream(request, http2Constants.NGHTTP2_REFUSED_STREAM);
        return;
    }
  };

  const onRequest = (request: Incoming, response: Outgoing): void => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      handle(request, response, Buffer.concat(chunks));
    });
  };
  const mode = options.tls ?? 'none';
  // The API server's self-signed certificate and key sit side by side in its --cert-dir.
  const certificate = (): { cert: Buffer; key: Buffer } => ({
    cert: readFileSync(options.caFile),
    key: readFileSync(options.caFile.replace(/\.crt$/, '.key')),
  });
  let server: Server | ReturnType<typeof createSecureServer>;
  if (mode === 'h2') {
    const secure = createSecureServer({ ...certificate(), allowHTTP1: true }, onRequest);
    secure.on('session', (session: Http2Session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
    });
    server = secure;
  } else if (mode === 'http/1.1') {
    server = createHttpsServer({ ...certificate(), ALPNProtocols: ['http/1.1'] }, onRequest);
    server.keepAliveTimeout = 60_000;
  } else {
    server = createServer(onRequest);
    server.keepAliveTimeout = 60_000;
  }
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `${mode === 'none' ? 'http' : 'https'}://127.0.0.1:${String(port)}`;

  return {
    url,
    writes,
    injected,
    versions,
    goaway() {
      const open = [...sessions];
      for (const session of open) {
        if (session.closed || session.destroyed) continue;
        session.goaway(http2Constants.NGHTTP2_NO_ERROR);
        session.close();
      }
      return open.length;
    },
    setPolicy(next) {
      policy = next;
    },
    kubeconfig(user, token) {
      const path = join(dir, `kubeconfig-${user}`);
      writeFileSync(
        path,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters:',
          '- name: via-proxy',
          '  cluster:',
          `    server: ${url}`,
          ...(mode === 'none' ? [] : [`    certificate-authority: ${options.caFile}`]),
          'users:',
          `- name: ${user}`,
          '  user:',
          `    token: ${token}`,
          'contexts:',
          '- name: via-proxy',
          '  context:',
          '    cluster: via-proxy',
          `    user: ${user}`,
          'current-context: via-proxy',
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      return path;
    },
    openWatches: () => watches.size,
    endWatches(clean) {
      const open = [...watches];
      watches.clear();
      for (const { response, answer, upstreamRequest } of open) {
        answer.unpipe(response);
        if (clean) response.end();
        else response.socket?.destroy();
        upstreamRequest.destroy();
      }
      return open.length;
    },
    holdWatches() {
      holding = true;
    },
    releaseWatches() {
      holding = false;
      for (const go of held.splice(0)) go();
    },
    heldWatches: () => held.length,
    async close() {
      holding = false;
      held.length = 0;
      const closed = new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      for (const socket of sockets) socket.destroy();
      await closed;
      agent.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
