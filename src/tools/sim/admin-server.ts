// Optional admin HTTP server of `kvfleet sim` (--admin-port), reachable even while a replica's own
// port is closed:  GET /replicas (stats of all) · GET /replicas/<i> · POST /replicas/<i>/faults
// (same JSON as /sim/faults; {"refuse":false} re-opens a closed port) · POST /replicas/<i>/reset ·
// GET /health.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { parseJson, readBody, sendJson } from './http-io.js';
import { openAiError } from './openai-error.js';
import { handleFaultsRequest, handleResetRequest } from './replica-control.js';
import type { Replica } from './replica.js';

const REPLICA_PATH = /^\/replicas\/(\d{1,6})(\/faults|\/reset)?$/;

async function route(replicas: readonly Replica[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const method = req.method ?? 'GET';
  if (path === '/health' && method === 'GET') return sendJson(res, 200, { status: 'ok' });
  if (path === '/replicas' && method === 'GET')
    return sendJson(
      res,
      200,
      replicas.map((r) => r.stats()),
    );
  const m = REPLICA_PATH.exec(path);
  if (m === null) return sendJson(res, 404, { detail: 'Not Found' });
  const replica = replicas[Number(m[1])];
  if (replica === undefined) return sendJson(res, 404, openAiError(404, `no replica ${m[1]}`, 'replica'));
  const action = m[2];
  if (action === undefined) {
    if (method !== 'GET') return sendJson(res, 405, { detail: 'Method Not Allowed' });
    return sendJson(res, 200, replica.stats());
  }
  if (method !== 'POST') return sendJson(res, 405, { detail: 'Method Not Allowed' });
  const body = await readBody(req);
  if (!body.ok) {
    if (body.tooLarge) sendJson(res, 413, openAiError(413, 'request body too large'));
    return;
  }
  let value: unknown;
  if (body.text.trim() !== '') {
    const parsed = parseJson(body.text);
    if (!parsed.ok) return sendJson(res, 400, openAiError(400, 'request body is not valid JSON'));
    value = parsed.value;
  }
  if (action === '/reset') return handleResetRequest(replica, res);
  return handleFaultsRequest(replica, value, res, false);
}

export interface AdminServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startAdminServer(replicas: readonly Replica[], host: string, port: number): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    route(replicas, req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, openAiError(500, 'internal simulator error'));
      else res.destroy();
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const bound = addr !== null && typeof addr === 'object' ? addr.port : port;
  return {
    port: bound,
    async close() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
