// Outcome feedback from the response-headers phase, turned into live state:
//   served endpoint  Envoy's `upstream.address` response attribute (after retries)
//   earlier attempts `upstream.request_attempt_count` > 1 means the first n−1 offered
//                    endpoints (other than the one that served) failed: connect
//                    failure, refused stream or a retried 503; each counts as a failure
//   status           5xx from the served endpoint → failure; anything else it answered
//                    (2xx, 4xx other than 429) → success; 429 → cooldown only
//   time to headers  latency average of the served endpoint (first-attempt successes only)
//   rate limits      429 or 503 with `retry-after` (seconds or HTTP date), 429 without it
//                    (default cooldown), `x-ratelimit-remaining-{requests,tokens}: 0` with
//                    `x-ratelimit-reset-{requests,tokens}` (`1s`, `6m0s`, `20ms`) → coolUntil
//   in-flight        moves from the primary to the endpoint that actually served, so a
//                    streamed response counts against the replica that is generating it
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

function rateLimitCooldown(f: ResponseFacts, h: HealthConfig): { ms: number; reason: string } | undefined {
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

/** Apply one response's facts to the live state. */
export function applyOutcome(live: LiveEndpoints, f: ResponseFacts, h: HealthConfig): OutcomeEffects {
  const failed: string[] = [];
  const opened: string[] = [];
  const fail = (a: string) => {
    failed.push(a);
    if (live.recordFailure(a)) opened.push(a);
  };
  const attempts = f.attempts ?? 1;
  if (attempts > 1) {
    for (const a of f.offered.slice(0, attempts - 1)) if (a !== f.served && !failed.includes(a)) fail(a);
  }
  let succeeded: string | undefined;
  let cooled: OutcomeEffects['cooled'];
  if (f.served !== undefined && f.status !== undefined) {
    const cd = rateLimitCooldown(f, h);
    if (cd !== undefined) {
      const ms = Math.min(h.max_cooldown_ms, Math.max(0, cd.ms));
      live.coolDown(f.served, f.now + ms, cd.reason);
      cooled = { address: f.served, ms, reason: cd.reason };
    }
    if (f.status >= 500) fail(f.served);
    else if (f.status !== 429) {
      live.recordSuccess(f.served, attempts <= 1 ? f.ttfbMs : undefined);
      succeeded = f.served;
    }
  }
  return { failed, succeeded, cooled, circuitsOpened: opened };
}
