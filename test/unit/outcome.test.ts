// Outcome feedback (status, served endpoint, attempts, rate-limit headers → health,
// circuit, cooldowns, latency), in-flight accounting of streamed responses, the
// endpoint-picker subset hint and the gRPC health service names.
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { describe, expect, it } from 'vitest';
import { Exchange } from '../../src/extproc/exchange.js';
import { startExtProcServer } from '../../src/extproc/server.js';
import { EXT_PROC_SERVICE } from '../../src/extproc/proto.js';
import type { ProcessingRequest } from '../../src/extproc/proto-types.js';
import { LiveEndpoints } from '../../src/fleet/live-endpoints.js';
import { applyOutcome, resetDurationMs, retryAfterMs, type ResponseFacts } from '../../src/fleet/outcomes.js';
import { SUBSET_KEY, SUBSET_NAMESPACE } from '../../src/extproc/subset-hint.js';
import { fleetFrom } from '../helpers/fleet.js';
import { immediate, logEvent, post, setHeaders, testEnv } from '../helpers/exchange.js';

const HEALTH = fleetFrom().file.health;

function facts(over: Partial<ResponseFacts> & { h?: Record<string, string> }): ResponseFacts {
  return {
    status: 200,
    served: 'A',
    attempts: 1,
    offered: ['A', 'B', 'C'],
    ttfbMs: 10,
    headers: new Map(Object.entries(over.h ?? {})),
    now: 1000,
    wallNow: Date.UTC(2026, 0, 1),
    ...over,
  };
}

describe('rate-limit header parsing', () => {
  it('retry-after: seconds or an HTTP date', () => {
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs(' 1.5 ', now)).toBe(1500);
    expect(retryAfterMs(new Date(now + 7000).toUTCString(), now)).toBe(7000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });

  it('x-ratelimit-reset-*: OpenAI-style durations', () => {
    expect(resetDurationMs('1s')).toBe(1000);
    expect(resetDurationMs('6m0s')).toBe(360_000);
    expect(resetDurationMs('20ms')).toBe(20);
    expect(resetDurationMs('1h2m3.5s')).toBe(3_723_500);
    expect(resetDurationMs('2')).toBe(2000);
    expect(resetDurationMs('1s garbage')).toBeUndefined();
  });
});

describe('applyOutcome', () => {
  it('a 429 with retry-after cools the served endpoint down for that long (capped), no circuit failure', () => {
    const clock = { t: 1000 };
    const live = new LiveEndpoints({ now: () => clock.t });
    const e = applyOutcome(live, facts({ status: 429, h: { 'retry-after': '3' } }), HEALTH);
    expect(e.cooled).toEqual({ address: 'A', ms: 3000, reason: '429 retry-after' });
    expect(live.endpoint('A')?.coolUntil).toBe(4000);
    expect(live.endpoint('A')?.healthy).toBe(true);
    expect(e.failed).toEqual([]);
    clock.t = 3999;
    expect(live.endpoint('A')?.coolUntil).toBe(4000);
    clock.t = 4000;
    expect(live.endpoint('A')?.coolUntil).toBeUndefined();
    applyOutcome(live, facts({ status: 429, h: { 'retry-after': '999999' }, now: 4000 }), HEALTH);
    expect(live.endpoint('A')?.coolUntil).toBe(4000 + HEALTH.max_cooldown_ms);
  });

  it('429 without retry-after uses the default cooldown; remaining-requests 0 uses its reset; 503 + retry-after cools too', () => {
    const live = new LiveEndpoints({ now: () => 1000 });
    applyOutcome(live, facts({ status: 429 }), HEALTH);
    expect(live.endpoint('A')?.coolUntil).toBe(1000 + HEALTH.default_cooldown_ms);
    const r = applyOutcome(live, facts({ served: 'B', h: { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '6m0s' } }), HEALTH);
    expect(r.cooled?.reason).toBe('ratelimit-requests');
    expect(live.endpoint('B')?.coolUntil).toBe(1000 + 300_000); // capped by max_cooldown_ms (5 min)
    applyOutcome(live, facts({ served: 'C', status: 503, h: { 'retry-after': '2' } }), HEALTH);
    expect(live.endpoint('C')?.coolUntil).toBe(3000);
  });

  it('attempts > 1: the offered endpoints tried before the one that served count as failures', () => {
    const live = new LiveEndpoints({ now: () => 0 });
    const e = applyOutcome(live, facts({ served: 'C', attempts: 3 }), HEALTH);
    expect(e.failed).toEqual(['A', 'B']);
    expect(e.succeeded).toBe('C');
    const snap = new Map(live.snapshot().map((s) => [s.address, s]));
    expect(snap.get('A')?.failures).toBe(1);
    expect(snap.get('C')?.successes).toBe(1);
    // latency average only from first-attempt successes
    expect(snap.get('C')?.latencyEmaMs).toBeUndefined();
    applyOutcome(live, facts({ served: 'C', ttfbMs: 40 }), HEALTH);
    expect(live.snapshot().find((s) => s.address === 'C')?.latencyEmaMs).toBe(40);
  });

  it("kvfleet's circuit: opens after the threshold of consecutive 5xx, half-opens after open_ms, re-opens for twice as long", () => {
    const clock = { t: 0 };
    const live = new LiveEndpoints({ now: () => clock.t, circuit: { failureThreshold: 3, openMs: 1000, maxOpenMs: 10_000, alpha: 0.2 } });
    const fail = () => applyOutcome(live, facts({ status: 503, now: clock.t }), HEALTH);
    fail();
    fail();
    expect(live.endpoint('A')?.healthy).toBe(true);
    expect(fail().circuitsOpened).toEqual(['A']);
    expect(live.endpoint('A')?.healthy).toBe(false);
    clock.t = 999;
    expect(live.endpoint('A')?.healthy).toBe(false);
    clock.t = 1000;
    expect(live.endpoint('A')?.healthy).toBe(true); // half-open trial
    expect(fail().circuitsOpened).toEqual(['A']);
    clock.t = 2999;
    expect(live.endpoint('A')?.healthy).toBe(false);
    clock.t = 3000;
    applyOutcome(live, facts({ status: 200, now: clock.t }), HEALTH);
    expect(live.endpoint('A')?.healthy).toBe(true);
    expect(live.snapshot()[0]?.circuit).toBe('closed');
  });

  it('4xx other than 429 is the client’s fault: the endpoint stays healthy', () => {
    const live = new LiveEndpoints({ now: () => 0, circuit: { failureThreshold: 1, openMs: 1000, maxOpenMs: 1000, alpha: 0.5 } });
    for (let i = 0; i < 5; i++) applyOutcome(live, facts({ status: 400 }), HEALTH);
    expect(live.endpoint('A')?.healthy).toBe(true);
    expect(live.snapshot()[0]?.circuit).toBe('closed');
  });
});

const chat = { body: Buffer.from(JSON.stringify({ model: 'small', stream: true, messages: [{ role: 'user', content: 'hello there' }] })), end_of_stream: true };
function envWithClock() {
  return testEnv(fleetFrom());
}

describe('in-flight accounting and outcomes from the access log', () => {
  it('a streamed response holds its in-flight slot until its end; a retry moves it to the endpoint that serves; the failed attempt counts against its endpoint', () => {
    const env = envWithClock();
    const ex = new Exchange(env);
    ex.handle({ request_headers: post('/v1/chat/completions') });
    const b = ex.handle({ request_body: chat });
    ex.close();
    const list = setHeaders(b.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']?.split(',') ?? [];
    const [primary, fallback] = list;
    if (primary === undefined || fallback === undefined) throw new Error('expected a primary and a fallback');
    expect(env.live.endpoint(primary)?.inflight).toBe(1);
    // The router's upstream_log: the primary reset before answering; Envoy retried on the fallback.
    env.router.ended(logEvent(b, { kind: 'attempt', status: 0, served: primary }));
    env.router.ended(logEvent(b, { kind: 'attempt', status: 200, served: fallback }));
    expect(env.live.snapshot().find((s) => s.address === primary)?.failures).toBe(1);
    // The stream runs on: a periodic entry says where; the slot follows it.
    env.router.ended(logEvent(b, { kind: 'periodic', status: 200, served: fallback }));
    expect(env.live.endpoint(primary)?.inflight).toBe(0);
    expect(env.live.endpoint(fallback)?.inflight).toBe(1);
    env.router.ended(logEvent(b, { status: 200, served: fallback, attempts: 2 }));
    expect(env.live.endpoint(fallback)?.inflight).toBe(0);
    expect(env.reports).toHaveLength(1);
    expect(env.reports[0]).toMatchObject({ status: 200, servedEndpoint: fallback });
  });

  it('without per-attempt entries, the end alone says which offered endpoints failed before the one that served', () => {
    const env = envWithClock();
    const ex = new Exchange(env);
    ex.handle({ request_headers: post('/v1/chat/completions') });
    const b = ex.handle({ request_body: chat });
    const [primary, fallback] = setHeaders(b.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']?.split(',') ?? [];
    env.router.ended(logEvent(b, { status: 200, served: fallback, attempts: 2 }));
    expect(env.live.snapshot().find((s) => s.address === primary)?.failures).toBe(1);
    expect(env.live.snapshot().find((s) => s.address === fallback)?.failures).toBe(0);
  });

  it.each(['attempt', 'end'] as const)('a 429 with retry-after (%s entry) cools the endpoint that sent it', (kind) => {
    const env = envWithClock();
    const ex = new Exchange(env);
    ex.handle({ request_headers: post('/v1/chat/completions') });
    const b = ex.handle({ request_body: chat });
    const primary = setHeaders(b.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']?.split(',')[0] ?? '';
    env.router.ended(logEvent(b, { kind, status: 429, served: primary, headers: { 'retry-after': '4' } }));
    expect(env.live.endpoint(primary)?.coolUntil).toBe(env.clock.t + 4000);
  });

  it('entries for requests kvfleet did not route (or routed before a restart) teach endpoint health but hold nothing', () => {
    const env = envWithClock();
    const stranger = logEvent(undefined, { status: 503, served: '10.0.0.1:8000', offered: ['10.0.0.1:8000'] });
    env.router.ended({ ...stranger, key: 'deadbeef-1' });
    expect(env.live.snapshot().find((s) => s.address === '10.0.0.1:8000')?.failures).toBe(1);
    // A long stream decided before a restart: its slot is taken again, then released at its end.
    env.router.ended({ ...stranger, kind: 'periodic', status: 200, key: 'deadbeef-2' });
    expect(env.live.endpoint('10.0.0.1:8000')?.inflight).toBe(1);
    env.router.ended({ ...stranger, status: 200, key: 'deadbeef-2' });
    expect(env.live.endpoint('10.0.0.1:8000')?.inflight).toBe(0);
    // An address outside the fleet gets no live state at all.
    env.router.ended({ ...stranger, kind: 'periodic', key: 'deadbeef-3', served: '192.0.2.1:1' });
    expect(env.live.endpoint('192.0.2.1:1')).toBeUndefined();
    expect(env.reports).toHaveLength(0);
  });
});

function subsetMeta(values: string[] | undefined): ProcessingRequest['metadata_context'] {
  if (values === undefined) return undefined;
  return { filter_metadata: { [SUBSET_NAMESPACE]: { fields: { [SUBSET_KEY]: { listValue: { values: values.map((v) => ({ stringValue: v })) } } } } } };
}

function route(subset: string[] | undefined, members?: string[]) {
  const env = envWithClock();
  if (members !== undefined) env.live.setMembers('pool-small', members);
  const ex = new Exchange(env);
  ex.handle({ request_headers: post('/v1/chat/completions'), metadata_context: subsetMeta(subset) });
  const r = ex.handle({ request_body: chat });
  return { r, env };
}

describe('endpoint-picker protocol: subset hint', () => {
  it('picks only from the subset; header and envoy.lb metadata carry the same list', () => {
    for (let i = 0; i < 5; i++) {
      const { r } = route(['10.0.0.2:8000', '10.0.0.3:8000']);
      const set = setHeaders(r.request_body?.response.header_mutation?.set_headers);
      const list = set['x-gateway-destination-endpoint']?.split(',') ?? [];
      expect(list.length).toBeGreaterThan(0);
      expect(list.every((a) => a === '10.0.0.2:8000' || a === '10.0.0.3:8000')).toBe(true);
      const md = r.dynamic_metadata?.fields?.['envoy.lb']?.structValue?.fields?.['x-gateway-destination-endpoint']?.stringValue;
      expect(md).toBe(set['x-gateway-destination-endpoint']);
    }
  });

  it('503 when the subset is empty, holds no ip:port, or shares no endpoint with the discovered members', () => {
    for (const [subset, members] of [
      [[], undefined],
      [['gpu-1:8000'], undefined],
      [['10.9.9.9:1'], ['10.0.0.1:8000', '10.0.0.2:8000']],
    ] as const) {
      const { r } = route([...subset], members === undefined ? undefined : [...members]);
      expect(immediate(r).status).toBe(503);
    }
  });

  it('with discovery, the subset restricts the discovered members; without, the subset is the member list (InferencePool)', () => {
    const withMembers = route(['10.0.0.2:8000', '10.0.0.7:8000'], ['10.0.0.1:8000', '10.0.0.2:8000']).r;
    expect(setHeaders(withMembers.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']).toBe('10.0.0.2:8000');
    const pool = route(['10.20.0.5:8000']).r;
    expect(setHeaders(pool.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']).toBe('10.20.0.5:8000');
  });

  it('no hint: every endpoint of the model is a candidate (primary and fallbacks cover the pool)', () => {
    const { r } = route(undefined);
    const list = setHeaders(r.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']?.split(',') ?? [];
    expect([...list].sort()).toEqual(['10.0.0.1:8000', '10.0.0.2:8000', '10.0.0.3:8000']);
  });
});

describe('gRPC health on the ext_proc port', () => {
  it('serves liveness, readiness, the ExternalProcessor service and the overall status', async () => {
    const env = testEnv(fleetFrom());
    const srv = await startExtProcServer(env, { host: '127.0.0.1', port: 0 });
    const Client = grpc.makeGenericClientConstructor(healthService, 'Health');
    const client = new Client(`127.0.0.1:${srv.port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string | number }) => void): void;
    };
    const check = (service: string) =>
      new Promise<string | number | undefined>((resolve) => client.check({ service }, (err, res) => resolve(err ? `error:${err.code}` : res?.status)));
    try {
      for (const name of ['', 'liveness', 'readiness', EXT_PROC_SERVICE]) expect(await check(name)).toBe('SERVING');
      expect(await check('no.such.Service')).toBe(`error:${grpc.status.NOT_FOUND}`);
    } finally {
      client.close();
      await srv.drain(0);
    }
  });
});
