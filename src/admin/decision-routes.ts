// Admin routes that explain routing (never on the request path):
//   GET  /debug/decisions[?limit=n]      the newest decisions first, summarised (decision-list.ts)
//   GET  /debug/decisions/{request_id}  the full explanation of a recent decision
//                                       (bounded ring: routing.decision_ring entries)
//   POST /v1/route/explain              decide without sending: the same decide() the
//                                       ext_proc body phase calls, on the same live view
//                                       and learned state, but nothing is recorded.
//                                       Body: an OpenAI request (chat `messages`,
//                                       completion `prompt` or embedding `input`; `model`
//                                       defaults to "auto"); headers x-kvfleet-strategy,
//                                       x-kvfleet-models, x-kvfleet-priority, x-kvfleet-data-class,
//                                       x-session-id; `?tenant=<id>` explains as that tenant.
import type { IncomingMessage } from 'node:http';
import { explainDecision } from '../core/explain.js';
import { isKvError, kvError } from '../errors.js';
import { decodeSegment, parseRequestHeaders } from '../request/headers.js';
import { inputOf, parseJsonObject } from '../request/parse-body.js';
import type { ApiKind } from '../request/types.js';
import type { Router } from '../router/router.js';
import { decisionListRoute } from './decision-list.js';
import { sendError, sendJson, type AdminRoute } from './http-server.js';

/** The API an explain body targets: `?api=` or the body's shape. */
export function apiOf(body: Record<string, unknown>, query: string | null): ApiKind {
  if (query === 'chat' || query === 'completion' || query === 'embedding') return query;
  if (query !== null) throw kvError('invalid_field', { param: 'api', must: 'be chat, completion or embedding' });
  if ('messages' in body) return 'chat';
  if ('prompt' in body) return 'completion';
  if ('input' in body) return 'embedding';
  return 'chat';
}

/** Explain a request body (bytes) with request headers, without side effects. */
export function explainRequest(
  router: Router,
  raw: Buffer,
  headers: ReadonlyMap<string, string>,
  apiQuery: string | null,
  tenantId: string | null = null,
): Record<string, unknown> {
  const body = parseJsonObject(raw);
  const api = apiOf(body, apiQuery);
  const input = inputOf(api, body['model'] === undefined ? { ...body, model: 'auto' } : body, false);
  const meta = parseRequestHeaders(headers);
  const tenant = tenantId !== null ? router.fleet().policy.tenants.get(tenantId) : undefined;
  if (tenantId !== null && tenant === undefined) throw kvError('invalid_field', { param: 'tenant', must: 'name a tenant of the fleet file' });
  const { decision, decisionUs } = router.explain(meta.requestId ?? 'explain', input, { ...meta, tenant });
  return explainDecision(decision, decisionUs);
}

const MAX_EXPLAIN_BYTES = 64 * 1024 * 1024;

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    const b = c as Buffer;
    n += b.length;
    if (n > limit) throw kvError('body_too_large', { limit });
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function headerMapOf(req: IncomingMessage): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of Object.entries(req.headers)) {
    if (typeof v === 'string') m.set(k.toLowerCase(), v);
    else if (Array.isArray(v)) m.set(k.toLowerCase(), v.join(','));
  }
  return m;
}

export function decisionRoutes(router: Router): AdminRoute[] {
  const debug: AdminRoute = (req, res, url) => {
    if (!url.pathname.startsWith('/debug/decisions/')) return false;
    if (req.method !== 'GET') return false;
    const id = decodeSegment(url.pathname.slice('/debug/decisions/'.length)) ?? '';
    const d = router.decisions.get(id);
    if (d === undefined) {
      sendError(res, kvError('unknown_decision', { id, capacity: router.decisions.capacity }));
    } else {
      sendJson(res, 200, explainDecision(d));
    }
    return true;
  };
  const explain: AdminRoute = async (req, res, url) => {
    if (url.pathname !== '/v1/route/explain') return false;
    if (req.method !== 'POST') {
      sendError(res, kvError('method_not_allowed', { path: '/v1/route/explain', allowed: 'POST' }));
      return true;
    }
    try {
      const raw = await readBody(req, Math.min(MAX_EXPLAIN_BYTES, router.fleet().server.max_body_bytes));
      // Headers go through the same validation as the request phase (pseudo-headers added).
      const h = headerMapOf(req);
      h.set(':method', 'POST');
      h.set(':path', url.pathname);
      sendJson(res, 200, explainRequest(router, raw, h, url.searchParams.get('api'), url.searchParams.get('tenant')));
    } catch (e) {
      if (!isKvError(e)) throw e;
      sendError(res, e);
    }
    return true;
  };
  return [decisionListRoute(router), debug, explain];
}
