// HTTP routes of one simulated replica (vLLM-like OpenAI server):
//   POST /v1/chat/completions · /v1/completions · /v1/embeddings
//   GET /v1/models · /health (503 when faulted unhealthy) · /metrics · /version
//   POST /sim/faults · POST /sim/reset · GET /sim/stats · GET /sim/faults
//   sleep mode (sleep-mode.ts): POST /sleep?level=1 · POST /wake_up · GET /is_sleeping ·
//   POST /release_memory_occupation · POST /resume_memory_occupation (503 to inference while asleep)
// Inference order: body (413 > 8 MiB) → JSON object (400) → tally model → seeded fault draw
// (error_status, retry-after on 429) → model check (404 vLLM message) → generation/embeddings.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseJson, readBody, sendJson, sendText } from './http-io.js';
import { modelNotFound, openAiError } from './openai-error.js';
import { serveGeneration } from './generation.js';
import { serveEmbeddings } from './embeddings.js';
import { faultsJson } from './fault-patch.js';
import { handleFaultsRequest, handleResetRequest, type ReplicaControl } from './replica-control.js';
import type { ReplicaState } from './replica-state.js';

const INJECTED_MESSAGES: Readonly<Record<number, string>> = {
  429: 'Rate limit exceeded (simulated fault)',
  500: 'Internal server error (simulated fault)',
  503: 'Service unavailable (simulated fault)',
};

type Route = 'chat' | 'completion' | 'embeddings';

const POST_ROUTES: Readonly<Record<string, Route>> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completion',
  '/v1/embeddings': 'embeddings',
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function readJson(req: IncomingMessage, res: ServerResponse): Promise<{ ok: true; value: unknown } | { ok: false }> {
  const body = await readBody(req);
  if (!body.ok) {
    if (body.tooLarge) sendJson(res, 413, openAiError(413, 'request body too large'));
    return { ok: false };
  }
  if (body.text.trim() === '') return { ok: true, value: undefined };
  const parsed = parseJson(body.text);
  if (!parsed.ok) sendJson(res, 400, openAiError(400, 'request body is not valid JSON'));
  return parsed;
}

export function createReplicaHandler(state: ReplicaState, control: ReplicaControl): (req: IncomingMessage, res: ServerResponse) => void {
  return (req: IncomingMessage, res: ServerResponse): void => {
    route(state, control, req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, openAiError(500, 'internal simulator error'));
      else res.destroy();
    });
  };
}

async function route(state: ReplicaState, control: ReplicaControl, req: IncomingMessage, res: ServerResponse): Promise<void> {
  // A refused replica must not keep serving over kept-alive connections.
  if (state.faults.refuse) res.shouldKeepAlive = false;
  res.once('finish', () => {
    if (state.faults.refuse) req.socket.end();
  });
  const raw = (req.url ?? '/').split('?')[0] ?? '/';
  const prefix = state.opts.pathPrefix;
  const api = prefix === '' || raw.startsWith(`${prefix}/`);
  const path = prefix !== '' && api ? raw.slice(prefix.length) : raw;
  const method = req.method ?? 'GET';
  const inference = api ? POST_ROUTES[path] : undefined;
  if (inference !== undefined) {
    if (method !== 'POST') return sendJson(res, 405, { detail: 'Method Not Allowed' });
    // A hosted provider stand-in: no provider key, no service.
    const key = state.opts.requireKey;
    if (key !== undefined && req.headers.authorization !== `Bearer ${key}`) {
      state.recordRequest(raw, req.headers.authorization !== undefined, false, '');
      return sendJson(res, 401, openAiError(401, 'missing or wrong API key'));
    }
    return serveInference(state, inference, raw, req, res);
  }
  switch (`${method} ${path}`) {
    case 'GET /health':
      res.writeHead(state.faults.unhealthy ? 503 : 200, { 'content-length': '0' });
      return void res.end();
    case 'GET /v1/models':
      return sendJson(res, 200, {
        object: 'list',
        data: [
          {
            id: state.model,
            object: 'model',
            created: Math.floor(Date.now() / 1000),
            owned_by: 'vllm',
            root: state.model,
            parent: null,
            max_model_len: state.opts.maxModelLen,
          },
        ],
      });
    case 'GET /metrics':
      return sendText(res, 200, await state.metrics.text(), state.metrics.contentType);
    case 'POST /sleep':
    case 'POST /release_memory_occupation':
      req.resume();
      await state.sleep.sleep();
      res.writeHead(200, { 'content-length': '0' });
      return void res.end();
    case 'POST /wake_up':
    case 'POST /resume_memory_occupation':
      req.resume();
      await state.sleep.wake();
      res.writeHead(200, { 'content-length': '0' });
      return void res.end();
    case 'GET /is_sleeping':
      return sendJson(res, 200, { is_sleeping: state.sleep.sleeping });
    case 'GET /version':
      return sendJson(res, 200, { version: 'kvfleet-sim' });
    case 'GET /sim/stats':
      return sendJson(res, 200, state.stats());
    case 'GET /sim/requests':
      return sendJson(res, 200, { requests: state.recentRequests() });
    case 'GET /sim/faults':
      return sendJson(res, 200, { replica: state.index, faults: faultsJson(state.faults) });
    case 'POST /sim/faults': {
      const body = await readJson(req, res);
      if (!body.ok) return;
      return handleFaultsRequest(control, body.value, res, true);
    }
    case 'POST /sim/reset': {
      const body = await readJson(req, res);
      if (!body.ok) return;
      return handleResetRequest(control, res);
    }
    default:
      return sendJson(res, 404, { detail: 'Not Found' });
  }
}

async function serveInference(state: ReplicaState, kind: Route, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  state.requests++;
  const ac = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  const parsed = await readJson(req, res);
  if (!parsed.ok) return;
  const body = parsed.value;
  state.recordRequest(path, req.headers.authorization !== undefined, true, JSON.stringify(body) ?? '');
  if (!isRecord(body)) return sendJson(res, 400, openAiError(400, 'request body must be a JSON object'));
  const model = body.model;
  if (model !== undefined && model !== null && typeof model !== 'string') {
    return sendJson(res, 400, openAiError(400, 'model must be a string', 'model'));
  }
  const received = typeof model === 'string' ? model : null;
  state.recordModel(received ?? '(none)');
  if (state.sleep.sleeping) {
    state.refusedAsleep++;
    return sendJson(res, 503, openAiError(503, 'the engine is sleeping (sleep mode); wake it with POST /wake_up'));
  }
  if (state.drawError()) {
    const status = state.faults.errorStatus;
    const headers: Record<string, string> = status === 429 ? { 'retry-after': String(Math.ceil(state.faults.retryAfter)) } : {};
    return sendJson(res, status, openAiError(status, INJECTED_MESSAGES[status] ?? 'simulated fault'), headers);
  }
  if (received !== null && received !== state.model) return sendJson(res, 404, modelNotFound(received));
  if (kind === 'embeddings') return serveEmbeddings(state, body, res, ac.signal);
  return serveGeneration(state, kind, body, received, res, ac.signal);
}
