// Phase 1: request headers. Validate per-request inputs, strip client-supplied
// x-kvfleet-* / x-gateway-destination-endpoint* headers, answer bodiless requests
// kvfleet owns (GET /v1/models), refuse everything else deliberately.
import type { ApiKind } from '../../config/names.js';
import type { Fleet } from '../../config/fleet.js';
import { kvError } from '../../errors.js';
import { parseRequestHeaders, type RequestMeta } from '../../request/headers.js';
import { API_PATHS } from '../../request/types.js';
import { modelList, modelObject } from '../models-endpoint.js';
import { CONTINUE, immediateJson, setHeader } from '../mutations.js';
import type { ProcessingResponse } from '../proto-types.js';

export type HeadersStep =
  /** An API request: its body comes next. `answer` is the headers answer (held in full duplex). */
  | { readonly kind: 'route'; readonly requestId: string; readonly meta: RequestMeta; readonly api: ApiKind; readonly answer: ProcessingResponse }
  /** Answered by kvfleet itself (GET /v1/models). */
  | { readonly kind: 'answered'; readonly requestId: string; readonly answer: ProcessingResponse };

/** `headers`: Envoy's request headers, lowercase (mutations.headerMap). */
export function onRequestHeaders(fleet: Fleet, headers: ReadonlyMap<string, string>, endOfStream: boolean, requestId: string): HeadersStep {
  const meta = parseRequestHeaders(headers);
  const idHeader = [setHeader('x-kvfleet-request-id', requestId)];

  const api = API_PATHS[meta.path];
  if (api !== undefined) {
    if (meta.method !== 'POST') throw kvError('method_not_allowed', { path: meta.path, allowed: 'POST' });
    if (endOfStream || meta.contentLength === 0) {
      throw kvError('body_required', {});
    }
    const limit = fleet.server.max_body_bytes;
    if (meta.contentLength !== undefined && meta.contentLength > limit) {
      throw kvError('body_too_large', { bytes: meta.contentLength, limit });
    }
    // Envoy picked a route before this phase; after removing a forged routing header
    // the cached route must be dropped too.
    const response = meta.strip.length > 0 ? { ...CONTINUE, header_mutation: { remove_headers: [...meta.strip] }, clear_route_cache: true } : CONTINUE;
    return { kind: 'route', requestId, meta, api, answer: { request_headers: { response } } };
  }

  if (meta.method === 'GET' && meta.path === '/v1/models') {
    return { kind: 'answered', requestId, answer: immediateJson(200, modelList(fleet), idHeader) };
  }
  if (meta.method === 'GET' && meta.path.startsWith('/v1/models/')) {
    const name = decodeURIComponent(meta.path.slice('/v1/models/'.length));
    const model = fleet.byName.get(name);
    if (model === undefined) throw kvError('unknown_model', { param: 'model' });
    return { kind: 'answered', requestId, answer: immediateJson(200, modelObject(model), idHeader) };
  }
  throw kvError('unknown_route', {
    method: meta.method,
    path: meta.path,
    serves: 'kvfleet serves /v1/chat/completions, /v1/completions, /v1/embeddings and GET /v1/models',
  });
}
