// Phase 1: request headers. Validate per-request inputs, strip client-supplied
// x-kvfleet-* / x-gateway-destination-endpoint* headers, answer bodiless requests
// kvfleet owns (GET /v1/models), refuse everything else deliberately.
import type { ApiKind } from '../../config/names.js';
import type { Fleet, FleetTenant } from '../../config/fleet.js';
import { resolveIdentity, type FilterMetadata } from '../../request/identity.js';
import { kvError } from '../../errors.js';
import { decodeSegment, parseRequestHeaders, type RequestMeta } from '../../request/headers.js';
import { API_PATHS } from '../../request/types.js';
import { modelList, modelObject, visibleTo } from '../models-endpoint.js';
import { CONTINUE, immediateJson, setHeader } from '../mutations.js';
import type { ProcessingResponse } from '../proto-types.js';

export type HeadersStep =
  /** An API request: its body comes next. `answer` is the headers answer (held in full duplex). */
  | {
      readonly kind: 'route';
      readonly meta: RequestMeta;
      readonly tenant: FleetTenant | undefined;
      readonly api: ApiKind;
      readonly answer: ProcessingResponse;
    }
  /** Answered by kvfleet itself (GET /v1/models). */
  | { readonly kind: 'answered'; readonly tenant: FleetTenant | undefined; readonly answer: ProcessingResponse };

/**
 * `headers`: Envoy's request headers, lowercase (mutations.headerMap); `metadata`: the dynamic
 * metadata the filter forwarded (jwt_authn's payload, the endpoint-picker subset hint).
 */
export function onRequestHeaders(
  fleet: Fleet,
  headers: ReadonlyMap<string, string>,
  metadata: FilterMetadata,
  endOfStream: boolean,
  requestId: string,
  onTenant: (t: FleetTenant | undefined) => void,
): HeadersStep {
  const meta = parseRequestHeaders(headers);
  const { tenant } = resolveIdentity(fleet.policy, headers, metadata);
  onTenant(tenant);
  // The tenant's key never reaches a replica or a provider (Envoy injects the provider's own).
  const strip = fleet.policy.identity !== undefined && headers.has('authorization') ? [...meta.strip, 'authorization'] : meta.strip;
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
    const response = strip.length > 0 ? { ...CONTINUE, header_mutation: { remove_headers: [...strip] }, clear_route_cache: true } : CONTINUE;
    return { kind: 'route', meta: { ...meta, strip }, tenant, api, answer: { request_headers: { response } } };
  }

  if (meta.method === 'GET' && meta.path === '/v1/models') {
    return { kind: 'answered', tenant, answer: immediateJson(200, modelList(fleet, tenant), idHeader) };
  }
  if (meta.method === 'GET' && meta.path.startsWith('/v1/models/')) {
    const name = decodeSegment(meta.path.slice('/v1/models/'.length));
    const model = name === undefined ? undefined : fleet.byName.get(name);
    if (model === undefined || !visibleTo(model, tenant)) throw kvError('unknown_model', { param: 'model' });
    return { kind: 'answered', tenant, answer: immediateJson(200, modelObject(model), idHeader) };
  }
  throw kvError('unknown_route', {
    method: meta.method,
    path: meta.path,
    serves: 'kvfleet serves /v1/chat/completions, /v1/completions, /v1/embeddings and GET /v1/models',
  });
}
