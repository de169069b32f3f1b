// Phase 2: request body (BUFFERED). Parse once, decide, and answer with one
// mutation: cluster header, endpoint list (header + envoy.lb metadata), the
// rewritten model name with a matching content-length, clear_route_cache.
import { decide } from '../../core/decide.js';
import { commitDecision } from '../../core/learn.js';
import { KvError } from '../../errors.js';
import { parseRequestBody, rewriteModel } from '../../request/parse-body.js';
import { DESTINATION_KEY, destinationMetadata, setHeader } from '../mutations.js';
import type { CommonResponse, HeaderValueOption, HttpBody, ProcessingResponse } from '../proto-types.js';
import type { ExchangeEnv, ExchangeState } from '../exchange-state.js';
import { withSubset } from '../subset-hint.js';

export const CLUSTER_HEADER = 'x-kvfleet-cluster';

export function onRequestBody(env: ExchangeEnv, st: ExchangeState, msg: HttpBody): ProcessingResponse {
  const started = env.now();
  const meta = st.meta;
  const api = st.api;
  if (meta === undefined || api === undefined) throw new KvError('internal', 'request body arrived before its headers', null);
  const body = msg.body ?? Buffer.alloc(0);
  const limit = st.fleet.server.max_body_bytes;
  if (body.length > limit) throw new KvError('body_too_large', `request body is ${body.length} bytes; the limit is ${limit}`, null);
  if (body.length === 0) throw new KvError('body_required', 'this endpoint needs a JSON request body', null);

  const input = parseRequestBody(api, body);
  st.stream = input.stream;
  const decision = decide(
    { requestId: st.requestId, sessionId: meta.sessionId, overrides: meta.overrides, input },
    { fleet: st.fleet, live: withSubset(env.live, st.subset), state: env.router, now: started },
  );
  st.decision = decision;
  commitDecision(env.router, decision, env.live, st.fleet.affinity, started);

  const primary = decision.endpoints[0] as string;
  env.live.acquire(primary);
  st.held = primary;

  const set: HeaderValueOption[] = [
    setHeader(CLUSTER_HEADER, decision.model.cluster),
    setHeader(DESTINATION_KEY, decision.endpoints.join(',')),
  ];
  const response: CommonResponse = { status: 'CONTINUE', clear_route_cache: true, header_mutation: { set_headers: set } };
  if (decision.model.host !== undefined) set.push(setHeader(':authority', decision.model.host));
  if (input.model !== decision.model.model_id) {
    const rewritten = rewriteModel(input, decision.model.model_id);
    set.push(setHeader('content-length', String(rewritten.length)));
    response.body_mutation = { body: rewritten };
  }
  st.phase = 'response_headers';
  st.decidedAt = env.now();
  st.decisionUs = (st.decidedAt - started) * 1000;
  return { request_body: { response }, dynamic_metadata: destinationMetadata(decision.endpoints) };
}
