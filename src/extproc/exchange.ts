// The per-request state machine: one instance per ext_proc stream. Drive it with
// ProcessingRequest messages (from a gRPC stream or a test) and it returns the
// ProcessingResponses to send: one per message in BUFFERED mode; in FULL_DUPLEX_STREAMED
// mode none until the body is complete, then the headers answer and the body. It never
// throws: errors become OpenAI-shaped immediate responses.
//
//   request_headers ──► request_body ──► response_headers ──► done
//          └──────────────────┴───────────────────┴──► done  (kvfleet answered itself, or failed)
// Transitions happen in `to()` only; the dispatch is one switch over the message kind
// with a compile-time completeness check.
import { isKvError, kvError, type KvError } from '../errors.js';
import { BufferedBody } from './body/buffered-body.js';
import { NO_ANSWER, type BodyReader } from './body/body-reader.js';
import { isFullDuplex } from './body/body-mode.js';
import { DuplexBody } from './body/duplex-body.js';
import type { ExchangeEnv, ExchangeState, Phase } from './exchange-state.js';
import { CONTINUE, headerMap, immediateError, setHeader, streamedBody } from './mutations.js';
import { onRequestHeaders } from './phases/request-headers.js';
import { routeBody } from './phases/request-body.js';
import { responseHeaders, responseReport } from './phases/response-headers.js';
import type { HttpBody, HttpHeaders, ProcessingRequest, ProcessingResponse, RequestKind } from './proto-types.js';
import { RequestLease } from './request-lease.js';
import { readSubsetHint, withSubset } from './subset-hint.js';

const KINDS: readonly RequestKind[] = ['request_headers', 'request_body', 'request_trailers', 'response_headers', 'response_body', 'response_trailers'];

/** Which message this is (the oneof `request`, or the field that is set). */
export function messageKind(req: ProcessingRequest): RequestKind | undefined {
  return req.request ?? KINDS.find((k) => req[k] !== undefined);
}

const NEXT: { readonly [P in Phase]: readonly Phase[] } = {
  request_headers: ['request_body', 'done'],
  request_body: ['response_headers', 'done'],
  response_headers: ['done'],
  done: ['done'],
};

export class Exchange {
  private readonly st: ExchangeState;

  constructor(private readonly env: ExchangeEnv) {
    this.st = {
      phase: 'request_headers',
      fleet: env.router.fleet(),
      requestId: '',
      meta: undefined,
      tenant: undefined,
      admission: undefined,
      api: undefined,
      stream: false,
      body: undefined,
      routed: undefined,
      responseDuplex: false,
      subset: undefined,
      lease: new RequestLease(),
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

  /** A full-duplex request body is being collected (server.ts times it: server.body_timeout_seconds). */
  get collecting(): boolean {
    return this.st.phase === 'request_body' && this.st.body?.collecting === true && this.st.body.holdsHeaders;
  }

  /**
   * Run the work the last phase deferred until its answer was sent. The server calls
   * it once the answer is written; `respond` and `close` call it first, so the work
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

  /** The answers to one message, in order (none, one, or several in full-duplex mode). */
  respond(req: ProcessingRequest): readonly ProcessingResponse[] {
    this.settle();
    try {
      const kind = messageKind(req);
      switch (kind) {
        case 'request_headers':
          return this.requestHeaders(req, req.request_headers ?? {});
        case 'request_body':
          return this.st.phase === 'request_body' && this.st.body !== undefined ? this.bodyAnswers(this.st.body.chunk(req.request_body ?? {})) : NO_ANSWER;
        case 'request_trailers':
          return this.requestTrailers();
        case 'response_headers':
          return [this.responseHeaders(req.response_headers ?? {}, req.attributes)];
        case 'response_body':
          return [this.passResponseBody(req.response_body ?? {})];
        case 'response_trailers':
          return [{ response_trailers: {} }];
        case undefined:
          throw new Error('empty ext_proc message');
        default:
          return unreachable(kind);
      }
    } catch (e) {
      return [this.fail(e)];
    }
  }

  /** One message, one answer: the BUFFERED conversation (warm-up and tests). */
  handle(req: ProcessingRequest): ProcessingResponse {
    return this.respond(req)[0] ?? {};
  }

  /** The body did not complete in time: the 408 to send (nothing if it has completed meanwhile). */
  expire(): readonly ProcessingResponse[] {
    if (!this.collecting) return NO_ANSWER;
    const s = this.st.fleet.server.body_timeout_seconds;
    return [this.fail(kvError('body_timeout', { seconds: s }))];
  }

  /** The stream ended (completed, cancelled or broken): release what is held, report once. */
  close(): void {
    this.settle();
    this.end({});
  }

  // ── phases ─────────────────────────────────────────────────────────────────

  private requestHeaders(req: ProcessingRequest, msg: HttpHeaders): readonly ProcessingResponse[] {
    const st = this.st;
    st.subset = readSubsetHint(req.metadata_context);
    st.responseDuplex = req.protocol_config?.response_body_mode === 'FULL_DUPLEX_STREAMED';
    const headers = headerMap(msg);
    st.requestId = headers.get('x-request-id') || this.env.newRequestId();
    const step = onRequestHeaders(st.fleet, headers, req.metadata_context?.filter_metadata, msg.end_of_stream === true, st.requestId, (t) => (st.tenant = t));
    if (step.kind === 'answered') {
      this.to('done');
      return [step.answer];
    }
    st.meta = step.meta;
    st.api = step.api;
    st.body = this.bodyReader(isFullDuplex(st.fleet.server.body_mode, req.protocol_config));
    this.to('request_body');
    // Full duplex: the answer waits for the body (it carries the route).
    return st.body.holdsHeaders ? NO_ANSWER : [step.answer];
  }

  private bodyReader(duplex: boolean): BodyReader {
    const st = this.st;
    const route = (body: Buffer) => {
      const r = routeBody(
        {
          router: this.env.router,
          tenant: st.tenant,
          admitted: (a) => (st.admission = a),
          requestId: st.requestId,
          api: st.api ?? 'chat',
          meta: st.meta as NonNullable<typeof st.meta>,
          maxBodyBytes: st.fleet.server.max_body_bytes,
          view: withSubset(this.env.router.live, st.subset),
        },
        body,
      );
      st.routed = r.routed;
      st.stream = r.stream;
      st.lease.hold(() => r.routed.lease.release());
      return r;
    };
    if (!duplex) return new BufferedBody(route);
    const reader = new DuplexBody(route, {
      maxBodyBytes: st.fleet.server.max_body_bytes,
      maxHeldBytes: st.fleet.server.max_held_body_bytes,
      held: this.env.heldBodies,
      strip: st.meta?.strip ?? [],
    });
    st.lease.hold(() => reader.release());
    return reader;
  }

  private requestTrailers(): readonly ProcessingResponse[] {
    const { phase, body } = this.st;
    if (phase === 'request_body' && body !== undefined) return this.bodyAnswers(body.trailers());
    // After an immediate response, or once a full-duplex body has been answered: nothing more to say.
    return phase === 'done' || body?.holdsHeaders === true ? NO_ANSWER : [{ request_trailers: {} }];
  }

  /** Answers of the body reader; once the body is routed, the response comes next. */
  private bodyAnswers(out: readonly ProcessingResponse[]): readonly ProcessingResponse[] {
    if (this.st.routed !== undefined && this.st.phase === 'request_body') this.to('response_headers');
    return out;
  }

  private responseHeaders(msg: HttpHeaders, attributes: ProcessingRequest['attributes']): ProcessingResponse {
    const st = this.st;
    const report = responseReport(msg, attributes);
    const set = responseHeaders(st.routed, st.requestId, report);
    const routed = st.routed;
    this.to('done');
    st.after = () => {
      if (routed === undefined) return this.report({ status: report.status });
      const o = this.env.router.observe(routed, report);
      if (o.effects !== undefined) this.env.onOutcome?.(o.effects);
      this.report({ status: report.status, servedEndpoint: report.served, upstreamMs: o.upstreamMs });
    };
    return { response_headers: { response: { status: 'CONTINUE', header_mutation: { set_headers: set } } } };
  }

  /**
   * The response body, which kvfleet never asks for. When a gateway sends it anyway it
   * passes unchanged: CONTINUE in the buffered and streamed modes; in FULL_DUPLEX_STREAMED
   * mode Envoy forwards only what the processor sends back, so each chunk goes back as it came.
   */
  private passResponseBody(msg: HttpBody): ProcessingResponse {
    if (!this.st.responseDuplex) return { response_body: { response: CONTINUE } };
    return streamedBody('response_body', msg.body ?? Buffer.alloc(0), msg.end_of_stream === true);
  }

  // ── ends ───────────────────────────────────────────────────────────────────

  private to(next: Phase): void {
    if (!NEXT[this.st.phase].includes(next)) throw new Error(`ext_proc message out of order (${this.st.phase} → ${next})`);
    this.st.phase = next;
  }

  private fail(e: unknown): ProcessingResponse {
    const err = isKvError(e) ? e : kvError('internal', {});
    if (!isKvError(e)) this.env.onInternalError?.(e);
    if (this.st.requestId === '') this.st.requestId = this.env.newRequestId();
    this.end({ error: err });
    const extra = [setHeader('x-kvfleet-request-id', this.st.requestId)];
    if (this.st.tenant !== undefined) extra.push(setHeader('x-kvfleet-tenant', this.st.tenant.id));
    return immediateError(err, extra);
  }

  private end(o: Partial<Pick<Parameters<ExchangeEnv['report']>[0], 'status' | 'error'>>): void {
    this.st.lease.releaseAll();
    this.to('done');
    this.report(o);
  }

  private report(o: { status?: number | undefined; servedEndpoint?: string | undefined; upstreamMs?: number | undefined; error?: KvError | undefined }): void {
    const st = this.st;
    if (st.reported) return;
    st.reported = true;
    this.env.report({
      requestId: st.requestId,
      api: st.api,
      decision: st.routed?.decision,
      tenant: st.tenant?.id,
      admission: st.admission,
      error: o.error,
      decisionUs: st.routed?.decisionUs,
      status: o.status ?? o.error?.status,
      servedEndpoint: o.servedEndpoint,
      upstreamMs: o.upstreamMs,
      stream: st.stream,
    });
  }
}

function unreachable(x: never): never {
  throw new Error(`unknown ext_proc message ${String(x)}`);
}
