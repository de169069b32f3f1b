// Phase 3: response headers. Add the explanation headers for the client; then, once
// that answer is on its way (ExchangeState.after), learn the outcome (status, the
// endpoint that served, time to headers) and report the exchange.
import { attribute, headerMap, setHeader } from '../mutations.js';
import { explanationHeaders } from '../explain-headers.js';
import type { HttpHeaders, ProcessingResponse, ProtoStruct } from '../proto-types.js';
import type { ExchangeEnv, ExchangeState } from '../exchange-state.js';
import { finish } from '../exchange-finish.js';
import { observeResponse } from '../observe-response.js';
import { learnOutcome } from '../../core/learn.js';

/** Envoy attribute with the upstream host that served (response_attributes). */
export const UPSTREAM_ADDRESS_ATTR = 'upstream.address';

export function onResponseHeaders(
  env: ExchangeEnv,
  st: ExchangeState,
  msg: HttpHeaders,
  attributes: Record<string, ProtoStruct> | undefined,
): ProcessingResponse {
  const headers = headerMap(msg);
  const status = Number(headers.get(':status') ?? '0') || undefined;
  const served = attribute(attributes, UPSTREAM_ADDRESS_ATTR);
  const d = st.decision;
  const set = d !== undefined
    ? explanationHeaders(d, st.decisionUs ?? 0, served)
    : [setHeader('x-kvfleet-request-id', st.requestId)];
  st.phase = 'done';
  const now = env.now();
  st.after = () => {
    observeResponse(env, st, headers, status, served, attributes, now); // health, cooldowns, in-flight → served endpoint
    const upstreamMs = st.decidedAt !== undefined ? now - st.decidedAt : undefined;
    // Routing feedback (prefix index / session of the endpoint that served, bandit reward).
    if (d !== undefined) learnOutcome(env.router, st.fleet, env.live, d, { status, servedEndpoint: served, latencyMs: upstreamMs }, now);
    finish(env, st, { status, servedEndpoint: served, upstreamMs });
  };
  return { response_headers: { response: { status: 'CONTINUE', header_mutation: { set_headers: set } } } };
}
