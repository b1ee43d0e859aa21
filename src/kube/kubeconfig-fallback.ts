/**
 * Kubeconfigs that nsync's own loader does not cover (auth-provider plugins such as gcp, azure
 * and oidc; proxy-url; impersonation) go through @kubernetes/client-node as before
 * (docs/adr/0008). It is imported here and only here, dynamically, so that its ~84 MiB of RSS
 * is paid by the few who need it.
 */
import type { RequestOptions } from 'node:https';
import { http } from '../runtime/http-module.ts';
import type { Connection, Credential, CredentialSource, TlsMaterial } from './kubeconfig.ts';

/** How long client-node's headers are reused: auth providers refresh their tokens themselves. */
const REFRESH_MS = 60_000;

/** What the loader resolved and hands over. */
export interface FallbackSpec {
  /** One context, its cluster and user, paths absolute (loadFromString has no file to resolve against). */
  readonly kubeconfig: Readonly<Record<string, unknown>>;
  readonly server: URL;
  /** The cluster sets proxy-url: requests must go through client-node's proxy agent. */
  readonly proxied: boolean;
  readonly now: () => number;
}

/** Connects with client-node's KubeConfig and applyToHTTPSOptions, as transport.ts did before. */
export async function connectViaClientNode({
  kubeconfig,
  server,
  proxied,
  now,
}: FallbackSpec): Promise<Connection> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const config = new KubeConfig();
  config.loadFromString(JSON.stringify(kubeconfig));
  const options: RequestOptions = {};
  await config.applyToHTTPSOptions(options);
  const tls: TlsMaterial =
    server.protocol === 'http:'
      ? {}
      : {
          ...optional('ca', buffer(options.ca)),
          ...optional('cert', buffer(options.cert)),
          ...optional('key', buffer(options.key)),
          ...optional('rejectUnauthorized', options.rejectUnauthorized),
          ...optional('servername', options.servername),
        };
  const credentials = new ClientNodeCredentials(
    async () => {
      const fresh: RequestOptions = {};
      await config.applyToHTTPSOptions(fresh);
      return fresh;
    },
    options,
    now,
  );
  return {
    server,
    tls,
    credentials,
    // client-node's proxy agent carries the proxy and its TLS settings; without proxy-url our own
    // keep-alive pool is used, as before.
    ...(proxied && options.agent instanceof http.Agent ? { agent: options.agent } : {}),
  };
}

/** client-node's headers (and basic auth), asked for again once a minute or after a 401. */
class ClientNodeCredentials implements CredentialSource {
  private readonly apply: () => Promise<RequestOptions>;
  private readonly now: () => number;
  private credential: Credential;
  private at: number;

  constructor(apply: () => Promise<RequestOptions>, first: RequestOptions, now: () => number) {
    this.apply = apply;
    this.now = now;
    this.credential = credentialOf(first);
    this.at = now();
  }

  async current(): Promise<Credential> {
    if (this.now() - this.at >= REFRESH_MS) {
      this.credential = credentialOf(await this.apply());
      this.at = this.now();
    }
    return this.credential;
  }

  invalidate(): void {
    this.at = -Infinity;
  }
}

function credentialOf(options: RequestOptions): Credential {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (typeof value === 'string') headers[name] = value;
  }
  if (typeof options.auth === 'string')
    headers['Authorization'] = `Basic ${Buffer.from(options.auth).toString('base64')}`;
  return { headers };
}

function buffer(value: unknown): Buffer | undefined {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value);
  return undefined;
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Partial<Record<K, V>>);
}
