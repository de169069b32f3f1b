// Budgets and rate limits through the exchange (no socket): the 429s a client sees, the
// downgrade, the explanation, the metering flag, settlement from the meter's reading, the
// state backend being unreachable, and a client that leaves while kvfleet waits.
import { describe, expect, it } from 'vitest';
import { Exchange } from '../../src/extproc/exchange.js';
import { MeterStream } from '../../src/extproc/meter/meter-stream.js';
import type { ProcessingResponse } from '../../src/extproc/proto-types.js';
import { hashApiKey } from '../../src/request/identity.js';
import { MemoryUsageStore } from '../../src/state/memory-usage.js';
import type { UsageStore } from '../../src/state/usage-store.js';
import type { AdmitOutcome, UsagePlan } from '../../src/core/limits/plan.js';
import { exchangeEnv } from '../../src/extproc/exchange-env.js';
import { LiveEndpoints } from '../../src/fleet/live-endpoints.js';
import { Router } from '../../src/router/router.js';
import { fleetFrom } from '../helpers/fleet.js';
import { explained, headers, immediate, post, setHeaders, testEnv } from '../helpers/exchange.js';

const FLEET = (extra = '') => `
server: { max_body_bytes: 65536 }
routing: { weights: { quality: 1, cost: 0, latency: 0, cache: 0, load: 0 } }
models:
  - { name: premium, cluster: pool-premium, model_id: premium, endpoints: [10.0.0.1:8000], priors: { quality: 0.9, cost_per_1k_input: 10, cost_per_1k_output: 30 } }
  - { name: cheap, cluster: pool-cheap, model_id: cheap, endpoints: [10.0.1.1:8000], priors: { quality: 0.5 } }
identity: { sources: [api_key] }
tenants:
  acme:
    api_keys: [${hashApiKey('key-acme')}]
    limits: { rpm: 2 }
  frugal:
    api_keys: [${hashApiKey('key-frugal')}]
    budget: { daily_usd: 0.05, on_exhausted: downgrade }
  strict:
    api_keys: [${hashApiKey('key-strict')}]
    budget: { daily_usd: 0.05 }
${extra}`;

const chat = (model: string, content = 'hello there') => ({
  body: Buffer.from(JSON.stringify({ model, max_tokens: 100, messages: [{ role: 'user', content }] })),
  end_of_stream: true,
});

function send(env: ReturnType<typeof testEnv>, key: string, model = 'premium'): ProcessingResponse {
  const ex = new Exchange(env);
  const h = ex.handle({ request_headers: post('/v1/chat/completions', { authorization: `Bearer ${key}` }) });
  if (h.immediate_response !== undefined) return h;
  const b = ex.handle({ request_body: chat(model) });
  ex.close();
  return b;
}

describe('rate limits', () => {
  it('over the tenant RPM: 429 rate_limited with retry-after and x-ratelimit-*; other tenants unaffected', () => {
    const env = testEnv(fleetFrom(FLEET()));
    expect(send(env, 'key-acme').request_body).toBeDefined();
    expect(send(env, 'key-acme').request_body).toBeDefined();
    const r = immediate(send(env, 'key-acme'));
    expect(r.status).toBe(429);
    expect(r.body.error).toMatchObject({ code: 'rate_limited', type: 'rate_limit_error' });
    expect(r.body.error.message).toContain("tenant 'acme'");
    expect(r.headers).toMatchObject({
      'retry-after': '30',
      'x-ratelimit-limit-requests': '2',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '1m0s',
    });
    // A refused request teaches nothing and holds nothing.
    expect(env.live.snapshot().reduce((n, e) => n + e.inflight, 0)).toBe(2);
    expect(send(env, 'key-strict').request_body).toBeDefined();
  });
});

describe('rate headroom as a routing input', () => {
  it('model auto: near its limit the explanation says so; spent, the model is left out before it would answer 429', () => {
    const env = testEnv(
      fleetFrom(
        FLEET().replace(
          '- { name: premium, cluster: pool-premium, model_id: premium, endpoints: [10.0.0.1:8000], priors: { quality: 0.9, cost_per_1k_input: 10, cost_per_1k_output: 30 } }',
          '- { name: premium, cluster: pool-premium, model_id: premium, endpoints: [10.0.0.1:8000], priors: { quality: 0.9 }, limits: { rpm: 20 } }',
        ),
      ),
    );
    const auto = () => send(env, 'key-strict', 'auto');
    const cluster = (r: ProcessingResponse) => setHeaders(r.request_body?.response.header_mutation?.set_headers)['x-kvfleet-cluster'];
    for (let i = 0; i < 19; i++) expect(cluster(auto())).toBe('pool-premium');
    const last = auto(); // 1 of 20 left when it was decided
    expect(cluster(last)).toBe('pool-premium');
    expect(explained(last)['x-kvfleet-reason']).toContain('headroom-low:5%');
    const next = auto();
    expect(cluster(next)).toBe('pool-cheap');
    expect(explained(next)['x-kvfleet-reason']).toContain('headroom:skip:premium');
    // Named explicitly, the spent model answers 429 (no silent switch).
    expect(immediate(send(env, 'key-strict', 'premium')).body.error.code).toBe('rate_limited');
  });
});

describe('budgets', () => {
  it('block: once the daily budget is spent, 429 budget_exceeded until the UTC day ends; x-kvfleet-budget-remaining explains', () => {
    const env = testEnv(fleetFrom(FLEET()));
    const first = send(env, 'key-strict'); // ~ $3 reserved (100 max_tokens at $30/1k + the prompt)
    expect(explained(first)['x-kvfleet-budget-remaining']).toBe('day_usd=0.0000');
    const refused = send(env, 'key-strict');
    const r = immediate(refused);
    expect(r.status).toBe(429);
    expect(r.body.error).toMatchObject({ code: 'budget_exceeded', type: 'insufficient_quota' });
    expect(explained(refused)['x-kvfleet-budget-remaining']).toBe('day_usd=0.0000');
    const now = new Date();
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    expect(Number(r.headers['retry-after'])).toBeGreaterThan((midnight - Date.now()) / 1000 - 5);
  });

  it('alert_at: a budget past its share is told once per window', () => {
    const alerts: string[] = [];
    const fleet = fleetFrom(FLEET());
    const live = new LiveEndpoints();
    const router = new Router({ fleet: () => fleet, live, endpoints: live, now: () => performance.now(), onBudgetAlert: (c) => alerts.push(c.key) });
    const env = exchangeEnv(router, {}) as ReturnType<typeof testEnv>;
    send(env, 'key-frugal'); // spends the whole $0.05: past 80 %
    send(env, 'key-frugal');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatch(/^budget:tenant:frugal:usd:d\d{4}-\d{2}-\d{2}$/);
  });

  it('downgrade: once spent, the cheapest model the tenant may use, with the reason', () => {
    const env = testEnv(fleetFrom(FLEET()));
    const first = send(env, 'key-frugal');
    expect(setHeaders(first.request_body?.response.header_mutation?.set_headers)['x-kvfleet-cluster']).toBe('pool-premium');
    const second = send(env, 'key-frugal');
    expect(setHeaders(second.request_body?.response.header_mutation?.set_headers)['x-kvfleet-cluster']).toBe('pool-cheap');
    expect(explained(second)['x-kvfleet-reason']).toContain('budget-downgrade:cheap');
  });
});

describe('metering', () => {
  it('a budgeted request is marked for the meter; the meter’s reading settles the reservation', async () => {
    const now = Date.now();
    const store = new MemoryUsageStore(() => now);
    const fleet = fleetFrom(FLEET());
    const live = new LiveEndpoints();
    const router = new Router({ fleet: () => fleet, live, endpoints: live, now: () => performance.now(), usage: store, wallNow: () => now });
    const env = exchangeEnv(router, {});
    const ex = new Exchange(env);
    ex.handle({ request_headers: post('/v1/chat/completions', { authorization: 'Bearer key-strict' }) });
    const b = ex.handle({ request_body: chat('premium') });
    ex.close();
    expect(setHeaders(b.request_body?.response.header_mutation?.set_headers)['x-kvfleet-meter']).toBe('1');
    // The meter sees the response: an SSE stream whose last chunk reports usage.
    const meter = new MeterStream((key, reading) => router.metered(key, reading));
    const key = b.dynamic_metadata?.fields?.['kvfleet']?.structValue?.fields?.['key'];
    meter.message({
      response_headers: headers({ ':status': '200', 'content-type': 'text/event-stream' }),
      metadata_context: { filter_metadata: { kvfleet: { fields: { key: key ?? {} } } } },
    });
    const sse = [
      'data: {"choices":[{"delta":{"content":"a"}}]}\n\n',
      'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n',
      'data: [DONE]\n\n',
    ];
    sse.forEach((c, i) => meter.message({ response_body: { body: Buffer.from(c), end_of_stream: i === sse.length - 1 } }));
    const [day] = await store.usage('strict', now);
    expect(day).toMatchObject({ requests: 1, promptTokens: 1, completionTokens: 1 });
    expect(day?.usd).toBeCloseTo((1 * 10 + 1 * 30) / 1000);
    // The ~$3 reservation gave way to the actual $0.04: the $0.05 budget has room again.
    expect(send(exchangeEnv(router, {}) as ReturnType<typeof testEnv>, 'key-strict').request_body).toBeDefined();
  });
});

/** A store that cannot be reached (Redis down). */
const unreachable: UsageStore = {
  backend: 'redis',
  up: () => false,
  admit: (): AdmitOutcome => ({ allowed: false, outcomes: [], unavailable: true }),
  settle: () => undefined,
  peek: () => Promise.resolve(new Map()),
  usage: () => Promise.resolve([]),
  close: () => Promise.resolve(),
};

describe('state backend unreachable', () => {
  const route = (onUnavailable: string) => {
    const fleet = fleetFrom(FLEET(`state: { backend: redis, redis: { url: "redis://127.0.0.1:1" }, on_unavailable: ${onUnavailable} }`));
    const live = new LiveEndpoints();
    const router = new Router({ fleet: () => fleet, live, endpoints: live, now: () => performance.now(), usage: unreachable });
    return send(exchangeEnv(router, {}) as ReturnType<typeof testEnv>, 'key-acme');
  };
  it('fail_open routes on; fail_closed answers 503 state_unavailable', () => {
    expect(route('fail_open').request_body).toBeDefined();
    const r = immediate(route('fail_closed'));
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('state_unavailable');
  });
});

describe('a client that leaves while kvfleet waits on the store', () => {
  it('the decision is abandoned: no slot stays held, the token reservation is given back', async () => {
    let release: (() => void) | undefined;
    const mem = new MemoryUsageStore();
    const settled: UsagePlan[] = [];
    const slow: UsageStore = {
      ...unreachable,
      backend: 'redis',
      up: () => true,
      admit: (p) => new Promise<AdmitOutcome>((resolve) => (release = () => resolve(mem.admit(p)))),
      settle: (s) => settled.push(s.plan),
    };
    const fleet = fleetFrom(FLEET());
    const live = new LiveEndpoints();
    const router = new Router({ fleet: () => fleet, live, endpoints: live, now: () => performance.now(), usage: slow });
    const ex = new Exchange(exchangeEnv(router, {}));
    ex.respondNow({ request_headers: post('/v1/chat/completions', { authorization: 'Bearer key-acme' }) });
    const pending = ex.respond({ request_body: chat('premium') });
    expect(pending).toBeInstanceOf(Promise);
    ex.close(); // the client went away
    release?.();
    await pending;
    expect(live.snapshot().reduce((n, e) => n + e.inflight, 0)).toBe(0);
    expect(router.ends.inflight).toBe(0);
    expect(settled).toHaveLength(1);
  });
});
