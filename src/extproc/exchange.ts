// The per-request state machine: one instance per ext_proc stream. Drive it with
// ProcessingRequest messages (from a gRPC stream or a test) and it returns the
// ProcessingResponses to send: one per message in BUFFERED mode; in FULL_DUPLEX_STREAMED
// mode none until the body is complete, then the headers answer and the body
// (phases/request-body-duplex.ts). It never throws: errors become OpenAI-shaped
// immediate responses.
import { KvError, isKvError } from '../errors.js';
import { immediateError, setHeader } from './mutations.js';
import type { ProcessingRequest, ProcessingResponse } from './proto-types.js';
import type { ExchangeEnv, ExchangeState } from './exchange-state.js';
import { finish, releaseHeld } from './exchange-finish.js';
import { onRequestHeaders } from './phases/request-headers.js';
import { onRequestBody } from './phases/request-body.js';
import { isFullDuplex, NO_ANSWER, onDuplexBodyChunk, onDuplexTrailers, releaseDuplexBody } from './phases/request-body-duplex.js';
import { onResponseHeaders } from './phases/response-headers.js';
import { passResponseBody } from './phases/response-body.js';
import { readSubsetHint } from './subset-hint.js';

export class Exchange {
  private readonly st: ExchangeState;

  constructor(private readonly env: ExchangeEnv) {
    this.st = {
      phase: 'request_headers',
      fleet: env.fleet(),
      meta: undefined,
      api: undefined,
      requestId: '',
      stream: false,
      decision: undefined,
      decisionUs: undefined,
      decidedAt: undefined,
      held: undefined,
      reported: false,
      after: undefined,
      duplex: undefined,
      responseDuplex: false,
    };
  }

  get state(): Readonly<ExchangeState> {
    return this.st;
  }

  /** Whether a phase left work for after its answer (run it with `settle`). */
  get unsettled(): boolean {
    return this.st.after !== undefined;
  }

  /**
   * Run the work the last phase deferred until its answer was sent. The server calls
   * it once the answer is written; `handle` and `close` call it first, so the work
   * always runs, in order, before anything else happens to this exchange.
   */
  settle(): void {
    const after = this.st.after;
    if (after === undefined) return;
    this.st.after = undefined;
    try {
      after();
    } catch (e) {
      // The answer is already sent: nothing to tell the client, log it.
      this.env.onInternalError?.(e);
    }
  }

  /** The answers to one message, in order (none, one, or two in full-duplex mode). */
  respond(req: ProcessingRequest): readonly ProcessingResponse[] {
    this.settle();
    const st = this.st;
    try {
      if (req.request_headers !== undefined) {
        st.subset = readSubsetHint(req.metadata_context);
        st.responseDuplex = req.protocol_config?.response_body_mode === 'FULL_DUPLEX_STREAMED';
        const answer = onRequestHeaders(this.env, st, req.request_headers);
        // Full duplex and a body to come: the answer waits for the body (it carries the route).
        if (st.phase === 'request_body' && isFullDuplex(st, req.protocol_config)) {
          st.duplex = { chunks: [], bytes: 0, held: 0 };
          return NO_ANSWER;
        }
        return [answer];
      }
      // After an immediate response Envoy may still deliver chunks it had sent, and a
      // full-duplex body has been answered once: nothing more to say about the request body.
      const bodyDone = st.phase === 'done' || (st.duplex !== undefined && st.phase !== 'request_body');
      if (bodyDone && (req.request_body !== undefined || req.request_trailers !== undefined)) return NO_ANSWER;
      if (req.request_body !== undefined) {
        if (st.duplex !== undefined) return onDuplexBodyChunk(this.env, st, st.duplex, req.request_body);
        return [onRequestBody(this.env, st, req.request_body)];
      }
      if (req.response_headers !== undefined) return [onResponseHeaders(this.env, st, req.response_headers, req.attributes)];
      if (req.request_trailers !== undefined) {
        if (st.duplex !== undefined) return onDuplexTrailers(this.env, st, st.duplex);
        return [{ request_trailers: {} }];
      }
      // Phases kvfleet does not ask for (response body and trailers) pass through unchanged.
      if (req.response_body !== undefined) return [passResponseBody(st.responseDuplex, req.response_body)];
      if (req.response_trailers !== undefined) return [{ response_trailers: {} }];
      throw new KvError('internal', 'empty ext_proc message', null);
    } catch (e) {
      return [this.fail(e)];
    }
  }

  /** One message, one answer: the BUFFERED conversation (warm-up and tests). */
  handle(req: ProcessingRequest): ProcessingResponse {
    return this.respond(req)[0] ?? {};
  }

  /** A full-duplex request body is being collected (server.ts times it: server.body_timeout_seconds). */
  get collecting(): boolean {
    return this.st.duplex !== undefined && this.st.phase === 'request_body';
  }

  /** The body did not complete in time: the 408 to send (nothing if it has completed meanwhile). */
  expire(): readonly ProcessingResponse[] {
    if (!this.collecting) return NO_ANSWER;
    const s = this.st.fleet.server.body_timeout_seconds;
    return [this.fail(new KvError('body_timeout', `the request body did not arrive within ${s} s of its headers`, null))];
  }

  /** The stream ended (completed, cancelled or broken): release what is held, report once. */
  close(): void {
    this.settle();
    releaseDuplexBody(this.env, this.st);
    releaseHeld(this.env, this.st);
    this.st.phase = 'done';
    finish(this.env, this.st, {});
  }

  private fail(e: unknown): ProcessingResponse {
    const err = isKvError(e) ? e : new KvError('internal', 'kvfleet failed to process the request', null);
    if (!isKvError(e)) this.env.onInternalError?.(e);
    if (this.st.requestId === '') this.st.requestId = this.env.newRequestId();
    releaseDuplexBody(this.env, this.st);
    releaseHeld(this.env, this.st);
    this.st.phase = 'done';
    finish(this.env, this.st, { error: err });
    return immediateError(err, [setHeader('x-kvfleet-request-id', this.st.requestId)]);
  }
}
