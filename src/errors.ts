// The one error catalogue. Every error kvfleet returns to a client (on the request
// path and on the admin port) has a stable code, an HTTP status, an OpenAI error
// `type`, and a message built here from typed details: it may name a field, a
// header, a model or a number, never prompt text. Call sites say what went wrong
// (`kvError('body_too_large', { bytes, limit })`); the wording lives here.
// test/unit/errors.test.ts checks that this catalogue, the README's error table and
// the codes thrown in src/ agree.

const INVALID = 'invalid_request_error';
const UNAVAILABLE = 'service_unavailable_error';

interface Entry<D> {
  readonly status: number;
  readonly type: string;
  readonly message: (d: D) => string;
  /** The request field or header the error is about (OpenAI `param`). */
  readonly param?: (d: D) => string | null;
}

const entry = <D>(status: number, type: string, message: (d: D) => string, param?: (d: D) => string | null): Entry<D> =>
  param === undefined ? { status, type, message } : { status, type, message, param };

type Field = { readonly param: string };

export const ERRORS = {
  invalid_json: entry(400, INVALID, (d: { readonly got?: string; readonly depthLimit?: number }) =>
    d.depthLimit !== undefined
      ? `request body nests objects and arrays more than ${d.depthLimit} levels deep`
      : d.got === undefined
        ? 'request body is not valid JSON'
        : `request body must be a JSON object, got ${d.got}`,
  ),
  invalid_field: entry(
    400,
    INVALID,
    (d: Field & ({ readonly must: string } | { readonly model: string; readonly cannot: string } | { readonly allowList: boolean; readonly why: string })) =>
      'must' in d
        ? `'${d.param}' must ${d.must}`
        : 'cannot' in d
          ? `model '${d.model}' ${d.cannot}`
          : `no model ${d.allowList ? "in 'x-kvfleet-models' " : ''}can serve this request (${d.why})`,
    (d) => d.param,
  ),
  missing_field: entry(
    400,
    INVALID,
    (d: Field) => `'${d.param}' is required`,
    (d) => d.param,
  ),
  body_required: entry(400, INVALID, (_: Record<string, never>) => 'this endpoint needs a JSON request body'),
  invalid_header: entry(
    400,
    INVALID,
    (d: { readonly header: string; readonly problem: string }) => `header '${d.header}' ${d.problem}`,
    (d) => d.header,
  ),
  invalid_api_key: entry(401, 'authentication_error', (d: { readonly problem: 'missing' | 'unknown' | 'no_tenant' }) =>
    d.problem === 'missing'
      ? 'this fleet needs an API key: send Authorization: Bearer <key>'
      : d.problem === 'unknown'
        ? 'the API key is not valid for this fleet'
        : 'the request carries no identity this fleet knows',
  ),
  model_not_allowed: entry(
    403,
    'permission_error',
    (d: { readonly tenant: string; readonly model: string }) => `tenant '${d.tenant}' may not use model '${d.model}'`,
    () => 'model',
  ),
  policy_denied: entry(
    403,
    'permission_error',
    (
      d:
        | { readonly why: 'detector'; readonly detector: string }
        | { readonly why: 'class'; readonly dataClass: string; readonly tenant?: string }
        | { readonly why: 'rule'; readonly rule: string }
        | { readonly why: 'tenant'; readonly tenant: string; readonly what: string }
        | { readonly why: 'model'; readonly model: string; readonly dataClass: string },
    ) =>
      d.why === 'detector'
        ? `the request contains data the policy refuses (${d.detector})`
        : d.why === 'class'
          ? d.tenant !== undefined
            ? `tenant '${d.tenant}' may not send data of class '${d.dataClass}'`
            : `no model of this fleet may receive data of class '${d.dataClass}'`
          : d.why === 'rule'
            ? `the request is refused by policy rule '${d.rule}'`
            : d.why === 'tenant'
              ? `no model that can serve this request is within tenant '${d.tenant}''s allowed ${d.what === 'region' ? 'regions' : 'providers'}`
              : `model '${d.model}' may not receive this request (data class '${d.dataClass}') and no fallback model may`,
  ),
  unknown_model: entry(
    404,
    'not_found_error',
    (_: { readonly param: string }) => 'the requested model does not exist in this fleet; GET /v1/models lists them',
    (d) => d.param,
  ),
  unknown_route: entry(
    404,
    'not_found_error',
    (d: { readonly method: string; readonly path: string; readonly serves: string }) => `no route for ${d.method} ${d.path.slice(0, 64)}; ${d.serves}`,
  ),
  unknown_decision: entry(
    404,
    'not_found_error',
    (d: { readonly id: string; readonly capacity: number }) =>
      `no recent decision with request id '${d.id.slice(0, 128)}' (the ring keeps the last ${d.capacity})`,
    () => 'request_id',
  ),
  unknown_tenant: entry(
    404,
    'not_found_error',
    (d: { readonly id: string }) => `no tenant '${d.id.slice(0, 64)}' in the fleet file`,
    () => 'tenant',
  ),
  unknown_shadow: entry(
    404,
    'not_found_error',
    (_: Record<string, never>) => 'this shadow copy is not expected (unknown or expired token, or its slot was already served)',
    () => 'x-kvfleet-shadow-of',
  ),
  method_not_allowed: entry(405, INVALID, (d: { readonly path: string; readonly allowed: string }) => `${d.path} accepts ${d.allowed} only`),
  body_timeout: entry(408, INVALID, (d: { readonly seconds: number }) => `the request body did not arrive within ${d.seconds} s of its headers`),
  body_too_large: entry(413, INVALID, (d: { readonly bytes?: number; readonly limit: number }) =>
    d.bytes === undefined ? `request body is over ${d.limit} bytes` : `request body is ${d.bytes} bytes; the limit is ${d.limit}`,
  ),
  no_candidate: entry(
    503,
    UNAVAILABLE,
    (_: Record<string, never>) => 'no candidate model has a healthy endpoint',
    () => 'model',
  ),
  no_healthy_endpoint: entry(
    503,
    UNAVAILABLE,
    (d: { readonly model: string }) => `no healthy endpoint for model '${d.model}'`,
    () => 'model',
  ),
  no_compliant_endpoint: entry(
    503,
    UNAVAILABLE,
    (d: { readonly model: string }) => `no model the policy allows for this request has a usable endpoint (chosen: '${d.model}')`,
    () => 'model',
  ),
  overloaded: entry(429, 'rate_limit_error', (d: { readonly what: string }) => `kvfleet is ${d.what} right now; retry shortly`),
  rate_limited: entry(
    429,
    'rate_limit_error',
    (d: { readonly scope: string; readonly unit: 'requests' | 'tokens'; readonly limit: number }) =>
      `rate limit of the ${d.scope} reached: ${d.limit} ${d.unit} per minute`,
  ),
  budget_exceeded: entry(
    429,
    'insufficient_quota',
    (d: { readonly scope: string; readonly window: 'day' | 'month'; readonly unit: 'usd' | 'tokens' }) =>
      `the ${d.scope}'s ${d.window === 'day' ? 'daily' : 'monthly'} ${d.unit === 'usd' ? 'spending' : 'token'} budget is exhausted until the window resets (UTC)`,
  ),
  state_unavailable: entry(
    503,
    UNAVAILABLE,
    (_: Record<string, never>) => 'usage limits cannot be checked right now (state backend unreachable; state.on_unavailable is fail_closed)',
  ),
  model_waking: entry(503, UNAVAILABLE, (d: { readonly model: string; readonly why: 'waking' | 'min_sleep' | 'failed' }) =>
    d.why === 'failed'
      ? `model '${d.model}' is asleep and its replicas did not wake; retry later`
      : d.why === 'min_sleep'
        ? `model '${d.model}' is asleep for its minimum sleep time; retry after retry-after seconds`
        : `model '${d.model}' is waking up; retry after retry-after seconds`,
  ),
  model_busy: entry(
    409,
    INVALID,
    (d: { readonly model: string; readonly inflight: number }) =>
      `model '${d.model}' has ${d.inflight} requests in flight; it is put to sleep only when none is`,
  ),
  sleep_failed: entry(
    502,
    'server_error',
    (d: { readonly model: string }) => `no replica of model '${d.model}' went to sleep (kvfleet's log names each failure)`,
  ),
  sleep_unsupported: entry(400, INVALID, (d: { readonly model: string; readonly why: string }) => `model '${d.model}' cannot be put to sleep: ${d.why}`),
  unsupported_body_mode: entry(500, 'server_error', (d: { readonly announced: string; readonly setting?: string }) =>
    d.setting === undefined
      ? `the proxy's ext_proc filter sends request bodies as ${d.announced}; kvfleet routes on the body and needs BUFFERED or FULL_DUPLEX_STREAMED`
      : `the proxy's ext_proc filter announces ${d.announced} but server.body_mode is ${d.setting}`,
  ),
  internal: entry(500, 'server_error', (_: Record<string, never>) => 'kvfleet failed to process the request'),
} as const;

export type ErrorCode = keyof typeof ERRORS;
export type ErrorDetail<C extends ErrorCode> = Parameters<(typeof ERRORS)[C]['message']>[0];

export class KvError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  /** Seconds, for 429 and 503 answers that can say when to come back. */
  readonly retryAfter: number | undefined;
  /** More response headers (x-ratelimit-* on a 429). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, param: string | null, retryAfter?: number, headers: Readonly<Record<string, string>> = {}) {
    super(message);
    this.name = 'KvError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.type = ERRORS[code].type;
    this.param = param;
    this.retryAfter = retryAfter;
    this.headers = headers;
  }

  /** OpenAI-shaped body: {"error":{"message","type","code","param"}}. */
  toBody(): string {
    return JSON.stringify({ error: { message: this.message, type: this.type, code: this.code, param: this.param } });
  }
}

/** The error `code` with its catalogue message for `detail`; `retryAfter` in seconds for 429/503; more response headers. */
export function kvError<C extends ErrorCode>(code: C, detail: ErrorDetail<C>, retryAfter?: number, headers?: Readonly<Record<string, string>>): KvError {
  const e = ERRORS[code] as Entry<ErrorDetail<C>>;
  return new KvError(code, e.message(detail), e.param?.(detail) ?? null, retryAfter, headers);
}

export const isKvError = (e: unknown): e is KvError => e instanceof KvError;
