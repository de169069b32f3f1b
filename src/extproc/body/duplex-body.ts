// FULL_DUPLEX_STREAMED request bodies (the Gateway API Inference Extension's
// endpoint-picker mode). Envoy sends the chunks without waiting for the headers answer
// and forwards nothing until it gets one, so kvfleet:
//   1. holds the headers answer (request-headers.ts has validated the headers),
//   2. collects the chunks, refusing more than server.max_body_bytes for one request (413)
//      and more than server.max_held_body_bytes for all requests together (503): in this
//      mode Envoy's buffer limit no longer bounds what kvfleet holds,
//   3. once the body is complete (end_of_stream, or the request trailers), routes it like
//      BUFFERED mode and answers: the headers answer carrying the routing mutation, the
//      forged-header removals and the envoy.lb metadata, then the body itself (rewritten
//      when the model is) in chunks of at most 64 KiB, the size Envoy's API asks
//      processors to keep to.
// A body still incomplete server.body_timeout_seconds after the headers gets a 408
// (server.ts arms the timer; Envoy runs no message timer in this mode).
import { kvError } from '../../errors.js';
import { streamedBody } from '../mutations.js';
import type { HttpBody, ProcessingResponse } from '../proto-types.js';
import { checkBodySize, isCached, type BodyOutcome } from '../phases/request-body.js';
import { NO_ANSWER, type Answers, type BodyReader, type RouteBody } from './body-reader.js';
import { andThen } from '../../router/maybe-async.js';

/** Largest streamed_response chunk sent back to Envoy. */
export const STREAMED_CHUNK_BYTES = 64 * 1024;

export interface DuplexLimits {
  readonly maxBodyBytes: number;
  readonly maxHeldBytes: number;
  /** Bytes of full-duplex bodies held by all requests together. */
  readonly held: { bytes: number };
  /** Request headers a client forged, to remove on the headers answer. */
  readonly strip: readonly string[];
}

export class DuplexBody implements BodyReader {
  readonly holdsHeaders = true;
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  /** Bytes of this request counted in limits.held (0 once given back). */
  private heldBytes = 0;
  private complete = false;

  constructor(
    private readonly route: RouteBody,
    private readonly limits: DuplexLimits,
  ) {}

  get collecting(): boolean {
    return !this.complete;
  }

  chunk(msg: HttpBody): Answers {
    if (this.complete) return NO_ANSWER; // late chunks after the answer: nothing more to say
    const c = msg.body;
    if (c !== undefined && c.length > 0) {
      this.bytes += c.length;
      checkBodySize(this.limits.maxBodyBytes, this.bytes);
      if (this.limits.held.bytes + c.length > this.limits.maxHeldBytes) {
        throw kvError('overloaded', { what: 'holding too many request bodies' }, 1);
      }
      this.limits.held.bytes += c.length;
      this.heldBytes += c.length;
      this.chunks.push(c);
    }
    return msg.end_of_stream === true ? this.finish(true) : NO_ANSWER;
  }

  trailers(): Answers {
    if (this.complete) return NO_ANSWER;
    return andThen(this.finish(false), (out) => [...out, { request_trailers: {} }]);
  }

  /** Give this request's share of the held-body budget back (idempotent). */
  release(): void {
    this.limits.held.bytes -= this.heldBytes;
    this.heldBytes = 0;
    this.chunks.length = 0;
  }

  private finish(endOfStream: boolean): Answers {
    this.complete = true;
    const whole = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.bytes);
    this.release();
    return andThen(this.route(whole), (r) => this.answers(r, whole, endOfStream));
  }

  /** The headers answer with the route, then the body (rewritten or as it came) in chunks; or the cache's answer alone. */
  private answers(r: BodyOutcome, whole: Buffer, endOfStream: boolean): ProcessingResponse[] {
    if (isCached(r)) return [r.answer];
    // Forged copies of the headers set here are overwritten by the set itself; only the
    // other stripped headers are removed (whatever order Envoy applies the two lists in).
    const setKeys = new Set(r.set.map((h) => h.header.key));
    const strip = this.limits.strip.filter((h) => !setKeys.has(h));
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
      out.push(streamedBody('request_body', sent.subarray(at, at + STREAMED_CHUNK_BYTES), last && endOfStream));
      if (last) break;
    }
    return out;
  }
}
