// The per-request state machine: one instance per ext_proc stream. Drive it with
// ProcessingRequest messages (from a gRPC stream or a test) and it returns the
// ProcessingResponse to send. It never throws: errors become OpenAI-shaped
// immediate responses.
import { KvError, isKvError } from '../errors.js';
import { CONTINUE, immediateError, setHeader } from './mutations.js';
import type { ProcessingRequest, ProcessingResponse } from './proto-types.js';
import type { ExchangeEnv, ExchangeState } from './exchange-state.js';
import { finish, releaseHeld } from './exchange-finish.js';
import { onRequestHeaders } from './phases/request-headers.js';
import { onRequestBody } from './phases/request-body.js';
import { onResponseHeaders } from './phases/response-headers.js';
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

  handle(req: ProcessingRequest): ProcessingResponse {
    this.settle();
    try {
      if (req.request_headers !== undefined) this.st.subset = readSubsetHint(req.metadata_context);
      if (req.request_headers !== undefined) return onRequestHeaders(this.env, this.st, req.request_headers);
      if (req.request_body !== undefined) return onRequestBody(this.env, this.st, req.request_body);
      if (req.response_headers !== undefined) return onResponseHeaders(this.env, this.st, req.response_headers, req.attributes);
      // Phases kvfleet does not ask for (bodies, trailers) are passed through unchanged.
      if (req.response_body !== undefined) return { response_body: { response: CONTINUE } };
      if (req.request_trailers !== undefined) return { request_trailers: {} };
      if (req.response_trailers !== undefined) return { response_trailers: {} };
      throw new KvError('internal', 'empty ext_proc message', null);
    } catch (e) {
      return this.fail(e);
    }
  }

  /** The stream ended (completed, cancelled or broken): release what is held, report once. */
  close(): void {
    this.settle();
    releaseHeld(this.env, this.st);
    this.st.phase = 'done';
    finish(this.env, this.st, {});
  }

  private fail(e: unknown): ProcessingResponse {
    const err = isKvError(e) ? e : new KvError('internal', 'kvfleet failed to process the request', null);
    if (!isKvError(e)) this.env.onInternalError?.(e);
    if (this.st.requestId === '') this.st.requestId = this.env.newRequestId();
    releaseHeld(this.env, this.st);
    this.st.phase = 'done';
    finish(this.env, this.st, { error: err });
    return immediateError(err, [setHeader('x-kvfleet-request-id', this.st.requestId)]);
  }
}
