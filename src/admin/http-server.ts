// The admin HTTP port: /metrics (Prometheus), /healthz, /readyz. Later issues
// mount their routes through `routes`. Never on the request path.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { kvError, type KvError } from '../errors.js';

export type AdminRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean;

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** An error from the catalogue, OpenAI-shaped, with its status (and retry-after). */
export function sendError(res: ServerResponse, e: KvError): void {
  if (e.retryAfter !== undefined) res.setHeader('retry-after', String(Math.ceil(e.retryAfter)));
  const text = e.toBody();
  res.writeHead(e.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startAdminServer(listen: { host: string; port: number }, routes: readonly AdminRoute[]): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    void (async () => {
      for (const route of routes) {
        if (await route(req, res, url)) return;
      }
      sendError(res, kvError('unknown_route', { method: req.method ?? 'GET', path: url.pathname, serves: 'see the README for the admin routes' }));
    })().catch(() => {
      if (!res.headersSent) sendError(res, kvError('internal', {}));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : listen.port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
