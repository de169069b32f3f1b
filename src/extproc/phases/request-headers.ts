// Phase 1: request headers. Validate per-request inputs, strip client-supplied
// x-kvfleet-* / x-gateway-destination-endpoint* headers, answer bodiless requests
// kvfleet owns (GET /v1/models), refuse everything else deliberately.
import type { ApiKind } from '../../config/names.js';
import type { Fleet } from '../../config/fleet.js';
import { KvError } from '../../errors.js';
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
    if (meta.method !== 'POST') throw new KvError('method_not_allowed', `${meta.path} accepts POST only`, null);
    if (endOfStream || meta.contentLength === 0) {
      throw new KvError('body_required', 'this endpoint needs a JSON request body', null);
    }
    const limit = fleet.server.max_body_bytes;
    if (meta.contentLength !== undefined && meta.contentLength > limit) {
      throw new KvError('body_too_large', `request body is ${meta.contentLength} bytes; the limit is ${limit}`, null);
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
    if (model === undefined) throw new KvError('unknown_model', 'the requested model does not exist in this fleet', 'model');
    return { kind: 'answered', requestId, answer: immediateJson(200, modelObject(model), idHeader) };
  }
  throw new KvError('unknown_route', `no route for ${meta.method} ${meta.path.slice(0, 64)}; kvfleet serves /v1/chat/completions, /v1/completions, /v1/embeddings and GET /v1/models`, null);
}
