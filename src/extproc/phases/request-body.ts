// Phase 2: request body (BUFFERED). Parse once, decide, and answer with one
// mutation: cluster header, endpoint list (header + envoy.lb metadata), the
// rewritten model name with a matching content-length, clear_route_cache.
// The full-duplex variant (request-body-duplex.ts) routes the same way.
import { decide } from '../../core/decide.js';
import { commitDecision } from '../../core/learn.js';
import { KvError } from '../../errors.js';
import { parseRequestBody, rewriteModel } from '../../request/parse-body.js';
import { DESTINATION_KEY, destinationMetadata, setHeader } from '../mutations.js';
import type { CommonResponse, HeaderValueOption, HttpBody, ProcessingResponse, ProtoStruct } from '../proto-types.js';
import type { ExchangeEnv, ExchangeState } from '../exchange-state.js';
import { withSubset } from '../subset-hint.js';

export const CLUSTER_HEADER = 'x-kvfleet-cluster';

/** What routing one complete request body produces, whatever the body mode. */
export interface Routed {
  /** Request headers to set: cluster, endpoint list, and :authority / content-length when needed. */
  readonly set: HeaderValueOption[];
  /** The body with the model name rewritten, or undefined when it goes upstream unchanged. */
  readonly rewritten: Buffer | undefined;
  /** envoy.lb metadata with the same endpoint list (read by override_host). */
  readonly metadata: ProtoStruct;
}

export function checkBodySize(st: ExchangeState, bytes: number): void {
  const limit = st.fleet.server.max_body_bytes;
  if (bytes > limit) throw new KvError('body_too_large', `request body is ${bytes} bytes; the limit is ${limit}`, null);
}

/** Parse, decide, commit, hold the primary endpoint's in-flight slot. */
export function routeBody(env: ExchangeEnv, st: ExchangeState, body: Buffer): Routed {
  const started = env.now();
  const meta = st.meta;
  const api = st.api;
  if (meta === undefined || api === undefined) throw new KvError('internal', 'request body arrived before its headers', null);
  checkBodySize(st, body.length);
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
  if (decision.model.host !== undefined) set.push(setHeader(':authority', decision.model.host));
  let rewritten: Buffer | undefined;
  if (input.model !== decision.model.model_id) {
    rewritten = rewriteModel(input, decision.model.model_id);
    set.push(setHeader('content-length', String(rewritten.length)));
  }
  st.phase = 'response_headers';
  st.decidedAt = env.now();
  st.decisionUs = (st.decidedAt - started) * 1000;
  return { set, rewritten, metadata: destinationMetadata(decision.endpoints) };
}

export function onRequestBody(env: ExchangeEnv, st: ExchangeState, msg: HttpBody): ProcessingResponse {
  const r = routeBody(env, st, msg.body ?? Buffer.alloc(0));
  const response: CommonResponse = { status: 'CONTINUE', clear_route_cache: true, header_mutation: { set_headers: r.set } };
  if (r.rewritten !== undefined) response.body_mutation = { body: r.rewritten };
  return { request_body: { response }, dynamic_metadata: r.metadata };
}
