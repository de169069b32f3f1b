// The per-request state machine: one instance per ext_proc stream. Drive it with
// ProcessingRequest messages (from a gRPC stream or a test) and it returns the
// ProcessingResponses to send: one per message in BUFFERED mode; in FULL_DUPLEX_STREAMED
// mode none until the body is complete, then the headers answer and the body. It never
// throws: errors become OpenAI-shaped immediate responses.
//
//   request_headers ──► request_body ──► done   (routed: the answer carries the route)
//          └──────────────────┴──────────► done   (kvfleet answered itself, or failed)
// kvfleet's part ends with the request phase (`finished`); when the stream itself ends is
// server.ts's business (Envoy half-closes it after a full-duplex body). The explanation headers are rendered
// by Envoy from the metadata of the answer (explain-metadata.ts); what happens next reaches
// the Router through Envoy's access log (src/accesslog/), which also reports routed requests.
// Transitions happen in `to()` only; the dispatch is one switch over the message kind
// with a compile-time completeness check.
import { isKvError, kvError, type KvError } from '../errors.js';
import { BufferedBody } from './body/buffered-body.js';
import { NO_ANSWER, type Answers, type BodyReader } from './body/body-reader.js';
import { isPromise, andThen } from '../router/maybe-async.js';
import { BUDGET_HEADER } from '../router/usage-gate.js';
import { isFullDuplex } from './body/body-mode.js';
import { DuplexBody } from './body/duplex-body.js';
import type { ExchangeEnv, ExchangeState, Phase } from './exchange-state.js';
import { CONTINUE, headerMap, immediateError, setHeader, streamedBody } from './mutations.js';
import { onRequestHeaders } from './phases/request-headers.js';
import { isCached, routeBody } from './phases/request-body.js';
import { answerFields, withKvfleetMetadata } from './explain-metadata.js';
import type { HttpBody, HttpHeaders, ProcessingRequest, ProcessingResponse, RequestKind } from './proto-types.js';
import { RequestLease } from './request-lease.js';
import { readSubsetHint, withSubset } from './subset-hint.js';
import { mirrorHeaders, routeShadow, shadowClaim, shadowHeaders } from './phases/shadow.js';

const KINDS: readonly RequestKind[] = ['request_headers', 'request_body', 'request_trailers', 'response_headers', 'response_body', 'response_trailers'];

/** Which message this is (the oneof `request`, or the field that is set). */
export function messageKind(req: ProcessingRequest): RequestKind | undefined {
  return req.request ?? KINDS.find((k) => req[k] !== undefined);
}

const NEXT: { readonly [P in Phase]: readonly Phase[] } = {
  request_headers: ['request_body', 'done'],
  request_body: ['done'],
  done: ['done'],
};

/** A client's x-request-id is echoed only when it is a short printable token. */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

export class Exchange {
  private readonly st: ExchangeState;
  private closed = false;
  /** Made only when flow control may hold the request (an AbortController costs ~10 µs). */
  private abort: AbortController | undefined;
  /**
   * Flow control holds this BUFFERED request: the server sends Envoy a longer message timer
   * (override_message_timeout). In full duplex Envoy runs no message timer.
   */
  onHold: ((ms: number) => void) | undefined;

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
      cacheHit: undefined,
      responseDuplex: false,
      subset: undefined,
      lease: new RequestLease(),
      reported: false,
      shadow: undefined,
    };
  }

  get state(): Readonly<ExchangeState> {
    return this.st;
  }

  /** kvfleet's part is over (routed, or answered itself): the stream can end. */
  get finished(): boolean {
    return this.st.phase === 'done';
  }

  /** A full-duplex request body is being collected (server.ts times it: server.body_timeout_seconds). */
  get collecting(): boolean {
    return this.st.phase === 'request_body' && this.st.body?.collecting === true && this.st.body.holdsHeaders;
  }

  /**
   * The answers to one message, in order (none, one, or several in full-duplex mode): now, or
   * a promise when routing waits (a Redis round trip for usage limits, flow control). The
   * caller feeds the next message only once these are out (server.ts queues them). Never
   * throws, never rejects: an error becomes the OpenAI-shaped answer.
   */
  respond(req: ProcessingRequest): Answers {
    try {
      const out = this.dispatch(req);
      return isPromise(out) ? out.catch((e: unknown) => [this.fail(e)]) : out;
    } catch (e) {
      return [this.fail(e)];
    }
  }

  private dispatch(req: ProcessingRequest): Answers {
    {
      const kind = messageKind(req);
      switch (kind) {
        case 'request_headers':
          return this.requestHeaders(req, req.request_headers ?? {});
        case 'request_body':
          return this.st.phase === 'request_body' && this.st.body !== undefined ? this.bodyAnswers(this.st.body.chunk(req.request_body ?? {})) : NO_ANSWER;
        case 'request_trailers':
          return this.requestTrailers();
        case 'response_headers':
          // kvfleet asks for no response phase; a filter that sends one anyway gets it back unchanged.
          return [{ response_headers: { response: CONTINUE } }];
        case 'response_body':
          return [this.passResponseBody(req.response_body ?? {})];
        case 'response_trailers':
          return [{ response_trailers: {} }];
        case undefined:
          throw new Error('empty ext_proc message');
        default:
          return unreachable(kind);
      }
    }
  }

  /** respond(), now: warm-up and tests (throws when the answer would wait). */
  respondNow(req: ProcessingRequest): readonly ProcessingResponse[] {
    const out = this.respond(req);
    if (isPromise(out)) throw new Error('the answer is not ready yet: use respond()');
    return out;
  }

  /** One message, one answer, now: the BUFFERED conversation of warm-up and tests. */
  handle(req: ProcessingRequest): ProcessingResponse {
    return this.respondNow(req)[0] ?? {};
  }

  /** The body did not complete in time: the 408 to send (nothing if it has completed meanwhile). */
  expire(): readonly ProcessingResponse[] {
    if (!this.collecting) return NO_ANSWER;
    const s = this.st.fleet.server.body_timeout_seconds;
    return [this.fail(kvError('body_timeout', { seconds: s }))];
  }

  /** Made when a wait needs it (flow control, a model waking): aborted when the stream ends. */
  private abortSignal(): AbortSignal {
    this.abort ??= new AbortController();
    if (this.closed) this.abort.abort();
    return this.abort.signal;
  }

  /** The stream ended (completed, cancelled or broken): release what is held, report once. */
  close(): void {
    this.closed = true;
    this.abort?.abort();
    this.end({});
  }

  // ── phases ─────────────────────────────────────────────────────────────────

  private requestHeaders(req: ProcessingRequest, msg: HttpHeaders): Answers {
    const st = this.st;
    st.subset = readSubsetHint(req.metadata_context);
    st.responseDuplex = req.protocol_config?.response_body_mode === 'FULL_DUPLEX_STREAMED';
    const headers = headerMap(msg);
    const rid = headers.get('x-request-id');
    st.requestId = rid !== undefined && REQUEST_ID.test(rid) ? rid : this.env.newRequestId();
    // A shadow copy of a request kvfleet mirrored (phases/shadow.ts) is its primary's tenant's.
    st.shadow = shadowClaim(this.env.shadow, headers);
    const step =
      st.shadow !== undefined
        ? shadowHeaders(headers, st.shadow)
        : onRequestHeaders(st.fleet, headers, req.metadata_context?.filter_metadata, msg.end_of_stream === true, st.requestId, (t) => (st.tenant = t));
    if (step.kind === 'answered') {
      this.end({ status: 200 });
      return [{ ...step.answer, dynamic_metadata: withKvfleetMetadata(answerFields(st.requestId, st.tenant?.id)) }];
    }
    st.meta = step.meta;
    st.api = step.api;
    st.tenant = step.tenant;
    st.body = this.bodyReader(isFullDuplex(st.fleet.server.body_mode, req.protocol_config));
    this.to('request_body');
    // Full duplex: the answer waits for the body (it carries the route).
    return st.body.holdsHeaders ? NO_ANSWER : [step.answer];
  }

  private bodyReader(duplex: boolean): BodyReader {
    const st = this.st;
    const shadow = this.env.shadow;
    const route = (body: Buffer) =>
      andThen(
        st.shadow !== undefined && shadow !== undefined
          ? routeShadow(
              {
                shadow,
                claim: st.shadow,
                path: st.meta?.path ?? '',
                maxBodyBytes: st.fleet.server.max_body_bytes,
                view: withSubset(this.env.router.live, st.subset),
              },
              body,
            )
          : routeBody(
              {
                router: this.env.router,
                tenant: st.tenant,
                admitted: (a) => (st.admission = a),
                requestId: st.requestId,
                api: st.api ?? 'chat',
                meta: st.meta as NonNullable<typeof st.meta>,
                maxBodyBytes: st.fleet.server.max_body_bytes,
                view: withSubset(this.env.router.live, st.subset),
                signal: () => this.abortSignal(),
                onHold: duplex ? undefined : (ms) => this.onHold?.(ms),
                mirror: shadow !== undefined ? (r) => mirrorHeaders(shadow.mirror(r)) : undefined,
                cache: this.env.responseCache,
              },
              body,
            ),
        (r) => {
          if (isCached(r)) {
            st.cacheHit = r.model;
            return r;
          }
          st.routed = r.routed;
          st.stream = r.stream;
          // The client went away while kvfleet waited (limits, flow control): nothing is sent.
          if (this.closed) this.env.router.abandon(r.routed);
          return r;
        },
      );
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

  private requestTrailers(): Answers {
    const { phase, body } = this.st;
    if (phase === 'request_body' && body !== undefined) return this.bodyAnswers(body.trailers());
    // After an immediate response, or once a full-duplex body has been answered: nothing more to say.
    return phase === 'done' || body?.holdsHeaders === true ? NO_ANSWER : [{ request_trailers: {} }];
  }

  /** Answers of the body reader; once the body is routed (or answered from the response cache), kvfleet's part is over. */
  private bodyAnswers(out: Answers): Answers {
    return andThen(out, (answers) => {
      if (this.st.phase !== 'request_body') return answers;
      if (this.st.routed !== undefined) this.end({});
      else if (this.st.cacheHit !== undefined) this.end({ status: 200 });
      return answers;
    });
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
    // Envoy renders the explanation headers from the metadata (it removes copies set here).
    const fields = answerFields(this.st.requestId, this.st.tenant?.id);
    const left = err.headers[BUDGET_HEADER];
    if (left !== undefined) fields['budget_remaining'] = { stringValue: left };
    return { ...immediateError(err, extra), dynamic_metadata: withKvfleetMetadata(fields) };
  }

  /** kvfleet's part is over: give back what the request holds; report it unless it was routed (the Router reports those at their end). */
  private end(o: { status?: number | undefined; error?: KvError | undefined }): void {
    this.st.lease.releaseAll();
    this.to('done');
    if (this.st.routed === undefined) this.report(o);
  }

  private report(o: { status?: number | undefined; error?: KvError | undefined }): void {
    const st = this.st;
    // A shadow copy is no client request: its outcome is the shadow report's (router/shadow/).
    if (st.reported || st.shadow !== undefined) return;
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
      servedEndpoint: undefined,
      upstreamMs: undefined,
      stream: st.stream,
      cacheHit: st.cacheHit,
    });
  }
}

function unreachable(x: never): never {
  throw new Error(`unknown ext_proc message ${String(x)}`);
}
