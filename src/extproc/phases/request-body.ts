// Phase 2: the complete request body, whatever the body mode (body/*.ts hand it here).
// Parse once, route through the Router (decide, commit, hold the primary's in-flight
// slot), and build the one mutation: cluster header, endpoint list (header + envoy.lb
// metadata), :authority for hosted providers, and the rewritten model name with a
// matching content-length.
import type { ApiKind } from '../../config/names.js';
import { kvError } from '../../errors.js';
import type { RequestMeta } from '../../request/headers.js';
import { parseRequestBody, serializeBody } from '../../request/parse-body.js';
import type { Admission, Router, Routed } from '../../router/router.js';
import type { FleetTenant } from '../../config/fleet.js';
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
  /** envoy.lb metadata with the same endpoint list (read by override_host); none for a hosted provider's virtual endpoint. */
  readonly metadata: ProtoStruct | undefined;
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
  readonly tenant: FleetTenant | undefined;
  /** The policy let the request through (called before routing, so a routing error is still reported with it). */
  readonly admitted: (a: Admission) => void;
}

export function routeBody(c: BodyContext, body: Buffer): BodyRoute {
  const startedAt = c.router.now();
  checkBodySize(c.maxBodyBytes, body.length);
  if (body.length === 0) throw kvError('body_required', {});
  const input = parseRequestBody(c.api, body);
  const admission = c.router.admit(
    c.requestId,
    input,
    {
      sessionId: c.meta.sessionId,
      overrides: c.meta.overrides,
      tenant: c.tenant,
      dataClass: c.meta.dataClass,
    },
    startedAt,
  );
  c.admitted(admission);
  const routed = c.router.route(admission, { view: c.view });
  const d = routed.decision;
  const set: HeaderValueOption[] = [setHeader(CLUSTER_HEADER, d.model.cluster)];
  // A hosted provider's virtual endpoint is not an address: the cluster's own load balancer picks.
  const metadata = d.model.virtualEndpoint ? undefined : destinationMetadata(d.endpoints);
  if (!d.model.virtualEndpoint) set.push(setHeader(DESTINATION_KEY, d.endpoints.join(',')));
  if (d.model.host !== undefined) set.push(setHeader(':authority', d.model.host));
  const sent = admission.input;
  let rewritten: Buffer | undefined;
  if (sent.model !== d.model.model_id || sent.bodyChanged) {
    rewritten = serializeBody(sent, d.model.model_id);
    set.push(setHeader('content-length', String(rewritten.length)));
  }
  return { routed, stream: input.stream, set, rewritten, metadata };
}
