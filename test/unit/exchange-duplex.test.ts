// FULL_DUPLEX_STREAMED (the endpoint-picker protocol's mode), driven without a socket:
// the headers answer waits for the whole body and then carries the route; the body goes
// back as a streamed chunk.
import { describe, expect, it } from 'vitest';
import { Exchange } from '../../src/extproc/exchange.js';
import type { ProcessingRequest } from '../../src/extproc/proto-types.js';
import { STREAMED_CHUNK_BYTES } from '../../src/extproc/body/duplex-body.js';
import { fleetFrom, TWO_MODEL_YAML } from '../helpers/fleet.js';
import { explained, headers, immediate, logEvent, post, setHeaders, testEnv } from '../helpers/exchange.js';

const DUPLEX = { protocol_config: { request_body_mode: 'FULL_DUPLEX_STREAMED' as const } };
const chatBytes = (model: string, content = 'hello there') => Buffer.from(JSON.stringify({ model, messages: [{ role: 'user', content }] }));
const chunk = (b: Buffer, end: boolean): ProcessingRequest => ({ request_body: { body: b, end_of_stream: end } });

describe('full-duplex request body', () => {
  it('holds the headers answer until the body is complete, then routes in it and streams the body back', () => {
    const env = testEnv(fleetFrom());
    const ex = new Exchange(env);
    const forged = { 'x-request-id': 'rid-d', 'x-kvfleet-cluster': 'pool-big', 'x-kvfleet-debug': '1' };
    expect(ex.respondNow({ request_headers: post('/v1/chat/completions', forged), ...DUPLEX })).toEqual([]);
    const whole = chatBytes('tiny', 'a prompt split across three chunks');
    expect(ex.respondNow(chunk(whole.subarray(0, 10), false))).toEqual([]);
    expect(ex.respondNow(chunk(whole.subarray(10, 30), false))).toEqual([]);
    const out = ex.respondNow(chunk(whole.subarray(30), true));
    expect(out.map((r) => Object.keys(r).filter((k) => k !== 'dynamic_metadata'))).toEqual([['request_headers'], ['request_body']]);

    const h = out[0]?.request_headers?.response;
    expect(h?.clear_route_cache).toBe(true);
    const set = setHeaders(h?.header_mutation?.set_headers);
    expect(set['x-kvfleet-cluster']).toBe('pool-small');
    const eps = set['x-gateway-destination-endpoint'];
    expect(eps?.split(',')).toHaveLength(3);
    expect(out[0]?.dynamic_metadata?.fields?.['envoy.lb']?.structValue?.fields?.['x-gateway-destination-endpoint']?.stringValue).toBe(eps);
    // Forged x-kvfleet-* headers go; the cluster header is overwritten by the set itself.
    expect(h?.header_mutation?.remove_headers).toEqual(['x-kvfleet-debug']);

    const sent = out[1]?.request_body?.response.body_mutation?.streamed_response;
    expect(sent?.end_of_stream).toBe(true);
    const body = JSON.parse(sent?.body?.toString() ?? '{}');
    expect(body.model).toBe('org/Small-1B'); // alias rewritten to the model_id
    expect(body.messages[0].content).toBe('a prompt split across three chunks');
    expect(set['content-length']).toBe(String(sent?.body?.length));

    // The explanation rides on the headers answer's metadata; the end comes from the access log.
    expect(explained(out[0] ?? {})['x-kvfleet-request-id']).toBe('rid-d');
    expect(ex.finished).toBe(true);
    ex.close();
    env.router.ended(logEvent(out[0], { status: 200, served: eps?.split(',')[0] }));
    expect(env.reports[0]).toMatchObject({ requestId: 'rid-d', status: 200 });
  });

  it('sends the body back byte for byte when the model name needs no rewrite', () => {
    const ex = new Exchange(testEnv(fleetFrom()));
    ex.respondNow({ request_headers: post('/v1/chat/completions'), ...DUPLEX });
    const whole = chatBytes('big');
    const out = ex.respondNow(chunk(whole, true));
    expect(out[1]?.request_body?.response.body_mutation?.streamed_response?.body?.equals(whole)).toBe(true);
    expect(setHeaders(out[0]?.request_headers?.response.header_mutation?.set_headers)['content-length']).toBeUndefined();
  });

  it('refuses a body over server.max_body_bytes as soon as the chunks pass it, and ignores what is still in flight', () => {
    const env = testEnv(fleetFrom()); // max_body_bytes: 2048
    const ex = new Exchange(env);
    ex.respondNow({ request_headers: post('/v1/chat/completions'), ...DUPLEX });
    expect(ex.respondNow(chunk(Buffer.alloc(1200, 0x20), false))).toEqual([]);
    const out = ex.respondNow(chunk(Buffer.alloc(1200, 0x20), false));
    expect(out).toHaveLength(1);
    const err = immediate(out[0] ?? {});
    expect(err.status).toBe(413);
    expect(err.body.error.code).toBe('body_too_large');
    expect(ex.respondNow(chunk(Buffer.alloc(10), true))).toEqual([]);
    ex.close();
    expect(env.reports).toHaveLength(1);
  });

  it('answers header errors at once, before any body arrives', () => {
    const ex = new Exchange(testEnv(fleetFrom()));
    const out = ex.respondNow({ request_headers: post('/v1/chat/completions', { 'x-kvfleet-priority': 'urgent' }), ...DUPLEX });
    expect(immediate(out[0] ?? {}).body.error.param).toBe('x-kvfleet-priority');
    expect(ex.respondNow(chunk(chatBytes('big'), true))).toEqual([]);
  });

  it('a bad body is a 400 naming the field, after the held headers', () => {
    const ex = new Exchange(testEnv(fleetFrom()));
    ex.respondNow({ request_headers: post('/v1/chat/completions'), ...DUPLEX });
    const out = ex.respondNow(chunk(Buffer.from('{"model":"big","messages":"nope"}'), true));
    const err = immediate(out[0] ?? {});
    expect(err.status).toBe(400);
    expect(err.body.error.param).toBe('messages');
  });

  it('request trailers end the body: headers, body (not the end of stream), trailers', () => {
    const ex = new Exchange(testEnv(fleetFrom()));
    ex.respondNow({ request_headers: post('/v1/chat/completions'), ...DUPLEX });
    ex.respondNow(chunk(chatBytes('big'), false));
    const out = ex.respondNow({ request_trailers: {} });
    expect(out.map((r) => Object.keys(r).filter((k) => k !== 'dynamic_metadata')[0])).toEqual(['request_headers', 'request_body', 'request_trailers']);
    expect(out[1]?.request_body?.response.body_mutation?.streamed_response?.end_of_stream).toBe(false);
  });

  it('hands a full-duplex response body back chunk by chunk, unchanged', () => {
    const ex = new Exchange(testEnv(fleetFrom()));
    ex.respondNow({
      request_headers: post('/v1/chat/completions'),
      protocol_config: { request_body_mode: 'FULL_DUPLEX_STREAMED', response_body_mode: 'FULL_DUPLEX_STREAMED' },
    });
    ex.respondNow(chunk(chatBytes('big'), true));
    ex.respondNow({ response_headers: headers({ ':status': '200' }) });
    const parts = ['data: {"a":1}\n\n', 'data: [DONE]\n\n'];
    const out = parts.map((p, i) => ex.respondNow({ response_body: { body: Buffer.from(p), end_of_stream: i === parts.length - 1 } }));
    expect(out.map((o) => o[0]?.response_body?.response.body_mutation?.streamed_response?.body?.toString())).toEqual(parts);
    expect(out.map((o) => o[0]?.response_body?.response.body_mutation?.streamed_response?.end_of_stream)).toEqual([false, true]);
  });

  it('GET /v1/models is answered at once in full-duplex mode too', () => {
    const ex = new Exchange(testEnv(fleetFrom()));
    const out = ex.respondNow({ request_headers: headers({ ':method': 'GET', ':path': '/v1/models' }, true), ...DUPLEX });
    expect(out[0]?.immediate_response?.status.code).toBe(200);
  });

  it('without the protocol_config announcement it stays BUFFERED: one answer per message', () => {
    const ex = new Exchange(testEnv(fleetFrom()));
    expect(ex.respondNow({ request_headers: post('/v1/chat/completions') })).toHaveLength(1);
    const out = ex.respondNow(chunk(chatBytes('big'), true));
    expect(out).toHaveLength(1);
    expect(out[0]?.request_body?.response.header_mutation?.set_headers?.length).toBeGreaterThan(0);
  });

  const withServer = (server: string) => fleetFrom(TWO_MODEL_YAML.replace('server: { max_body_bytes: 2048 }', `server: { ${server} }`));

  it('refuses body modes it cannot route with, and announcements that contradict server.body_mode', () => {
    const cases: Array<[string, ProcessingRequest['protocol_config'], string]> = [
      ['max_body_bytes: 2048', { request_body_mode: 'STREAMED' }, 'STREAMED'],
      ['max_body_bytes: 2048', {}, 'NONE'], // announced, but no body mode: kvfleet would never see the body
      ['body_mode: buffered', { request_body_mode: 'FULL_DUPLEX_STREAMED' }, 'server.body_mode is buffered'],
      ['body_mode: full-duplex', { request_body_mode: 'BUFFERED' }, 'server.body_mode is full-duplex'],
    ];
    for (const [server, config, says] of cases) {
      const ex = new Exchange(testEnv(withServer(server)));
      const err = immediate(ex.respondNow({ request_headers: post('/v1/chat/completions'), protocol_config: config })[0] ?? {});
      expect(err.status).toBe(500);
      expect(err.body.error.code).toBe('unsupported_body_mode');
      expect(err.body.error.message).toContain(says);
    }
  });

  it('server.body_mode: full-duplex serves a proxy that announces nothing', () => {
    const ex = new Exchange(testEnv(withServer('body_mode: full-duplex')));
    expect(ex.respondNow({ request_headers: post('/v1/chat/completions') })).toEqual([]);
    expect(ex.respondNow(chunk(chatBytes('big'), true)).map((r) => Object.keys(r)[0])).toEqual(['request_headers', 'request_body']);
  });

  it('holds at most server.max_held_body_bytes for all requests together: 503 past it, released on completion', () => {
    const env = testEnv(withServer('max_held_body_bytes: 1000'));
    const a = new Exchange(env);
    const b = new Exchange(env);
    a.respondNow({ request_headers: post('/v1/chat/completions'), ...DUPLEX });
    b.respondNow({ request_headers: post('/v1/chat/completions'), ...DUPLEX });
    expect(a.respondNow(chunk(Buffer.alloc(700, 0x20), false))).toEqual([]);
    expect(env.heldBodies.bytes).toBe(700);
    const err = immediate(b.respondNow(chunk(Buffer.alloc(400, 0x20), false))[0] ?? {});
    expect(err.status).toBe(429);
    expect(err.body.error.code).toBe('overloaded');
    expect(err.headers['retry-after']).toBe('1');
    expect(a.respondNow(chunk(Buffer.from('{"model":"big","messages":[{"role":"user","content":"x"}]}'), true))).toHaveLength(2);
    expect(env.heldBodies.bytes).toBe(0);
  });

  it('a body still incomplete at the deadline gets a 408 and gives its bytes back; a complete one is left alone', () => {
    const env = testEnv(fleetFrom());
    const ex = new Exchange(env);
    ex.respondNow({ request_headers: post('/v1/chat/completions'), ...DUPLEX });
    ex.respondNow(chunk(Buffer.from('{"model":'), false));
    expect(ex.collecting).toBe(true);
    const err = immediate(ex.expire()[0] ?? {});
    expect(err.status).toBe(408);
    expect(err.body.error.code).toBe('body_timeout');
    expect(env.heldBodies.bytes).toBe(0);
    expect(ex.collecting).toBe(false);
    expect(ex.expire()).toEqual([]);

    const done = new Exchange(env);
    done.respondNow({ request_headers: post('/v1/chat/completions'), ...DUPLEX });
    done.respondNow(chunk(chatBytes('big'), true));
    expect(done.expire()).toEqual([]);
  });

  it('sends a large body back in chunks of at most 64 KiB, end_of_stream on the last only', () => {
    const yaml = TWO_MODEL_YAML.replace('server: { max_body_bytes: 2048 }', 'server: { max_body_bytes: 1048576 }').replace(
      'host: api.example.com',
      'host: api.example.com\n    capabilities: { context_length: 100000 }',
    );
    const env = testEnv(fleetFrom(yaml));
    const ex = new Exchange(env);
    ex.respondNow({ request_headers: post('/v1/chat/completions'), ...DUPLEX });
    const whole = chatBytes('big', 'z'.repeat(150_000));
    const out = ex.respondNow(chunk(whole, true));
    const pieces = out.slice(1).map((r) => r.request_body?.response.body_mutation?.streamed_response);
    expect(pieces).toHaveLength(Math.ceil(whole.length / STREAMED_CHUNK_BYTES));
    expect(pieces.every((p) => (p?.body?.length ?? 0) <= STREAMED_CHUNK_BYTES)).toBe(true);
    expect(pieces.map((p) => p?.end_of_stream)).toEqual(pieces.map((_, i) => i === pieces.length - 1));
    expect(Buffer.concat(pieces.map((p) => p?.body ?? Buffer.alloc(0))).equals(whole)).toBe(true);
  });

  it('a body message after the body was answered is ignored, not routed twice', () => {
    const env = testEnv(fleetFrom());
    const ex = new Exchange(env);
    ex.respondNow({ request_headers: post('/v1/chat/completions'), ...DUPLEX });
    const out = ex.respondNow(chunk(chatBytes('big'), true));
    expect(ex.respondNow(chunk(chatBytes('big'), true))).toEqual([]);
    expect(env.live.endpoint('10.0.1.1:8000')?.inflight).toBe(1);
    expect(env.router.ends.inflight).toBe(1);
    ex.close();
    env.router.ended(logEvent(out[0], { served: '10.0.1.1:8000' }));
    expect(env.live.endpoint('10.0.1.1:8000')?.inflight).toBe(0);
  });
});
