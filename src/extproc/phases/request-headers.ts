// Phase 1: request headers. Validate per-request inputs, strip client-supplied
// x-kvfleet-* / x-gateway-destination-endpoint* headers, answer bodiless
// requests kvfleet owns (GET /v1/models), refuse everything else deliberately.
import { KvError } from '../../errors.js';
import { parseRequestHeaders } from '../../request/headers.js';
import { API_PATHS } from '../../request/types.js';
import { modelList, modelObject } from '../models-endpoint.js';
import { CONTINUE, headerMap, immediateJson, setHeader } from '../mutations.js';
import type { HttpHeaders, ProcessingResponse } from '../proto-types.js';
import type { ExchangeEnv, ExchangeState } from '../exchange-state.js';

export function onRequestHeaders(env: ExchangeEnv, st: ExchangeState, msg: HttpHeaders): ProcessingResponse {
  const headers = headerMap(msg);
  st.requestId = headers.get('x-request-id') || env.newRequestId();
  const meta = parseRequestHeaders(headers, { strategies: env.strategies });
  st.meta = meta;
  const idHeader = [setHeader('x-kvfleet-request-id', st.requestId)];

  const api = API_PATHS[meta.path];
  if (api !== undefined) {
    if (meta.method !== 'POST') throw new KvError('method_not_allowed', `${meta.path} accepts POST only`, null);
    if (msg.end_of_stream === true || meta.contentLength === 0) {
      throw new KvError('body_required', 'this endpoint needs a JSON request body', null);
    }
    const limit = st.fleet.server.max_body_bytes;
    if (meta.contentLength !== undefined && meta.contentLength > limit) {
      throw new KvError('body_too_large', `request body is ${meta.contentLength} bytes; the limit is ${limit}`, null);
    }
    st.api = api;
    st.phase = 'request_body';
    // Envoy picked a route before this phase; after removing a forged routing header
    // the cached route must be dropped too.
    const response = meta.strip.length > 0
      ? { ...CONTINUE, header_mutation: { remove_headers: [...meta.strip] }, clear_route_cache: true }
      : CONTINUE;
    return { request_headers: { response } };
  }

  if (meta.method === 'GET' && meta.path === '/v1/models') {
    st.phase = 'done';
    return immediateJson(200, modelList(st.fleet), idHeader);
  }
  if (meta.method === 'GET' && meta.path.startsWith('/v1/models/')) {
    st.phase = 'done';
    const name = decodeURIComponent(meta.path.slice('/v1/models/'.length));
    const model = st.fleet.byName.get(name);
    if (model === undefined) throw new KvError('unknown_model', 'the requested model does not exist in this fleet', 'model');
    return immediateJson(200, modelObject(model), idHeader);
  }
  throw new KvError('unknown_route', `no route for ${meta.method} ${meta.path.slice(0, 64)}; kvfleet serves /v1/chat/completions, /v1/completions, /v1/embeddings and GET /v1/models`, null);
}
