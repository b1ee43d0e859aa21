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
 * - `reset`: destroys the connection at once.
 *
 * It also counts write attempts per object, can end or cut every open watch (as a server that
 * closes watches), and can hold new watches back (so a client resumes them only after etcd has
 * compacted the revision it resumes from).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { ClientRequest, IncomingHttpHeaders } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What the proxy does with one request. */
export type Fault = 'pass' | '429' | '500' | '500-after' | 'hang' | 'hang-after' | 'reset';

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
}

/** A running proxy. */
export interface FaultProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
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
    if (value !== undefined && !HOP_BY_HOP.has(name.toLowerCase())) out[name] = value;
  }
  return out;
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
  };
  const watches = new Set<{
    response: ServerResponse;
    answer: IncomingMessage;
    upstreamRequest: ClientRequest;
  }>();
  let holding = false;
  const held: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const dir = mkdtempSync(join(tmpdir(), 'nsync-proxy-'));

  /** Sends the request upstream; calls `onResponse` with the answer (not yet read). */
  const forward = (
    request: IncomingMessage,
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

  const relay = (request: IncomingMessage, response: ServerResponse, body: Buffer, watch: boolean): void => {
    const upstreamRequest = forward(
      request,
      body,
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
        response.flushHeaders();
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
          response.writeHead(502, { 'content-type': 'application/json' });
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

  const handle = (request: IncomingMessage, response: ServerResponse, body: Buffer): void => {
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
        response.writeHead(429, {
          'content-type': 'application/json',
          'retry-after': String(retryAfter(info)),
        });
        response.end(statusBody(429, 'TooManyRequests'));
        return;
      case '500':
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end(statusBody(500, 'InternalError'));
        return;
      case '500-after':
        forward(
          request,
          body,
          (answer) => {
            answer.resume();
            answer.once('end', () => {
              response.writeHead(500, { 'content-type': 'application/json' });
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
        request.socket.destroy();
        return;
    }
  };

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      handle(request, response, Buffer.concat(chunks));
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${String(port)}`;

  return {
    url,
    writes,
    injected,
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
