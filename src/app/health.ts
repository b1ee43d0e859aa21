/**
 * The operational HTTP endpoint: /metrics for Prometheus, /healthz (liveness: the work loop and
 * watches progress) and /readyz (caches synced).
 */
import type { Server } from 'node:http';
import { http } from '../runtime/http-module.ts';
import type { Health } from './controller.ts';
import type { Metrics } from './metrics.ts';

/** What the endpoint reports on. */
export interface HealthSource {
  liveness(): Health;
  readiness(): Health;
}

/** Starts the server; resolves with it once listening. */
export async function serveHealth(
  listen: { host: string; port: number },
  metrics: Metrics,
  source: HealthSource,
): Promise<Server> {
  const server = http.createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const answer = (health: Health): void => {
      response.writeHead(health.ok ? 200 : 503, { 'content-type': 'text/plain' });
      response.end(`${health.detail}\n`);
    };
    switch (path) {
      case '/healthz':
      case '/livez':
        answer(source.liveness());
        return;
      case '/readyz':
        answer(source.readiness());
        return;
      case '/metrics':
        metrics.registry.metrics().then(
          (text) => {
            response.writeHead(200, { 'content-type': metrics.registry.contentType });
            response.end(text);
          },
          () => {
            response.writeHead(500).end();
          },
        );
        return;
      default:
        response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, resolve);
  });
  return server;
}
