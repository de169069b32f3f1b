import { describe, expect, it } from 'vitest';
import { Exchange } from '../../src/extproc/exchange.js';
import { fleetFrom } from '../helpers/fleet.js';
import type { ProcessingResponse } from '../../src/extproc/proto-types.js';
import { explained, headers, immediate, logEvent, post, setHeaders, testEnv } from '../helpers/exchange.js';

const chat = (model: string, extra: Record<string, unknown> = {}) => ({
  body: Buffer.from(JSON.stringify({ model, messages: [{ role: 'user', content: 'hello there' }], ...extra })),
  end_of_stream: true,
});

describe('ext_proc exchange (no socket)', () => {
  it('routes a chat request: cluster header, endpoint list in header and envoy.lb metadata, rewritten model', () => {
    // The Router's clock: the body phase starts at 1000 ms (parse, policy), the decision starts at
    // 1000.1 and ends 250 µs after the body phase started; Envoy's access log reports the end later.
    const readings = [1000, 1000.1, 1000.25, 1042.25, 1042.25];
    const env = testEnv(fleetFrom(), { routerNow: () => readings.shift() ?? Number.NaN });
    const ex = new Exchange(env);
    const h = ex.handle({
      request_headers: post('/v1/chat/completions', {
        'x-request-id': 'rid-1',
        'x-kvfleet-cluster': 'pool-big',
        'x-gateway-destination-endpoint': '6.6.6.6:1',
      }),
    });
    expect(h.request_headers?.response.header_mutation?.remove_headers?.sort()).toEqual(['x-gateway-destination-endpoint', 'x-kvfleet-cluster']);
    expect(h.request_headers?.response.clear_route_cache).toBe(true);

    const b = ex.handle({ request_body: chat('tiny') });
    const resp = b.request_body?.response;
    expect(resp?.clear_route_cache).toBe(true);
    const set = setHeaders(resp?.header_mutation?.set_headers);
    expect(set['x-kvfleet-cluster']).toBe('pool-small');
    const eps = set['x-gateway-destination-endpoint']?.split(',');
    expect(eps).toHaveLength(3);
    expect(new Set(eps)).toEqual(new Set(['10.0.0.1:8000', '10.0.0.2:8000', '10.0.0.3:8000']));
    const md = b.dynamic_metadata?.fields?.['envoy.lb']?.structValue?.fields?.['x-gateway-destination-endpoint']?.stringValue;
    expect(md).toBe(set['x-gateway-destination-endpoint']);
    const newBody = resp?.body_mutation?.body;
    expect(JSON.parse(newBody?.toString() ?? '{}').model).toBe('org/Small-1B');
    expect(set['content-length']).toBe(String(newBody?.length));
    expect(env.live.endpoint(eps?.[0] ?? '')?.inflight).toBe(1);

    // The explanation rides on the answer's metadata; Envoy renders it on the response.
    expect(b.dynamic_metadata?.fields?.['kvfleet']?.structValue?.fields?.['key']?.stringValue).toMatch(/^[0-9a-f]{8}-/);
    const out = explained(b);
    expect(out).toMatchObject({
      'x-kvfleet-request-id': 'rid-1',
      'x-kvfleet-model': 'small',
      'x-kvfleet-strategy': 'hybrid_score',
      'x-kvfleet-affinity': 'none',
      'x-kvfleet-fallbacks': '2',
    });
    expect(out['x-kvfleet-reason']).toContain('alias');
    expect(Number(out['x-kvfleet-score'])).toBeGreaterThan(0);
    expect(out['x-kvfleet-decision-us']).toBe('250');
    // kvfleet's part is over: the stream may end, the slot stays held until the request's end.
    expect(ex.finished).toBe(true);
    ex.close();
    expect(env.live.endpoint(eps?.[0] ?? '')?.inflight).toBe(1);
    expect(env.reports).toHaveLength(0);
    // Envoy's access log: the end, served by the first fallback (a retry), 42 ms to the first byte.
    env.router.ended(logEvent(b, { status: 200, served: eps?.[1], attempts: 2, ttfbMs: 42 }));
    expect(env.live.endpoint(eps?.[0] ?? '')?.inflight).toBe(0);
    expect(env.live.endpoint(eps?.[1] ?? '')?.inflight).toBe(0);
    expect(env.reports).toHaveLength(1);
    expect(env.reports[0]).toMatchObject({ requestId: 'rid-1', status: 200, servedEndpoint: eps?.[1], upstreamMs: 42, decisionUs: 250 });
  });

  it('leaves the body alone when the model name is already the model_id, and sets :authority for hosted models', () => {
    const env = testEnv(fleetFrom());
    const ex = new Exchange(env);
    ex.handle({ request_headers: post('/v1/chat/completions') });
    const b = ex.handle({ request_body: chat('big') });
    expect(b.request_body?.response.body_mutation).toBeUndefined();
    const set = setHeaders(b.request_body?.response.header_mutation?.set_headers);
    expect(set[':authority']).toBe('api.example.com');
    expect(set['content-length']).toBeUndefined();
  });

  it('least_loaded spreads equal load round-robin and prefers the least loaded endpoint', () => {
    const env = testEnv(fleetFrom());
    const primaries: string[] = [];
    const open: Exchange[] = [];
    const answers: ProcessingResponse[] = [];
    for (let i = 0; i < 3; i++) {
      const ex = new Exchange(env);
      ex.handle({ request_headers: post('/v1/chat/completions', { 'x-kvfleet-strategy': 'least_loaded' }) });
      const b = ex.handle({ request_body: chat('small') });
      primaries.push(setHeaders(b.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']?.split(',')[0] ?? '');
      open.push(ex);
      answers.push(b);
    }
    expect(new Set(primaries).size).toBe(3);
    for (const ex of open) ex.close();
    env.router.ended(logEvent(answers[1], { served: primaries[1] }));
    const ex = new Exchange(env);
    ex.handle({ request_headers: post('/v1/chat/completions', { 'x-kvfleet-strategy': 'least_loaded' }) });
    const b = ex.handle({ request_body: chat('small') });
    expect(setHeaders(b.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']?.split(',')[0]).toBe(primaries[1]);
  });

  it('skips unhealthy endpoints and answers 503 when none is left', () => {
    const env = testEnv(fleetFrom());
    env.live.setHealthy('10.0.1.1:8000', false);
    const ex = new Exchange(env);
    ex.handle({ request_headers: post('/v1/chat/completions') });
    const r = immediate(ex.handle({ request_body: chat('big') }));
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('no_healthy_endpoint');
  });

  it.each([
    ['unknown model', post('/v1/chat/completions'), chat('gpt-9'), 404, 'unknown_model', 'model'],
    ['malformed JSON', post('/v1/chat/completions'), { body: Buffer.from('{"model":'), end_of_stream: true }, 400, 'invalid_json', null],
    ['body over the limit', post('/v1/chat/completions'), { body: Buffer.alloc(4096, 32), end_of_stream: true }, 413, 'body_too_large', null],
    ['bad priority header', post('/v1/chat/completions', { 'x-kvfleet-priority': 'urgent' }), undefined, 400, 'invalid_header', 'x-kvfleet-priority'],
    ['unknown strategy header', post('/v1/chat/completions', { 'x-kvfleet-strategy': 'magic' }), undefined, 400, 'invalid_header', 'x-kvfleet-strategy'],
    [
      'unknown model in allow-list',
      post('/v1/chat/completions', { 'x-kvfleet-models': 'small,nope' }),
      chat('small'),
      400,
      'invalid_header',
      'x-kvfleet-models',
    ],
    ['content-length over the limit', post('/v1/chat/completions', { 'content-length': '999999' }), undefined, 413, 'body_too_large', null],
    ['GET on a POST endpoint', headers({ ':method': 'GET', ':path': '/v1/chat/completions' }, true), undefined, 405, 'method_not_allowed', null],
    ['POST without a body', headers({ ':method': 'POST', ':path': '/v1/completions' }, true), undefined, 400, 'body_required', null],
    ['an unknown path', headers({ ':method': 'GET', ':path': '/admin' }, true), undefined, 404, 'unknown_route', null],
  ])('answers %s with an OpenAI-shaped error', (_n, reqHeaders, body, status, code, param) => {
    const env = testEnv(fleetFrom());
    const ex = new Exchange(env);
    let r = ex.handle({ request_headers: reqHeaders });
    if (r.immediate_response === undefined && body !== undefined) r = ex.handle({ request_body: body });
    const out = immediate(r);
    expect(out.status).toBe(status);
    expect(out.body.error.code).toBe(code);
    expect(out.body.error.param).toBe(param);
    expect(out.headers['content-type']).toBe('application/json');
    expect(out.headers['x-kvfleet-request-id']).toBe('gen-1'); // no x-request-id: kvfleet made one
    ex.close();
    expect(env.reports).toHaveLength(1);
    expect(env.live.snapshot().every((e) => e.inflight === 0)).toBe(true);
  });

  it('answers GET /v1/models from the fleet file', () => {
    const ex = new Exchange(testEnv(fleetFrom()));
    const r = ex.handle({ request_headers: headers({ ':method': 'GET', ':path': '/v1/models?x=1' }, true) });
    const body = JSON.parse(r.immediate_response?.body?.toString() ?? '{}');
    expect(r.immediate_response?.status.code).toBe(200);
    expect(body.object).toBe('list');
    expect(body.data.map((m: { id: string }) => m.id)).toEqual(['small', 'big']);
  });

  it('model auto resolves to default_model', () => {
    const env = testEnv(fleetFrom());
    const ex = new Exchange(env);
    ex.handle({ request_headers: post('/v1/chat/completions') });
    const b = ex.handle({ request_body: chat('auto') });
    expect(setHeaders(b.request_body?.response.header_mutation?.set_headers)['x-kvfleet-cluster']).toBe('pool-small');
  });

  it("holds a routed request's in-flight slot until Envoy's access log reports its end, or until inflight_ttl_seconds without news", () => {
    const env = testEnv(fleetFrom());
    const route = () => {
      const ex = new Exchange(env);
      ex.handle({ request_headers: post('/v1/chat/completions') });
      const b = ex.handle({ request_body: chat('big') });
      ex.close();
      return b;
    };
    const first = route();
    const second = route();
    expect(env.live.endpoint('10.0.1.1:8000')?.inflight).toBe(2);
    // A long stream still running (periodic entries) keeps its slot past the TTL; the other expires.
    const ttl = env.fleet.server.inflight_ttl_seconds * 1000;
    env.clock.t += ttl * 0.75;
    env.router.ended(logEvent(first, { kind: 'periodic', served: '10.0.1.1:8000' }));
    env.clock.t += ttl * 0.5;
    env.router.ends.expire();
    expect(env.live.endpoint('10.0.1.1:8000')?.inflight).toBe(1);
    expect(env.reports).toHaveLength(1);
    expect(env.reports[0]?.status).toBeUndefined();
    // The end of the long stream releases it; a second report of the same end changes nothing.
    env.router.ended(logEvent(first, { served: '10.0.1.1:8000' }));
    env.router.ended(logEvent(first, { served: '10.0.1.1:8000' }));
    env.router.ended(logEvent(second, { served: '10.0.1.1:8000' }));
    expect(env.live.endpoint('10.0.1.1:8000')?.inflight).toBe(0);
    expect(env.reports.map((r) => r.status)).toEqual([undefined, 200]);
  });
});
