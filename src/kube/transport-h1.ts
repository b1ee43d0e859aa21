/**
 * HTTP/1.1 on a keep-alive pool: the fallback where the server or a proxy in between does not
 * offer h2 in its TLS handshake, plain http: servers, and kubeconfigs with a proxy-url (whose
 * agent comes from @kubernetes/client-node). One request per connection at a time, so the pool is
 * sized by --write-concurrency plus the watches (src/cli/run.ts).
 */
import { Agent, request as httpsRequest } from 'node:https';
import type { Agent as HttpAgent } from 'node:http';
import { http } from '../runtime/http-module.ts';
import { payloadLength } from './json-payload.ts';
import type { TlsMaterial } from './kubeconfig.ts';
import type { Channel, Exchange, Outgoing } from './transport-exchange.ts';

/** The TLS options both protocols pass to Node, from the kubeconfig's material. */
export function tlsOptions(tls: TlsMaterial): {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
} {
  return {
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
    ...(tls.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: tls.rejectUnauthorized }),
    ...(tls.servername === undefined ? {} : { servername: tls.servername }),
  };
}

/** Requests on a pool of HTTP/1.1 connections. */
export class Http1Channel implements Channel {
  readonly protocol = 'http/1.1';
  private readonly server: URL;
  private readonly hostname: string;
  private readonly agent: Agent | HttpAgent;

  constructor(server: URL, tls: TlsMaterial, maxSockets: number, agent?: HttpAgent) {
    this.server = server;
    this.hostname = server.hostname.replace(/^\[(.*)\]$/, '$1');
    this.agent =
      agent ??
      (server.protocol === 'http:'
        ? new http.Agent({ keepAlive: true, maxSockets })
        : new Agent({ keepAlive: true, maxSockets, ...tlsOptions(tls) }));
  }

  send(outgoing: Outgoing): Promise<Exchange> {
    const url = this.server;
    const send = url.protocol === 'http:' ? http.request : httpsRequest;
    const headers: Record<string, string> = { ...outgoing.headers };
    if (outgoing.payload !== undefined) headers['content-length'] = String(payloadLength(outgoing.payload));
    return new Promise((resolve, reject) => {
      // Request options instead of a URL per request: parsing one per write was measurable in a fan-out.
      const req = send(
        {
          protocol: url.protocol,
          hostname: this.hostname,
          port: url.port,
          path: outgoing.path,
          method: outgoing.method,
          agent: this.agent,
          headers,
          signal: outgoing.signal,
          // An exec plugin's client certificate can change when it is asked again; the agent keys
          // its sockets by certificate, so a rotated one gets new connections.
          ...(url.protocol === 'https:' && outgoing.clientCert !== undefined ? outgoing.clientCert : {}),
        },
        (response) => {
          const retryAfter = response.headers['retry-after'];
          resolve({
            status: response.statusCode ?? 0,
            retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
            body: response,
            complete: () => response.complete,
          });
        },
      );
      req.setTimeout(outgoing.timeoutMs, () => {
        req.destroy(new Error(`${outgoing.method} ${outgoing.path} timed out`));
      });
      req.on('error', reject);
      if (outgoing.payload === undefined) req.end();
      else req.end(outgoing.payload.length === 1 ? outgoing.payload[0] : Buffer.concat(outgoing.payload));
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
