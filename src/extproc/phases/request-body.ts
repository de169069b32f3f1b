// Phase 2: the complete request body, whatever the body mode (body/*.ts hand it here).
// Parse once, route through the Router (policy, decide, commit, hold the primary's
// in-flight slot until the access log says the request ended), and build the one mutation:
// cluster header, endpoint list (header + envoy.lb metadata), :authority for hosted
// providers, the rewritten model name with a matching content-length, and kvfleet's
// explanation metadata.
import type { ApiKind } from '../../config/names.js';
import { kvError } from '../../errors.js';
import type { RequestMeta } from '../../request/headers.js';
import { parseRequestBody, serializeBody } from '../../request/parse-body.js';
import type { Admission, Router, Routed } from '../../router/router.js';
import type { FleetTenant } from '../../config/fleet.js';
import { explanationFields, withKvfleetMetadata } from '../explain-metadata.js';
import { DESTINATION_KEY, destinationMetadata, setHeader } from '../mutations.js';
import type { HeaderValueOption, ProtoStruct } from '../proto-types.js';
import type { LiveView } from '../../core/types.js';
import { andThen, type MaybePromise } from '../../router/maybe-async.js';
import { budgetRemaining } from '../../router/usage-gate.js';

export const CLUSTER_HEADER = 'x-kvfleet-cluster';
/** Set on requests whose response token usage kvfleet reads (the metered route of envoy.yaml). */
export const METER_HEADER = 'x-kvfleet-meter';

/** What routing one complete request body produces. */
export interface BodyRoute {
  readonly routed: Routed;
  readonly stream: boolean;
  /** Request headers to set: cluster, endpoint list, and :authority / content-length when needed. */
  readonly set: HeaderValueOption[];
  /** The body with the model name rewritten, or undefined when it goes upstream unchanged. */
  readonly rewritten: Buffer | undefined;
  /**
   * Dynamic metadata: envoy.lb with the same endpoint list (read by override_host; none for a
   * hosted provider's virtual endpoint) and kvfleet's explanation (rendered by Envoy as the
   * x-kvfleet-* response headers; its key joins the access log back to the decision).
   */
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
  readonly tenant: FleetTenant | undefined;
  /** The policy let the request through (called before routing, so a routing error is still reported with it). */
  readonly admitted: (a: Admission) => void;
  /** Aborted when the client goes away (a request held by flow control leaves its lane). */
  readonly signal?: (() => AbortSignal) | undefined;
  /** Flow control or a waking model holds the request up to `ms`. */
  readonly onHold?: ((ms: number) => void) | undefined;
  /** Shadow traffic: the headers that have Envoy mirror a sampled request (phases/shadow.ts). */
  readonly mirror?: ((routed: Routed) => readonly HeaderValueOption[]) | undefined;
}

export function routeBody(c: BodyContext, body: Buffer): MaybePromise<BodyRoute> {
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
  return andThen(c.router.route(admission, { view: c.view, signal: c.signal, onHold: c.onHold }), (routed) => {
    const mirror = c.mirror?.(routed) ?? [];
    // A mirrored request is metered too: its token usage is compared with its shadows'.
    return mutation(routed, input.stream, { extra: mirror, meter: mirror.length > 0 });
  });
}

/** The one mutation that sends a routed request on its way (also a shadow's: phases/shadow.ts). */
export function mutation(routed: Routed, stream: boolean, o: { readonly extra?: readonly HeaderValueOption[]; readonly meter?: boolean } = {}): BodyRoute {
  const d = routed.decision;
  const set: HeaderValueOption[] = [setHeader(CLUSTER_HEADER, d.model.cluster)];
  // A hosted provider's virtual endpoint is not an address: the cluster's own load balancer picks.
  const metadata = withKvfleetMetadata(
    explanationFields(d, routed.decisionUs, routed.key, budgetRemaining(routed.usage)),
    d.model.virtualEndpoint ? undefined : destinationMetadata(d.endpoints),
  );
  if (!d.model.virtualEndpoint) set.push(setHeader(DESTINATION_KEY, d.endpoints.join(',')));
  if (d.model.host !== undefined) set.push(setHeader(':authority', d.model.host));
  // Its response's token usage is read by the meter (envoy.yaml: the metered route).
  if (routed.plan?.meter === true || o.meter === true) set.push(setHeader(METER_HEADER, '1'));
  if (o.extra !== undefined) set.push(...o.extra);
  const sent = routed.admission.input;
  let rewritten: Buffer | undefined;
  if (sent.model !== d.model.model_id || sent.bodyChanged) {
    rewritten = serializeBody(sent, d.model.model_id);
    set.push(setHeader('content-length', String(rewritten.length)));
  }
  return { routed, stream, set, rewritten, metadata };
}
