/**
 * A minimal HTTPS client for the benchmark: one keep-alive agent, the admin token from the
 * kubeconfig, the CA from the cluster's CA file. It does exactly what the floor measurements and
 * the observers need (JSON requests, pre-serialised bodies, watch streams) and nothing else, so
 * the floor measures the API server rather than a client library.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { parse } from 'yaml';
import type { ClusterInfo } from '../../tools/controlplane/harness.ts';

/** Where the API server is and how to prove who we are. */
export interface Credentials {
  readonly server: URL;
  readonly ca: Buffer;
  readonly token: string;
}

interface KubeconfigFile {
  readonly users?: readonly { readonly user?: { readonly token?: string } }[];
}

/** The admin identity of a control plane: token read from its kubeconfig, CA from its file. */
export function adminCredentials(info: ClusterInfo): Credentials {
  const config = parse(readFileSync(info.admin.kubeconfigPath, 'utf8')) as KubeconfigFile;
  const token = config.users?.[0]?.user?.token;
  if (token === undefined) throw new Error(`no token in ${info.admin.kubeconfigPath}`);
  return { server: new URL(info.server), ca: readFileSync(info.caFile), token };
}

/** A decoded answer. */
export interface Answer<T> {
  readonly status: number;
  readonly body: T;
}

/** Accept headers that make the API server send PartialObjectMetadata (no data bytes). */
export const META_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
export const META_WATCH = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

/** Options of one client. */
export interface ClientOptions {
  /** Connections kept open at most. @default 64 */
  readonly maxSockets?: number;
}

/** JSON requests and watch streams against one API server, on one keep-alive pool. */
export class KubeClient {
  readonly credentials: Credentials;
  private readonly agent: Agent;
  private readonly headers: Readonly<Record<string, string>>;

  constructor(credentials: Credentials, options: ClientOptions = {}) {
    this.credentials = credentials;
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64, ca: credentials.ca });
    this.headers = { Authorization: `Bearer ${credentials.token}`, 'User-Agent': 'nsync-bench' };
  }

  private open(
    method: string,
    path: string,
    payload: string | undefined,
    options: { contentType?: string; accept?: string; agent?: Agent | false; signal?: AbortSignal },
  ): Promise<IncomingMessage> {
    const headers: Record<string, string> = { ...this.headers, Accept: options.accept ?? 'application/json' };
    if (payload !== undefined) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.credentials.server),
        {
          method,
          headers,
          agent: options.agent ?? this.agent,
          ca: this.credentials.ca,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        },
        resolve,
      );
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** One request; the body is sent as is when it is a string (pre-serialised), else as JSON. */
  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options: { contentType?: string; accept?: string } = {},
  ): Promise<Answer<T>> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const response = await this.open(method, path, payload, options);
    const text = await readText(response);
    const status = response.statusCode ?? 0;
    let parsed: unknown = text;
    if (text.startsWith('{') || text.startsWith('[')) parsed = JSON.parse(text);
    return { status, body: parsed as T };
  }

  /** Like call, but throws unless the status is 2xx. */
  async ok<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options: { contentType?: string; accept?: string } = {},
  ): Promise<T> {
    const answer = await this.call<T>(method, path, body, options);
    if (answer.status < 200 || answer.status >= 300) {
      const detail = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      throw new Error(`${method} ${path}: ${String(answer.status)} ${detail.slice(0, 300)}`);
    }
    return answer.body;
  }

  /** A plain-text GET (e.g. /metrics). */
  async text(path: string): Promise<string> {
    const response = await this.open('GET', path, undefined, { accept: 'text/plain' });
    const text = await readText(response);
    if (response.statusCode !== 200) throw new Error(`GET ${path}: ${String(response.statusCode)}`);
    return text;
  }

  /**
   * A watch stream on its own connection: `onLine` gets each decoded line and the moment it was
   * read. Resolves when the server ends the stream or the signal aborts it.
   */
  async stream(
    path: string,
    accept: string,
    onLine: (line: unknown, at: number) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const response = await this.open('GET', path, undefined, { accept, agent: false, signal });
    if (response.statusCode !== 200) {
      throw new Error(
        `GET ${path}: ${String(response.statusCode)} ${(await readText(response)).slice(0, 300)}`,
      );
    }
    response.setEncoding('utf8');
    let pending = '';
    await new Promise<void>((resolve, reject) => {
      response.on('data', (chunk: string) => {
        const at = performance.now();
        pending += chunk;
        let newline = pending.indexOf('\n');
        while (newline >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (line.trim() !== '') {
            try {
              onLine(JSON.parse(line), at);
            } catch (error) {
              reject(error instanceof Error ? error : new Error(String(error)));
              response.destroy();
              return;
            }
          }
          newline = pending.indexOf('\n');
        }
      });
      response.on('end', () => {
        resolve();
      });
      response.on('error', (error) => {
        if (signal.aborted) resolve();
        else reject(error);
      });
      response.on('close', () => {
        resolve();
      });
    }).catch((error: unknown) => {
      if (!signal.aborted) throw error;
    });
  }

  /** Closes the pooled connections. */
  close(): void {
    this.agent.destroy();
  }
}

async function readText(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function pool(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next;
      next += 1;
      await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Creates namespaces (idempotent: 409 is fine). */
export async function createNamespaces(
  client: KubeClient,
  names: readonly string[],
  concurrency = 16,
): Promise<void> {
  await pool(names.length, concurrency, async (i) => {
    const answer = await client.call('POST', '/api/v1/namespaces', { metadata: { name: names[i] } });
    if (answer.status !== 201 && answer.status !== 409)
      throw new Error(`create namespace ${names[i] ?? ''}: ${String(answer.status)}`);
  });
}
