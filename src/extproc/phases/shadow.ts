// Shadow traffic on the ext_proc stream (router/shadow/traffic.ts decides; this file speaks
// Envoy). Two passes of one sampled request through kvfleet:
//   primary  routed as usual, plus `x-kvfleet-shadow-of: <token>` and, per candidate slot n,
//            `x-kvfleet-mirror-<n>: kvfleet_shadow`: the route's n-th request_mirror_policy
//            (cluster_header x-kvfleet-mirror-<n>) sends a copy of the request — the body as
//            kvfleet answered it — to cluster kvfleet_shadow, Envoy's own listener, adding
//            `x-kvfleet-shadow-slot: <n>` to the copy. Envoy does not wait for the copy.
//   copy     comes through the listener and ext_proc again: the token and slot name the
//            primary and the candidate (a token serves each slot once); every x-kvfleet-*
//            header is removed as for any request; the copy is routed to its candidate, the
//            body's `model` rewritten to the candidate's model_id, `:path` set back to the API's
//            (a hosted primary's route may have rewritten it) — and it never sets mirror
//            headers itself, so a shadow is never shadowed.
import type { ApiKind } from '../../config/names.js';
import { kvError } from '../../errors.js';
import type { LiveView } from '../../core/types.js';
import { parseRequestBody } from '../../request/parse-body.js';
import { parseRequestHeaders } from '../../request/headers.js';
import { API_PATHS } from '../../request/types.js';
import type { MirrorPlan, ShadowClaim, ShadowTraffic } from '../../router/shadow/traffic.js';
import { CONTINUE, setHeader } from '../mutations.js';
import type { HeaderValueOption } from '../proto-types.js';
import type { HeadersStep } from './request-headers.js';
import { checkBodySize, mutation, type BodyRoute } from './request-body.js';

/** On the primary: the token its copies carry back. */
export const SHADOW_OF_HEADER = 'x-kvfleet-shadow-of';
/** Added to each copy by its mirror policy (envoy.yaml): which candidate slot it is. */
export const SHADOW_SLOT_HEADER = 'x-kvfleet-shadow-slot';
/** `x-kvfleet-mirror-<n>`: the mirror policies' cluster_header; present = make copy n. */
export const MIRROR_HEADER_PREFIX = 'x-kvfleet-mirror-';
/** The Envoy cluster the copies go to: the listener itself (envoy.yaml). */
export const SHADOW_CLUSTER = 'kvfleet_shadow';

/** The headers that have Envoy mirror a request (none when it is not shadowed). */
export function mirrorHeaders(plan: MirrorPlan | undefined): HeaderValueOption[] {
  if (plan === undefined) return [];
  const set = [setHeader(SHADOW_OF_HEADER, plan.token)];
  for (let n = 1; n <= plan.slots; n++) set.push(setHeader(`${MIRROR_HEADER_PREFIX}${n}`, SHADOW_CLUSTER));
  return set;
}

/**
 * A request that says it is a shadow copy: its claim, or undefined when it does not say so
 * (or shadow traffic is off). A copy kvfleet does not expect — unknown or expired token, a slot
 * already served, another instance's — is refused (404 unknown_shadow), never routed.
 */
export function shadowClaim(shadow: ShadowTraffic | undefined, headers: ReadonlyMap<string, string>): ShadowClaim | undefined {
  const token = headers.get(SHADOW_OF_HEADER);
  if (shadow === undefined || token === undefined) return undefined;
  const claim = shadow.claim(token, headers.get(SHADOW_SLOT_HEADER));
  if (claim === undefined) throw kvError('unknown_shadow', {});
  return claim;
}

const PATH_OF: Readonly<Record<ApiKind, string>> = Object.freeze(
  Object.fromEntries(Object.entries(API_PATHS).map(([path, api]) => [api, path])) as Record<ApiKind, string>,
);

/** The copy's request headers: every x-kvfleet-* header removed; the API is the primary's, whatever the path says now. */
export function shadowHeaders(headers: ReadonlyMap<string, string>, claim: ShadowClaim): HeadersStep & { readonly kind: 'route' } {
  const meta = parseRequestHeaders(headers);
  const api = claim.primary.admission.input.api;
  const response = meta.strip.length > 0 ? { ...CONTINUE, header_mutation: { remove_headers: [...meta.strip] }, clear_route_cache: true } : CONTINUE;
  return { kind: 'route', meta, tenant: claim.primary.admission.policy.tenant, api, answer: { request_headers: { response } } };
}

export interface ShadowBodyContext {
  readonly shadow: ShadowTraffic;
  readonly claim: ShadowClaim;
  /** The copy's path as it arrived. */
  readonly path: string;
  readonly maxBodyBytes: number;
  readonly view: LiveView;
}

/** Route a copy to its candidate: the same mutation as a request's, metered, with the API's path. */
export function routeShadow(c: ShadowBodyContext, body: Buffer): BodyRoute {
  checkBodySize(c.maxBodyBytes, body.length);
  const api = c.claim.primary.admission.input.api;
  const input = parseRequestBody(api, body);
  const routed = c.shadow.route(c.claim, input, c.view);
  const path = PATH_OF[api];
  return mutation(routed, input.stream, { meter: true, extra: c.path !== path ? [setHeader(':path', path)] : [] });
}
