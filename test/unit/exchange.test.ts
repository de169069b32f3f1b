import { describe, expect, it } from 'vitest';
import { Exchange } from '../../src/extproc/exchange.js';
import { fleetFrom } from '../helpers/fleet.js';
import { headers, immediate, post, setHeaders, testEnv } from '../helpers/exchange.js';

const chat = (model: string, extra: Record<string, unknown> = {}) => ({
  body: Buffer.from(JSON.stringify({ model, messages: [{ role: 'user', content: 'hello there' }], ...extra })),
  end_of_stream: true,
});

describe('ext_proc exchange (no socket)', () => {
  it('routes a chat request: cluster header, endpoint list in header and envoy.lb metadata, rewritten model', () => {
    // The Router's clock: the body phase starts at 1000 ms (parse, policy), the decision starts at
    // 1000.1 and ends 250 µs after the body phase started; the response arrives 42 ms after it.
    const readings = [1000, 1000.1, 1000.25, 1042.25];
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

    env.clock.t += 42;
    const r = ex.handle({
      response_headers: headers({ ':status': '200' }),
      attributes: { 'envoy.filters.http.ext_proc': { fields: { 'upstream.address': { stringValue: eps?.[1] ?? '' } } } },
    });
    const out = setHeaders(r.response_headers?.response.header_mutation?.set_headers);
    expect(out).toMatchObject({
      'x-kvfleet-request-id': 'rid-1',
      'x-kvfleet-model': 'small',
      'x-kvfleet-endpoint': eps?.[1],
      'x-kvfleet-strategy': 'hybrid_score',
      'x-kvfleet-affinity': 'none',
      'x-kvfleet-fallbacks': '2',
    });
    expect(out['x-kvfleet-reason']).toContain('alias');
    expect(Number(out['x-kvfleet-score'])).toBeGreaterThan(0);
    expect(out['x-kvfleet-decision-us']).toBe('250');
    ex.close();
    expect(env.live.endpoint(eps?.[0] ?? '')?.inflight).toBe(0);
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
    for (let i = 0; i < 3; i++) {
      const ex = new Exchange(env);
      ex.handle({ request_headers: post('/v1/chat/completions', { 'x-kvfleet-strategy': 'least_loaded' }) });
      const b = ex.handle({ request_body: chat('small') });
      primaries.push(setHeaders(b.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']?.split(',')[0] ?? '');
      open.push(ex);
    }
    expect(new Set(primaries).size).toBe(3);
    open[1]?.close();
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

  it('releases the in-flight count when the stream breaks before response headers', () => {
    const env = testEnv(fleetFrom());
    const ex = new Exchange(env);
    ex.handle({ request_headers: post('/v1/chat/completions') });
    ex.handle({ request_body: chat('big') });
    expect(env.live.endpoint('10.0.1.1:8000')?.inflight).toBe(1);
    ex.close();
    ex.close();
    expect(env.live.endpoint('10.0.1.1:8000')?.inflight).toBe(0);
    expect(env.reports).toHaveLength(1);
  });
});
