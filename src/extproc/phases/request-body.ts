// Phase 2: the complete request body, whatever the body mode (body/*.ts hand it here).
// Parse once, route through the Router (decide, commit, hold the primary's in-flight
// slot), and build the one mutation: cluster header, endpoint list (header + envoy.lb
// metadata), :authority for hosted providers, and the rewritten model name with a
// matching content-length.
import type { ApiKind } from '../../config/names.js';
import { kvError } from '../../errors.js';
import type { RequestMeta } from '../../request/headers.js';
import { parseRequestBody, rewriteModel } from '../../request/parse-body.js';
import type { Router, Routed } from '../../router/router.js';
import { DESTINATION_KEY, destinationMetadata, setHeader } from '../mutations.js';
import type { HeaderValueOption, ProtoStruct } from '../proto-types.js';
import type { LiveView } from '../../core/types.js';

export const CLUSTER_HEADER = 'x-kvfleet-cluster';

/** What routing one complete request body produces. */
export interface BodyRoute {
  readonly routed: Routed;
  readonly stream: boolean;
  /** Request headers to set: cluster, endpoint list, and :authority / content-length when needed. */
  readonly set: HeaderValueOption[];
  /** The body with the model name rewritten, or undefined when it goes upstream unchanged. */
  readonly rewritten: Buffer | undefined;
  /** envoy.lb metadata with the same endpoint list (read by override_host). */
  readonly metadata: ProtoStruct;
}

export function checkBodySize(limit: number, bytes: number): void {
  if (bytes > limit) throw kvError('body_too_large', { bytes, limit });
}

export interface BodyContext {
  readonly router: Router;
  readonly requestId: string;
  readonly api: ApiKind;
  readonly meta: RequestMeta;
  readonly maxBodyBytes: number;
  /** The live view for this request (narrowed to the proxy's subset hint, when it sent one). */
  readonly view: LiveView;
}

export function routeBody(c: BodyContext, body: Buffer): BodyRoute {
  checkBodySize(c.maxBodyBytes, body.length);
  if (body.length === 0) throw kvError('body_required', {});
  const input = parseRequestBody(c.api, body);
  const routed = c.router.route(c.requestId, input, c.meta, { view: c.view });
  const d = routed.decision;
  const set: HeaderValueOption[] = [setHeader(CLUSTER_HEADER, d.model.cluster), setHeader(DESTINATION_KEY, d.endpoints.join(','))];
  if (d.model.host !== undefined) set.push(setHeader(':authority', d.model.host));
  let rewritten: Buffer | undefined;
  if (input.model !== d.model.model_id) {
    rewritten = rewriteModel(input, d.model.model_id);
    set.push(setHeader('content-length', String(rewritten.length)));
  }
  return { routed, stream: input.stream, set, rewritten, metadata: destinationMetadata(d.endpoints) };
}
