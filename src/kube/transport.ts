/**
 * The one HTTP transport to the API server. Where the server is and how to authenticate
 * (kubeconfig files, contexts, in-cluster service account, exec plugins) comes from
 * ./kubeconfig.ts, nsync's own loader: @kubernetes/client-node's KubeConfig costs ~84 MiB of RSS
 * and is imported only for the kubeconfigs that loader hands over (docs/adr/0008). The requests
 * are our own on a keep-alive agent, because nsync needs what the generated client cannot
 * express: metadata-only list/watch by content negotiation, streaming watches with a watchdog,
 * and one connection pool with one error classification (docs/adr/0002).
 */
import { Agent, request } from 'node:https';
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { apiErrorFrom } from './errors.ts';
import type { CredentialSource, ResolvedKubeconfig } from './kubeconfig.ts';

export {
  KubeconfigError,
  loadKubeConfig,
  type ClusterAccess,
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
  /** Connections kept to the API server. @default 32 */
  readonly maxSockets?: number;
  /** User-Agent header, so audit logs and apiserver_request_total name nsync. @default 'nsync' */
  readonly userAgent?: string;
}

/** JSON requests and watch streams against one API server. */
export class Transport {
  readonly server: URL;
  private readonly credentials: CredentialSource;
  private readonly agent: Agent | HttpAgent;
  private readonly userAgent: string;
  /** The server's host without IPv6 brackets, as request options want it. */
  private readonly hostname: string;
  /** The server URL's path (an API server behind a path prefix), without its trailing slash. */
  private readonly pathPrefix: string;

  private constructor(
    server: URL,
    credentials: CredentialSource,
    agent: Agent | HttpAgent,
    userAgent: string,
  ) {
    this.server = server;
    this.credentials = credentials;
    this.agent = agent;
    this.userAgent = userAgent;
    this.hostname = server.hostname.replace(/^\[(.*)\]$/, '$1');
    this.pathPrefix = server.pathname.replace(/\/$/, '');
  }

  /**
   * Builds the transport: TLS material once, a keep-alive pool. Asks for credentials once, so a
   * missing exec plugin or token fails here, at start, rather than on the first watch.
   */
  static async create(config: ResolvedKubeconfig, options: TransportOptions = {}): Promise<Transport> {
    const { server, tls, credentials, agent: proxyAgent } = await config.connect();
    await credentials.current();
    const maxSockets = options.maxSockets ?? 32;
    const agent =
      proxyAgent ??
      (server.protocol === 'http:'
        ? new HttpAgent({ keepAlive: true, maxSockets })
        : new Agent({
            keepAlive: true,
            maxSockets,
            ...(tls.ca === undefined ? {} : { ca: tls.ca }),
            ...(tls.cert === undefined ? {} : { cert: tls.cert }),
            ...(tls.key === undefined ? {} : { key: tls.key }),
            ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
            ...(tls.servername === undefined ? {} : { servername: tls.servername }),
          }));
    return new Transport(server, credentials, agent, options.userAgent ?? 'nsync');
  }

  private async open(spec: RequestSpec): Promise<IncomingMessage> {
    const url = this.server;
    const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const credential = await this.credentials.current();
    const headers: Record<string, string> = {
      ...credential.headers,
      Accept: spec.accept ?? 'application/json',
      'User-Agent': this.userAgent,
    };
    if (payload !== undefined) {
      headers['Content-Type'] = spec.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const send = url.protocol === 'http:' ? httpRequest : request;
    // An exec plugin's client certificate can change when it is asked again; the agent keys its
    // sockets by certificate, so a rotated one gets new connections.
    const clientCert =
      url.protocol === 'https:' && credential.cert !== undefined && credential.key !== undefined
        ? { cert: credential.cert, key: credential.key }
        : {};
    return new Promise((resolve, reject) => {
      // Request options instead of a URL per request: parsing one per write was measurable in a fan-out.
      const req = send(
        {
          protocol: url.protocol,
          hostname: this.hostname,
          port: url.port,
          path: this.pathPrefix + spec.path,
          method: spec.method,
          agent: this.agent,
          headers,
          signal: spec.signal,
          ...clientCert,
        },
        resolve,
      );
      req.setTimeout(spec.timeoutMs ?? 30_000, () => {
        req.destroy(new Error(`${spec.method} ${spec.path} timed out`));
      });
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** One JSON request; non-2xx answers throw an ApiError. */
  async json<T>(spec: RequestSpec): Promise<JsonResponse<T>> {
    const response = await this.open(spec);
    const text = await readText(response);
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      if (status === 401) this.credentials.invalidate();
      const retryAfter = response.headers['retry-after'];
      throw apiErrorFrom(
        status,
        text,
        `${spec.method} ${spec.path}`,
        typeof retryAfter === 'string' ? retryAfter : undefined,
      );
    }
    return { status, body: (text === '' ? {} : JSON.parse(text)) as T };
  }

  /**
   * Opens a watch and calls `onLine` for each JSON line. Resolves when the server ends the stream,
   * rejects on errors. `signal` aborts it (the watchdog uses that).
   */
  async stream(spec: RequestSpec, onLine: (line: unknown) => void): Promise<void> {
    const response = await this.open({ ...spec, timeoutMs: spec.timeoutMs ?? 0 });
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      if (status === 401) this.credentials.invalidate();
      throw apiErrorFrom(status, await readText(response), `${spec.method} ${spec.path}`);
    }
    response.setEncoding('utf8');
    let pending = '';
    await new Promise<void>((resolve, reject) => {
      response.on('data', (chunk: string) => {
        pending += chunk;
        let newline = pending.indexOf('\n');
        while (newline >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (line.trim() !== '') {
            try {
              onLine(JSON.parse(line));
            } catch (error) {
              response.destroy(error instanceof Error ? error : new Error(String(error)));
              return;
            }
          }
          newline = pending.indexOf('\n');
        }
      });
      response.on('end', resolve);
      response.on('error', reject);
      // An aborted or reset stream may end with 'close' alone; settling twice is a no-op.
      response.on('close', () => {
        if (response.complete) resolve();
        else reject(new Error('watch stream closed'));
      });
    });
  }

  /** Closes pooled connections (shutdown). */
  close(): void {
    this.agent.destroy();
  }
}

async function readText(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
