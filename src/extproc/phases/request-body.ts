// Phase 2: the complete request body, whatever the body mode (body/*.ts hand it here).
// Parse once, route through the Router (policy, decide, commit, hold the primary's
// in-flight slot until the access log says the request ended), and build the one mutation:
// cluster header, endpoint list (header + envoy.lb metadata), :authority for hosted
// providers, the rewritten model name with a matching content-length, and kvfleet's
// explanation metadata. With the response cache on (response_cache:), a deterministic
// request the cache holds is answered here instead, after the policy admitted it
// (cache-answer.ts).
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
import type { CacheEntry, CacheLookup, ResponseCache } from '../../router/response-cache.js';
import type { ProcessingResponse } from '../proto-types.js';
import { addCacheFields, cacheHitAnswer } from '../cache-answer.js';

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

/** A request answered from the response cache: the immediate response to send instead of a route. */
export interface CachedAnswer {
  readonly cached: true;
  readonly answer: ProcessingResponse;
  /** The fleet model that produced the entry. */
  readonly model: string;
}

/** What one complete request body comes to: a route, or an answer from the cache. */
export type BodyOutcome = BodyRoute | CachedAnswer;

export function isCached(r: BodyOutcome): r is CachedAnswer {
  return 'cached' in r;
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
  /** The response cache (undefined: none in this process). */
  readonly cache?: ResponseCache | undefined;
}

export function routeBody(c: BodyContext, body: Buffer): MaybePromise<BodyOutcome> {
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
  // A policy refusal is never answered from the cache (route() throws it).
  const look = admission.refusal === undefined ? c.cache?.lookup(admission, c.meta.cache) : undefined;
  if (look?.result === 'hit' && c.cache !== undefined) return fromCache(c, c.cache, admission, look.entry);
  return andThen(c.router.route(admission, { view: c.view, signal: c.signal, onHold: c.onHold }), (routed) => {
    const mirror = c.mirror?.(routed) ?? [];
    // A mirrored request is metered too: its token usage is compared with its shadows'.
    return mutation(routed, input.stream, { extra: mirror, meter: mirror.length > 0, cache: c.cache, look });
  });
}

/** A hit: counted against the tenant's rpm (429 over it), then answered with the entry. */
function fromCache(c: BodyContext, cache: ResponseCache, a: Admission, entry: CacheEntry): MaybePromise<CachedAnswer> {
  return andThen(cache.admitHit(c.router.usage, a, entry, Date.now()), (usage) => {
    cache.count('hit');
    return { cached: true, answer: cacheHitAnswer(c.requestId, a, entry, usage), model: entry.model };
  });
}

interface MutationOptions {
  /** More headers to set (shadow traffic's mirror headers). */
  readonly extra?: readonly HeaderValueOption[];
  /** Read its response's token usage (the meter) even when no limit needs it. */
  readonly meter?: boolean;
  /** The response cache and this request's lookup: a miss it keeps goes by the meter. */
  readonly cache?: ResponseCache | undefined;
  readonly look?: CacheLookup | undefined;
}

/** The one mutation that sends a routed request on its way (also a shadow's: phases/shadow.ts). */
export function mutation(routed: Routed, stream: boolean, o: MutationOptions = {}): BodyRoute {
  const { cache, look } = o;
  const d = routed.decision;
  const set: HeaderValueOption[] = [setHeader(CLUSTER_HEADER, d.model.cluster)];
  const fields = explanationFields(d, routed.decisionUs, routed.key, budgetRemaining(routed.usage));
  // A miss whose response the cache will keep goes by the meter, which hands the response over.
  const fill = cache !== undefined && look !== undefined ? cache.fillFor(look, d) : undefined;
  if (cache !== undefined && look !== undefined) {
    const result = fill !== undefined ? 'miss' : 'bypass';
    addCacheFields(fields, result, fill);
    cache.count(result);
  }
  // A hosted provider's virtual endpoint is not an address: the cluster's own load balancer picks.
  const metadata = withKvfleetMetadata(fields, d.model.virtualEndpoint ? undefined : destinationMetadata(d.endpoints));
  if (!d.model.virtualEndpoint) set.push(setHeader(DESTINATION_KEY, d.endpoints.join(',')));
  if (d.model.host !== undefined) set.push(setHeader(':authority', d.model.host));
  // Its response's token usage (or, for the cache, its body) is read by the meter (envoy.yaml: the metered route).
  if (routed.plan?.meter === true || o.meter === true || fill !== undefined) set.push(setHeader(METER_HEADER, '1'));
  if (o.extra !== undefined) set.push(...o.extra);
  const sent = routed.admission.input;
  let rewritten: Buffer | undefined;
  if (sent.model !== d.model.model_id || sent.bodyChanged) {
    rewritten = serializeBody(sent, d.model.model_id);
    set.push(setHeader('content-length', String(rewritten.length)));
  }
  return { routed, stream, set, rewritten, metadata };
}
