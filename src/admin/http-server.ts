// The admin HTTP port: /metrics (Prometheus), /healthz, /readyz. Later issues
// mount their routes through `routes`. Never on the request path.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

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

export async function startAdminServer(
  listen: { host: string; port: number },
  routes: readonly AdminRoute[],
): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    void (async () => {
      for (const route of routes) {
        if (await route(req, res, url)) return;
      }
      sendJson(res, 404, { error: { message: `no admin route ${url.pathname}`, type: 'not_found_error', code: 'unknown_route', param: null } });
    })().catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: 'admin handler failed', type: 'server_error', code: 'internal', param: null } });
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
