// Phase 2 in FULL_DUPLEX_STREAMED mode (the Gateway API Inference Extension's
// endpoint-picker mode; Envoy announces it in protocol_config). Envoy sends the body
// chunks without waiting for the headers answer and forwards nothing until it gets
// one, so kvfleet:
//   1. holds the headers answer (request-headers.ts has validated the headers),
//   2. collects the chunks, refusing more than server.max_body_bytes as they arrive,
//   3. once the body is complete (end_of_stream, or the request trailers), routes it
//      like BUFFERED mode (routeBody) and answers twice: the headers answer carrying
//      the routing mutation, the forged-header removals and the envoy.lb metadata, then
//      the body itself, sent back as one streamed chunk (rewritten when the model is).
// One gRPC round trip fewer than BUFFERED mode, where Envoy waits for the headers
// answer before it sends the body.
import type { HttpBody, ProcessingResponse } from '../proto-types.js';
import type { ExchangeEnv, ExchangeState } from '../exchange-state.js';
import { checkBodySize, routeBody } from './request-body.js';

export interface DuplexBody {
  readonly chunks: Buffer[];
  bytes: number;
}

export const NO_ANSWER: readonly ProcessingResponse[] = Object.freeze([]);

export function onDuplexBodyChunk(env: ExchangeEnv, st: ExchangeState, body: DuplexBody, msg: HttpBody): readonly ProcessingResponse[] {
  const chunk = msg.body;
  if (chunk !== undefined && chunk.length > 0) {
    body.bytes += chunk.length;
    checkBodySize(st, body.bytes);
    body.chunks.push(chunk);
  }
  return msg.end_of_stream === true ? complete(env, st, body, true) : NO_ANSWER;
}

/** Request trailers end the body (HTTP/2 and gRPC clients may send them). */
export function onDuplexTrailers(env: ExchangeEnv, st: ExchangeState, body: DuplexBody): readonly ProcessingResponse[] {
  return [...complete(env, st, body, false), { request_trailers: {} }];
}

function complete(env: ExchangeEnv, st: ExchangeState, body: DuplexBody, endOfStream: boolean): ProcessingResponse[] {
  const whole = body.chunks.length === 1 ? (body.chunks[0] as Buffer) : Buffer.concat(body.chunks, body.bytes);
  body.chunks.length = 0;
  const r = routeBody(env, st, whole);
  // Forged copies of the headers set here are overwritten by the set itself; only the
  // other stripped headers are removed (whatever order Envoy applies the two lists in).
  const setKeys = new Set(r.set.map((h) => h.header.key));
  const strip = (st.meta?.strip ?? []).filter((h) => !setKeys.has(h));
  return [
    {
      request_headers: {
        response: {
          status: 'CONTINUE',
          clear_route_cache: true,
          header_mutation: strip.length > 0 ? { set_headers: r.set, remove_headers: strip } : { set_headers: r.set },
        },
      },
      dynamic_metadata: r.metadata,
    },
    { request_body: { response: { body_mutation: { streamed_response: { body: r.rewritten ?? whole, end_of_stream: endOfStream } } } } },
  ];
}
