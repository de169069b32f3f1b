// The one error catalogue. Every error kvfleet returns to a client has a stable
// code, an HTTP status, an OpenAI error `type` and a message that is safe to show:
// it may name a field or header, it never contains prompt text.

export const ERROR_CATALOGUE = {
  invalid_json: { status: 400, type: 'invalid_request_error' },
  invalid_field: { status: 400, type: 'invalid_request_error' },
  missing_field: { status: 400, type: 'invalid_request_error' },
  body_required: { status: 400, type: 'invalid_request_error' },
  invalid_header: { status: 400, type: 'invalid_request_error' },
  unauthenticated: { status: 401, type: 'authentication_error' },
  policy_denied: { status: 403, type: 'permission_error' },
  unknown_model: { status: 404, type: 'not_found_error' },
  unknown_route: { status: 404, type: 'not_found_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  body_timeout: { status: 408, type: 'invalid_request_error' },
  body_too_large: { status: 413, type: 'invalid_request_error' },
  rate_limited: { status: 429, type: 'rate_limit_error' },
  no_candidate: { status: 503, type: 'service_unavailable_error' },
  no_healthy_endpoint: { status: 503, type: 'service_unavailable_error' },
  overloaded: { status: 503, type: 'service_unavailable_error' },
  unsupported_body_mode: { status: 500, type: 'server_error' },
  internal: { status: 500, type: 'server_error' },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class KvError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  /** Seconds, for 429 and 503 answers that can say when to come back. */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, param: string | null = null, retryAfter?: number) {
    super(message);
    this.name = 'KvError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.type = ERROR_CATALOGUE[code].type;
    this.param = param;
    this.retryAfter = retryAfter;
  }

  /** OpenAI-shaped body: {"error":{"message","type","code","param"}}. */
  toBody(): string {
    return JSON.stringify({
      error: { message: this.message, type: this.type, code: this.code, param: this.param },
    });
  }
}

export const isKvError = (e: unknown): e is KvError => e instanceof KvError;
