// Phase 2 in FULL_DUPLEX_STREAMED mode (the Gateway API Inference Extension's
// endpoint-picker mode). Envoy sends the body chunks without waiting for the headers
// answer and forwards nothing until it gets one, so kvfleet:
//   1. holds the headers answer (request-headers.ts has validated the headers),
//   2. collects the chunks, refusing more than server.max_body_bytes for one request (413)
//      and more than server.max_held_body_bytes for all requests together (503): in this
//      mode Envoy's buffer limit no longer bounds what kvfleet holds,
//   3. once the body is complete (end_of_stream, or the request trailers), routes it like
//      BUFFERED mode (routeBody) and answers: the headers answer carrying the routing
//      mutation, the forged-header removals and the envoy.lb metadata, then the body itself
//      (rewritten when the model is) in chunks of at most 64 KiB, the size Envoy's API asks
//      processors to keep to.
// A body still incomplete server.body_timeout_seconds after the headers gets a 408
// (server.ts arms the timer; Envoy runs no message timer in this mode).
// One gRPC round trip fewer than BUFFERED mode, where Envoy waits for the headers answer
// before it sends the body.
import type { BodySendMode, HttpBody, ProcessingResponse } from '../proto-types.js';
import type { ExchangeEnv, ExchangeState } from '../exchange-state.js';
import { KvError } from '../../errors.js';
import { streamedBody } from '../mutations.js';
import { checkBodySize, routeBody } from './request-body.js';

export interface DuplexBody {
  readonly chunks: Buffer[];
  /** Bytes received for this request. */
  bytes: number;
  /** Bytes of this request counted in env.heldBodies (0 once released). */
  held: number;
}

export const NO_ANSWER: readonly ProcessingResponse[] = Object.freeze([]);

/** Largest streamed_response chunk sent back to Envoy. */
export const STREAMED_CHUNK_BYTES = 64 * 1024;

/**
 * Whether this request's body comes in full duplex: what the filter announced in
 * protocol_config, else server.body_mode. Throws unsupported_body_mode for modes kvfleet
 * cannot route with (no body, STREAMED, BUFFERED_PARTIAL, GRPC) and for an announcement
 * that contradicts server.body_mode.
 */
export function isFullDuplex(st: ExchangeState, config: { request_body_mode?: BodySendMode } | undefined): boolean {
  const setting = st.fleet.server.body_mode;
  if (config === undefined) return setting === 'full-duplex';
  const announced = config.request_body_mode ?? 'NONE';
  if (announced !== 'BUFFERED' && announced !== 'FULL_DUPLEX_STREAMED') {
    throw new KvError('unsupported_body_mode', `the proxy's ext_proc filter sends request bodies as ${announced}; kvfleet routes on the body and needs BUFFERED or FULL_DUPLEX_STREAMED`, null);
  }
  const duplex = announced === 'FULL_DUPLEX_STREAMED';
  if (setting !== 'auto' && duplex !== (setting === 'full-duplex')) {
    throw new KvError('unsupported_body_mode', `the proxy's ext_proc filter announces ${announced} but server.body_mode is ${setting}`, null);
  }
  return duplex;
}

export function onDuplexBodyChunk(env: ExchangeEnv, st: ExchangeState, body: DuplexBody, msg: HttpBody): readonly ProcessingResponse[] {
  const chunk = msg.body;
  if (chunk !== undefined && chunk.length > 0) {
    body.bytes += chunk.length;
    checkBodySize(st, body.bytes);
    if (env.heldBodies.bytes + chunk.length > st.fleet.server.max_held_body_bytes) {
      throw new KvError('overloaded', 'kvfleet is holding too many request bodies right now; retry shortly', null, 1);
    }
    env.heldBodies.bytes += chunk.length;
    body.held += chunk.length;
    body.chunks.push(chunk);
  }
  return msg.end_of_stream === true ? complete(env, st, body, true) : NO_ANSWER;
}

/** Request trailers end the body (HTTP/2 and gRPC clients may send them). */
export function onDuplexTrailers(env: ExchangeEnv, st: ExchangeState, body: DuplexBody): readonly ProcessingResponse[] {
  return [...complete(env, st, body, false), { request_trailers: {} }];
}

/** Give this request's share of the held-body budget back (idempotent). */
export function releaseDuplexBody(env: ExchangeEnv, st: ExchangeState): void {
  const body = st.duplex;
  if (body === undefined || body.held === 0) return;
  env.heldBodies.bytes -= body.held;
  body.held = 0;
  body.chunks.length = 0;
}

function complete(env: ExchangeEnv, st: ExchangeState, body: DuplexBody, endOfStream: boolean): ProcessingResponse[] {
  const whole = body.chunks.length === 1 ? (body.chunks[0] as Buffer) : Buffer.concat(body.chunks, body.bytes);
  releaseDuplexBody(env, st);
  const r = routeBody(env, st, whole);
  // Forged copies of the headers set here are overwritten by the set itself; only the
  // other stripped headers are removed (whatever order Envoy applies the two lists in).
  const setKeys = new Set(r.set.map((h) => h.header.key));
  const strip = (st.meta?.strip ?? []).filter((h) => !setKeys.has(h));
  const out: ProcessingResponse[] = [
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
  ];
  const sent = r.rewritten ?? whole;
  for (let at = 0; ; at += STREAMED_CHUNK_BYTES) {
    const last = at + STREAMED_CHUNK_BYTES >= sent.length;
    const piece = sent.subarray(at, at + STREAMED_CHUNK_BYTES);
    out.push(streamedBody('request_body', piece, last && endOfStream));
    if (last) break;
  }
  return out;
}
