// How the request body reaches kvfleet, chosen once per request from the filter's
// announced mode (protocol_config) or server.body_mode (body-mode.ts):
//   buffered     one request_body message with the whole body; answered with the routing
//                mutation on the body answer (buffered-body.ts)
//   full duplex  chunks without waiting; the headers answer is held until the body is
//                complete, then answered with the routing mutation, followed by the body
//                (duplex-body.ts)
// Both hand the complete body to the same `route` function (phases/request-body.ts).
import type { HttpBody, ProcessingResponse } from '../proto-types.js';
import type { BodyOutcome } from '../phases/request-body.js';
import type { MaybePromise } from '../../router/maybe-async.js';

/** Answers now, or later (a Redis round trip for usage limits, a request held by flow control). */
export type Answers = MaybePromise<readonly ProcessingResponse[]>;

export interface BodyReader {
  /** The answer to the request-headers message: now (buffered) or held until the body completes. */
  readonly holdsHeaders: boolean;
  /** Still collecting a full-duplex body (the body deadline applies). */
  readonly collecting: boolean;
  /** One request_body message → the answers to send. */
  chunk(msg: HttpBody): Answers;
  /** Request trailers (they end a full-duplex body). */
  trailers(): Answers;
}

/** Routes one complete body (parse, decide, check the limits, build the mutation), or answers it from the response cache. */
export type RouteBody = (body: Buffer) => MaybePromise<BodyOutcome>;

export const NO_ANSWER: readonly ProcessingResponse[] = Object.freeze([]);
