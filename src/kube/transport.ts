/**
 * The one HTTP transport to the API server. Authentication (kubeconfig files, contexts,
 * in-cluster service account, exec plugins) comes from @kubernetes/client-node's KubeConfig; the
 * requests are our own on a keep-alive agent, because nsync needs what the generated client
 * cannot express: metadata-only list/watch by content negotiation, streaming watches with a
 * watchdog, and one connection pool with one error classification (docs/adr/0002).
 */
import { KubeConfig } from '@kubernetes/client-node';
import { Agent, request, type RequestOptions } from 'node:https';
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { apiErrorFrom } from './errors.ts';

/** Where to find the cluster. */
export interface ClusterAccess {
  /** A kubeconfig file; undefined = the default chain ($KUBECONFIG, ~/.kube/config, in-cluster). */
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
  /** Force the in-cluster service account. */
  readonly inCluster?: boolean;
}

/** Loads a KubeConfig as kubectl would. */
export function loadKubeConfig(access: ClusterAccess): KubeConfig {
  const config = new KubeConfig();
  if (access.inCluster === true) config.loadFromCluster();
  else if (access.kubeconfig !== undefined) config.loadFromFile(access.kubeconfig);
  else config.loadFromDefault();
  if (access.context !== undefined) config.setCurrentContext(access.context);
  if (!config.getCurrentCluster())
    throw new Error('no cluster in the kubeconfig (check --kubeconfig and --context)');
  return config;
}

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

/** How long authentication headers are reused before asking the KubeConfig again (token rotation). */
const AUTH_REFRESH_MS = 60_000;

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
  private readonly config: KubeConfig;
  private readonly agent: Agent | HttpAgent;
  private readonly userAgent: string;
  private headers: Record<string, string> = {};
  private headersAt = -Infinity;

  private constructor(config: KubeConfig, server: URL, agent: Agent | HttpAgent, userAgent: string) {
    this.config = config;
    this.server = server;
    this.agent = agent;
    this.userAgent = userAgent;
  }

  /** Builds the transport: TLS material once, a keep-alive pool, auth headers refreshed. */
  static async create(config: KubeConfig, options: TransportOptions = {}): Promise<Transport> {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('no current cluster in the kubeconfig');
    const server = new URL(cluster.server);
    const tls: RequestOptions = {};
    await config.applyToHTTPSOptions(tls);
    const maxSockets = options.maxSockets ?? 32;
    const agent =
      server.protocol === 'http:'
        ? new HttpAgent({ keepAlive: true, maxSockets })
        : new Agent({
            keepAlive: true,
            maxSockets,
            ...(tls.ca === undefined ? {} : { ca: tls.ca }),
            ...(tls.cert === undefined ? {} : { cert: tls.cert }),
            ...(tls.key === undefined ? {} : { key: tls.key }),
            ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
            ...(tls.servername === undefined ? {} : { servername: tls.servername }),
          });
    return new Transport(config, server, agent, options.userAgent ?? 'nsync');
  }

  private async authHeaders(): Promise<Record<string, string>> {
    if (performance.now() - this.headersAt < AUTH_REFRESH_MS) return this.headers;
    const options: RequestOptions = {};
    await this.config.applyToHTTPSOptions(options);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (typeof value === 'string') headers[name] = value;
    }
    if (typeof options.auth === 'string')
      headers['Authorization'] = `Basic ${Buffer.from(options.auth).toString('base64')}`;
    this.headers = headers;
    this.headersAt = performance.now();
    return headers;
  }

  private async open(spec: RequestSpec): Promise<IncomingMessage> {
    const url = new URL(this.server.pathname.replace(/\/$/, '') + spec.path, this.server);
    const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const headers: Record<string, string> = {
      ...(await this.authHeaders()),
      Accept: spec.accept ?? 'application/json',
      'User-Agent': this.userAgent,
    };
    if (payload !== undefined) {
      headers['Content-Type'] = spec.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const send = url.protocol === 'http:' ? httpRequest : request;
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        { method: spec.method, agent: this.agent, headers, signal: spec.signal },
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
