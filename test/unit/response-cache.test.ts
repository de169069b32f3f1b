// The response cache through the ext_proc exchange and the meter, without sockets: a miss is
// routed by the metered path and its response kept; the identical request is then answered by
// kvfleet itself (BUFFERED and full duplex) with the stored body and the explanation; tenants
// never share entries (also as a property); cache-control, the models list, fallbacks, the
// response rules, the tenant's rpm, a fleet reload, the metric hooks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Fleet } from '../../src/config/fleet.js';
import { Exchange } from '../../src/extproc/exchange.js';
import { MeterStream } from '../../src/extproc/meter/meter-stream.js';
import type { ProcessingRequest, ProcessingResponse } from '../../src/extproc/proto-types.js';
import { hashApiKey } from '../../src/request/identity.js';
import { ResponseCache, type CacheResult, type FillOutcome } from '../../src/router/response-cache.js';
import { fleetFrom } from '../helpers/fleet.js';
import { explained, headers, immediate, post, setHeaders, testEnv, type TestEnv } from '../helpers/exchange.js';

const FLEET = (cache = 'response_cache: { enabled: true, max_bytes: 1048576, ttl_seconds: 60, max_entry_bytes: 65536 }', extra = '') => `
server: { max_body_bytes: 65536 }
routing: { fallback: [small, other] }
models:
  - { name: small, aliases: [tiny], cluster: pool-small, model_id: org/Small, endpoints: [10.0.0.1:8000, 10.0.0.2:8000] }
  - { name: other, cluster: pool-other, model_id: org/Other, endpoints: [10.0.1.1:8000] }
  - { name: embed, type: embedding, cluster: pool-embed, model_id: org/Embed, endpoints: [10.0.2.1:8000] }
identity: { sources: [api_key], anonymous: guest }
tenants:
  guest: {}
  acme: { api_keys: [${hashApiKey('key-acme')}] }
  beta: { api_keys: [${hashApiKey('key-beta')}] }
  rated: { api_keys: [${hashApiKey('key-rated')}], limits: { rpm: 3 }, budget: { daily_usd: 10 } }
${cache}
${extra}`;

interface Env extends TestEnv {
  readonly cache: ResponseCache;
  readonly results: CacheResult[];
  readonly fills: FillOutcome[];
  /** The fleet the cache and the router read (replace it to simulate a reload). */
  readonly current: { fleet: Fleet };
}

function cacheEnv(yaml = FLEET()): Env {
  const base = testEnv(fleetFrom(yaml));
  const current = { fleet: base.fleet };
  const results: CacheResult[] = [];
  const fills: FillOutcome[] = [];
  const cache = new ResponseCache({
    fleet: () => current.fleet,
    now: () => base.clock.t,
    hooks: { onResult: (r) => results.push(r), onFill: (o) => fills.push(o) },
  });
  return { ...base, responseCache: cache, cache, results, fills, current };
}

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'small', temperature: 0, messages: [{ role: 'user', content }], ...extra });
const DUPLEX = { protocol_config: { request_body_mode: 'FULL_DUPLEX_STREAMED' as const } };

/** One request through a fresh exchange: the answers to its headers and its body. */
function ask(env: Env, body: unknown, o: { key?: string; headers?: Record<string, string>; duplex?: boolean; path?: string } = {}): ProcessingResponse[] {
  const ex = new Exchange(env);
  const h: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.key !== undefined) h['authorization'] = `Bearer ${o.key}`;
  const first: ProcessingRequest = { request_headers: post(o.path ?? '/v1/chat/completions', h), ...(o.duplex === true ? DUPLEX : {}) };
  const out = [...ex.respondNow(first)];
  if (out[0]?.immediate_response !== undefined) return out;
  out.push(...ex.respondNow({ request_body: { body: Buffer.from(JSON.stringify(body)), end_of_stream: true } }));
  ex.close();
  return out;
}

/** The answer that carries the route or kvfleet's own answer (the one with metadata). */
const answerOf = (out: ProcessingResponse[]): ProcessingResponse => out.find((r) => r.dynamic_metadata !== undefined) ?? out[out.length - 1] ?? {};
const routeHeaders = (r: ProcessingResponse) => setHeaders((r.request_body?.response ?? r.request_headers?.response)?.header_mutation?.set_headers);
const routed = (r: ProcessingResponse) => r.immediate_response === undefined && (r.request_body !== undefined || r.request_headers !== undefined);

/** The upstream response of a routed answer, as Envoy's meter copies it. */
function respond(env: Env, answer: ProcessingResponse, body: unknown, o: { status?: number; contentType?: string; cut?: boolean } = {}): void {
  const meter = new MeterStream(
    (key, reading) => env.router.metered(key, reading),
    (fill, response) => env.cache.fill(fill, response),
  );
  const ns = answer.dynamic_metadata?.fields?.['kvfleet']?.structValue;
  meter.message({
    response_headers: headers({ ':status': String(o.status ?? 200), 'content-type': o.contentType ?? 'application/json' }),
    metadata_context: { filter_metadata: ns !== undefined ? { kvfleet: ns } : {} },
  });
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  meter.message({ response_body: { body: bytes.subarray(0, 7), end_of_stream: false } });
  if (o.cut === true) meter.close();
  else meter.message({ response_body: { body: bytes.subarray(7), end_of_stream: true } });
}

const completion = (text: string) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
});

describe('response cache through the exchange', () => {
  it('a miss goes upstream by the metered path; its response is kept; the same request is answered by kvfleet (BUFFERED)', () => {
    const env = cacheEnv();
    const first = answerOf(ask(env, chat('what is 2+2?'), { headers: { 'x-request-id': 'r1' } }));
    expect(routed(first)).toBe(true);
    expect(explained(first)['x-kvfleet-cache']).toBe('miss');
    expect(routeHeaders(first)['x-kvfleet-meter']).toBe('1');
    respond(env, first, completion('4'));
    expect(env.fills).toEqual(['stored']);
    expect(env.cache.entries).toBe(1);

    const second = answerOf(ask(env, chat('what is 2+2?'), { headers: { 'x-request-id': 'r2' } }));
    const ir = second.immediate_response;
    expect(ir?.status.code).toBe(200);
    expect(JSON.parse(ir?.body?.toString() ?? '{}')).toEqual(completion('4'));
    expect(setHeaders(ir?.headers?.set_headers)).toMatchObject({ 'content-type': 'application/json', 'x-kvfleet-cache': 'hit', 'x-kvfleet-request-id': 'r2' });
    expect(explained(second)).toMatchObject({
      'x-kvfleet-request-id': 'r2',
      'x-kvfleet-model': 'small',
      'x-kvfleet-reason': 'cache-hit',
      'x-kvfleet-cache': 'hit',
      'x-kvfleet-tenant': 'guest',
      'x-kvfleet-policy': 'class=public',
    });
    // No decision key: nothing is tracked, no endpoint holds a slot for it.
    expect(second.dynamic_metadata?.fields?.['kvfleet']?.structValue?.fields?.['key']).toBeUndefined();
    expect(env.live.snapshot().reduce((n, e) => n + e.inflight, 0)).toBe(1); // the first request's, still running
    expect(env.reports.at(-1)).toMatchObject({ requestId: 'r2', status: 200, cacheHit: 'small', decision: undefined });
    expect(env.results).toEqual(['miss', 'hit']);
  });

  it('full duplex: a hit is one immediate response, nothing of the body goes back', () => {
    const env = cacheEnv();
    const first = answerOf(ask(env, chat('duplex?'), { duplex: true }));
    expect(first.request_headers).toBeDefined();
    respond(env, first, completion('yes'));
    const out = ask(env, chat('duplex?'), { duplex: true });
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0]?.immediate_response?.body?.toString() ?? '{}')).toEqual(completion('yes'));
  });

  it('an alias, another key order, stream: false and a different `model` spelling hit the same entry', () => {
    const env = cacheEnv();
    respond(env, answerOf(ask(env, chat('alias'))), completion('a'));
    const reordered = { messages: [{ content: 'alias', role: 'user' }], stream: false, temperature: 0.0, model: 'tiny' };
    expect(answerOf(ask(env, reordered)).immediate_response?.status.code).toBe(200);
  });

  it('a tenant never receives another tenant’s entry', () => {
    const env = cacheEnv();
    respond(env, answerOf(ask(env, chat('secret plan'), { key: 'key-acme' })), completion('acme answer'));
    for (const key of ['key-beta', undefined]) {
      const r = answerOf(ask(env, chat('secret plan'), { key }));
      expect(routed(r)).toBe(true);
      expect(explained(r)['x-kvfleet-cache']).toBe('miss');
    }
    expect(answerOf(ask(env, chat('secret plan'), { key: 'key-acme' })).immediate_response?.status.code).toBe(200);
  });

  it('property: whatever tenants store and ask, a hit is always the asking tenant’s own answer to that body', () => {
    const tenants = ['key-acme', 'key-beta', undefined] as const;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...tenants), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 25 }), (steps) => {
        const env = cacheEnv();
        for (const [key, prompt] of steps) {
          const r = answerOf(ask(env, chat(`p${prompt}`), { key }));
          const ir = r.immediate_response;
          if (ir !== undefined) {
            expect(ir.status.code).toBe(200);
            expect(JSON.parse(ir.body?.toString() ?? '{}')).toEqual(completion(`${key ?? 'anon'}:p${prompt}`));
          } else respond(env, r, completion(`${key ?? 'anon'}:p${prompt}`));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('streamed, freely sampled and no-store requests bypass; nothing is kept for them', () => {
    const env = cacheEnv();
    for (const body of [chat('s', { stream: true }), chat('t', { temperature: 0.7 }), { model: 'small', messages: [{ role: 'user', content: 'u' }] }]) {
      const r = answerOf(ask(env, body));
      expect(explained(r)['x-kvfleet-cache']).toBe('bypass');
      expect(routeHeaders(r)['x-kvfleet-meter']).toBeUndefined();
    }
    const ns = answerOf(ask(env, chat('n'), { headers: { 'cache-control': 'no-store' } }));
    expect(explained(ns)['x-kvfleet-cache']).toBe('bypass');
    respond(env, ns, completion('n'));
    expect(env.cache.entries).toBe(0);
    expect(env.fills).toEqual([]);
  });

  it('a fixed seed is cacheable, temperature or not; embeddings are', () => {
    const env = cacheEnv();
    const seeded = { model: 'small', seed: 7, temperature: 0.8, messages: [{ role: 'user', content: 'poem' }] };
    respond(env, answerOf(ask(env, seeded)), completion('roses'));
    expect(answerOf(ask(env, seeded)).immediate_response?.status.code).toBe(200);
    const emb = { model: 'embed', input: 'vector me' };
    const e1 = answerOf(ask(env, emb, { path: '/v1/embeddings' }));
    expect(explained(e1)['x-kvfleet-cache']).toBe('miss');
    respond(env, e1, { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }] });
    expect(answerOf(ask(env, emb, { path: '/v1/embeddings' })).immediate_response?.status.code).toBe(200);
  });

  it('cache-control: no-cache is never answered from the cache, and its fresh response replaces the entry', () => {
    const env = cacheEnv();
    respond(env, answerOf(ask(env, chat('news'))), completion('old'));
    const fresh = answerOf(ask(env, chat('news'), { headers: { 'cache-control': 'no-cache' } }));
    expect(routed(fresh)).toBe(true);
    expect(explained(fresh)['x-kvfleet-cache']).toBe('miss');
    respond(env, fresh, completion('new'));
    expect(JSON.parse(answerOf(ask(env, chat('news'))).immediate_response?.body?.toString() ?? '{}')).toEqual(completion('new'));
    expect(env.cache.entries).toBe(1);
  });

  it('only complete 200 JSON objects without `error` are kept', () => {
    const env = cacheEnv();
    const cases: Array<[string, Parameters<typeof respond>[3], unknown]> = [
      ['status', { status: 500 }, completion('x')],
      ['incomplete', { cut: true }, completion('x')],
      ['not_json', {}, { error: { message: 'bad', code: 'x' } }],
      ['not_json', { contentType: 'text/plain' }, 'plain text here'],
      ['not_json', {}, '{"truncated": '],
      ['too_large', {}, completion('y'.repeat(70_000))],
    ];
    cases.forEach(([, o, body], i) => respond(env, answerOf(ask(env, chat(`c${i}`))), body, o));
    expect(env.fills).toEqual(cases.map(([outcome]) => outcome));
    expect(env.cache.entries).toBe(0);
    expect(routed(answerOf(ask(env, chat('c0'))))).toBe(true);
  });

  it('finish_reason "length" is kept: max_tokens is part of the key, so the same request is cut the same way', () => {
    const env = cacheEnv();
    const body = chat('long', { max_tokens: 3 });
    respond(env, answerOf(ask(env, body)), { choices: [{ index: 0, message: { role: 'assistant', content: 'a b c' }, finish_reason: 'length' }] });
    expect(answerOf(ask(env, body)).immediate_response?.status.code).toBe(200);
    expect(routed(answerOf(ask(env, chat('long', { max_tokens: 4 }))))).toBe(true);
  });

  it('response_cache.models: other models and `auto` bypass', () => {
    const env = cacheEnv(FLEET('response_cache: { enabled: true, models: [tiny] }', 'default_model: small'));
    expect(explained(answerOf(ask(env, chat('m'))))['x-kvfleet-cache']).toBe('miss');
    expect(explained(answerOf(ask(env, { ...chat('m'), model: 'other' })))['x-kvfleet-cache']).toBe('bypass');
    expect(explained(answerOf(ask(env, { ...chat('m'), model: 'auto' })))['x-kvfleet-cache']).toBe('bypass');
  });

  it('a request moved to another model than it named (routing.fallback) is not kept', () => {
    const env = cacheEnv();
    for (const ep of ['10.0.0.1:8000', '10.0.0.2:8000']) env.live.tripCircuit(ep);
    const r = answerOf(ask(env, chat('fallback')));
    expect(explained(r)['x-kvfleet-model']).toBe('other');
    expect(explained(r)['x-kvfleet-cache']).toBe('bypass');
    expect(routeHeaders(r)['x-kvfleet-meter']).toBeUndefined();
  });

  it('a hit counts against the tenant’s rpm (429 past it) and carries the budget left, charging none of it', () => {
    const env = cacheEnv();
    respond(env, answerOf(ask(env, chat('rpm'), { key: 'key-rated' })), completion('r'));
    const hits = [1, 2].map(() => answerOf(ask(env, chat('rpm'), { key: 'key-rated' })));
    for (const h of hits) {
      expect(h.immediate_response?.status.code).toBe(200);
      expect(explained(h)['x-kvfleet-budget-remaining']).toMatch(/^day_usd=10\.0000$/);
    }
    const refused = immediate(answerOf(ask(env, chat('rpm'), { key: 'key-rated' })));
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
    expect(refused.headers['x-ratelimit-limit-requests']).toBe('3');
  });

  it('a tenant whose budget is spent still gets its cached answers (they cost nothing); new requests are refused', () => {
    const env = cacheEnv(`
models: [{ name: small, cluster: pool-small, model_id: org/Small, endpoints: [10.0.0.1:8000], priors: { cost_per_1k_input: 10 } }]
identity: { sources: [api_key] }
tenants: { spent: { api_keys: [${hashApiKey('key-spent')}], budget: { daily_usd: 0.0001 } } }
response_cache: { enabled: true }
`);
    const first = answerOf(ask(env, chat('budget'), { key: 'key-spent' }));
    expect(routed(first)).toBe(true); // a request may overshoot by its own estimate
    respond(env, first, completion('b'));
    const hit = answerOf(ask(env, chat('budget'), { key: 'key-spent' }));
    expect(hit.immediate_response?.status.code).toBe(200);
    expect(explained(hit)['x-kvfleet-budget-remaining']).toBe('day_usd=0.0000');
    expect(immediate(answerOf(ask(env, chat('another'), { key: 'key-spent' }))).body.error.code).toBe('budget_exceeded');
  });

  it('a hit needs no healthy endpoint: it is served while the model’s replicas are down', () => {
    const env = cacheEnv();
    respond(env, answerOf(ask(env, chat('down'))), completion('d'));
    for (const ep of ['10.0.0.1:8000', '10.0.0.2:8000', '10.0.1.1:8000']) env.live.tripCircuit(ep);
    expect(answerOf(ask(env, chat('down'))).immediate_response?.status.code).toBe(200);
  });

  it('a policy refusal is never answered from the cache', () => {
    const env = cacheEnv(FLEET(undefined, 'policy: { pii: { actions: { secret: block } } }'));
    const r = immediate(answerOf(ask(env, chat('my key is sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD'))));
    expect(r.status).toBe(403);
    expect(env.results).toEqual([]);
  });

  it('a fleet reload empties the cache; a response of a request routed before it is not kept', () => {
    const env = cacheEnv();
    respond(env, answerOf(ask(env, chat('before'))), completion('b'));
    const pending = answerOf(ask(env, chat('in flight')));
    env.current.fleet = fleetFrom(FLEET());
    respond(env, pending, completion('late'));
    expect(env.fills).toEqual(['stored', 'stale']);
    expect(env.cache.entries).toBe(0);
    expect(routed(answerOf(ask(env, chat('before'))))).toBe(true);
  });

  it('entries expire after ttl_seconds', () => {
    const env = cacheEnv();
    respond(env, answerOf(ask(env, chat('ttl'))), completion('t'));
    env.clock.t += 59_000;
    expect(answerOf(ask(env, chat('ttl'))).immediate_response).toBeDefined();
    env.clock.t += 2_000;
    expect(routed(answerOf(ask(env, chat('ttl'))))).toBe(true);
  });

  it('off (the default): no header, no lookup, nothing metered for it', () => {
    const env = cacheEnv(FLEET(''));
    const r = answerOf(ask(env, chat('off')));
    expect(explained(r)['x-kvfleet-cache']).toBeUndefined();
    expect(routeHeaders(r)['x-kvfleet-meter']).toBeUndefined();
    expect(env.results).toEqual([]);
  });
});
