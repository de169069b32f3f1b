// Outcome feedback (Envoy's access log entries, src/accesslog/), turned into live state.
// Per attempt (the router's upstream log: one entry per try, retried-away ones included):
//   no response      a reset or a connect failure → failure
//   status           5xx → failure; anything else answered (2xx, 4xx other than 429) →
//                    success; 429 → cooldown only
//   time to headers  latency average of the endpoint (successes)
//   rate limits      429 or 503 with `retry-after` (seconds or HTTP date), 429 without it
//                    (default cooldown), `x-ratelimit-remaining-{requests,tokens}: 0` with
//                    `x-ratelimit-reset-{requests,tokens}` (`1s`, `6m0s`, `20ms`) → coolUntil
// Per request, when no per-attempt entries arrive (applyOutcome): the endpoint that served
// as above, and `attempts` > 1 means the first n−1 offered endpoints (other than the one that
// served) failed: connect failure, refused stream, reset or a retried 503.
import type { HealthConfig } from '../config/live-state-schema.js';
import type { LiveEndpoints } from './live-endpoints.js';

export interface ResponseFacts {
  readonly status: number | undefined;
  readonly served: string | undefined;
  readonly attempts: number | undefined;
  /** The endpoint list kvfleet offered (primary first). */
  readonly offered: readonly string[];
  /** Decision → response headers, ms. */
  readonly ttfbMs: number | undefined;
  readonly headers: ReadonlyMap<string, string>;
  /** Monotonic now, ms, and wall-clock now (for HTTP-date retry-after), ms since epoch. */
  readonly now: number;
  readonly wallNow: number;
}

export interface OutcomeEffects {
  readonly failed: readonly string[];
  readonly succeeded: string | undefined;
  readonly cooled: { readonly address: string; readonly ms: number; readonly reason: string } | undefined;
  readonly circuitsOpened: readonly string[];
}

/** `retry-after`: delta seconds or an HTTP date → ms from now; undefined when absent or garbage. */
export function retryAfterMs(value: string | undefined, wallNow: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - wallNow);
}

/** OpenAI-style reset durations: `1s`, `6m0s`, `20ms`, `1h2m3.5s`, or plain seconds. */
export function resetDurationMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (const m of v.matchAll(re)) {
    const n = Number(m[1]);
    const unit = m[2];
    total += unit === 'h' ? n * 3_600_000 : unit === 'm' ? n * 60_000 : unit === 's' ? n * 1000 : n;
    consumed += m[0].length;
  }
  return consumed === v.length && consumed > 0 ? total : undefined;
}

function rateLimitCooldown(f: Pick<ResponseFacts, 'status' | 'headers' | 'wallNow'>, h: HealthConfig): { ms: number; reason: string } | undefined {
  const ra = retryAfterMs(f.headers.get('retry-after'), f.wallNow);
  if (f.status === 429) return { ms: ra ?? h.default_cooldown_ms, reason: ra !== undefined ? '429 retry-after' : '429' };
  if (f.status === 503 && ra !== undefined) return { ms: ra, reason: '503 retry-after' };
  for (const kind of ['requests', 'tokens'] as const) {
    const remaining = f.headers.get(`x-ratelimit-remaining-${kind}`);
    if (remaining !== undefined && Number(remaining.trim()) === 0) {
      const reset = resetDurationMs(f.headers.get(`x-ratelimit-reset-${kind}`));
      return { ms: reset ?? h.default_cooldown_ms, reason: `ratelimit-${kind}` };
    }
  }
  return undefined;
}

/** One upstream attempt (the router's upstream log entry). */
export interface AttemptFacts {
  readonly endpoint: string;
  /** The response status; undefined or 0 when there was none (reset, connect failure). */
  readonly status: number | undefined;
  /** Request start → first upstream byte, ms. */
  readonly ttfbMs: number | undefined;
  readonly headers: ReadonlyMap<string, string>;
  readonly now: number;
  readonly wallNow: number;
}

const NO_EFFECTS: OutcomeEffects = Object.freeze({ failed: [], succeeded: undefined, cooled: undefined, circuitsOpened: [] });

/** Apply one attempt to the live state of its endpoint. */
export function applyAttempt(live: LiveEndpoints, a: AttemptFacts, h: HealthConfig): OutcomeEffects {
  const failed: string[] = [];
  const opened: string[] = [];
  let succeeded: string | undefined;
  let cooled: OutcomeEffects['cooled'];
  const status = a.status ?? 0;
  if (status === 0) {
    failed.push(a.endpoint);
    if (live.recordFailure(a.endpoint)) opened.push(a.endpoint);
    return { failed, succeeded, cooled, circuitsOpened: opened };
  }
  const cd = rateLimitCooldown({ status, headers: a.headers, wallNow: a.wallNow }, h);
  if (cd !== undefined) {
    const ms = Math.min(h.max_cooldown_ms, Math.max(0, cd.ms));
    live.coolDown(a.endpoint, a.now + ms, cd.reason);
    cooled = { address: a.endpoint, ms, reason: cd.reason };
  }
  if (status >= 500) {
    failed.push(a.endpoint);
    if (live.recordFailure(a.endpoint)) opened.push(a.endpoint);
  } else if (status !== 429) {
    live.recordSuccess(a.endpoint, a.ttfbMs);
    succeeded = a.endpoint;
  }
  return { failed, succeeded, cooled, circuitsOpened: opened };
}

/** Apply one response's facts to the live state (attempts inferred from their count). */
export function applyOutcome(live: LiveEndpoints, f: ResponseFacts, h: HealthConfig): OutcomeEffects {
  const failed: string[] = [];
  const opened: string[] = [];
  const attempts = f.attempts ?? 1;
  if (attempts > 1) {
    for (const a of f.offered.slice(0, attempts - 1)) {
      if (a === f.served || failed.includes(a)) continue;
      failed.push(a);
      if (live.recordFailure(a)) opened.push(a);
    }
  }
  const served =
    f.served !== undefined && f.status !== undefined
      ? applyAttempt(
          live,
          { endpoint: f.served, status: f.status, ttfbMs: attempts <= 1 ? f.ttfbMs : undefined, headers: f.headers, now: f.now, wallNow: f.wallNow },
          h,
        )
      : NO_EFFECTS;
  return {
    failed: [...failed, ...served.failed],
    succeeded: served.succeeded,
    cooled: served.cooled,
    circuitsOpened: [...opened, ...served.circuitsOpened],
  };
}
