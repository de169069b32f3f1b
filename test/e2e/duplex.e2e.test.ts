// Through a real Envoy whose ext_proc filter runs the request body in FULL_DUPLEX_STREAMED
// mode (envoy/envoy.yaml as shipped; the Gateway API Inference Extension's endpoint-picker
// mode): Envoy streams the body to kvfleet without waiting for the headers answer, kvfleet
// answers the headers with the route once the body is complete and sends the body back. Also
// the check, through the upstream implementation itself, of proto/kvfleet's newer fields; and
// the BUFFERED mode (src/tools/envoy/processing-mode.ts), which kvfleet serves as well.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachProcessingMode } from '../../src/tools/envoy/processing-mode.js';
import { LLAMA_ID, postJson, startStack, type Stack } from '../helpers/stack.js';
import { openStream } from '../helpers/streamed.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    sim: { decodeMsPerToken: 5, defaultMaxTokens: 4, maxModelLen: 1_000_000, prefillUsPerToken: 1 },
    editFleet: (f) => {
      (f['server'] as Record<string, unknown>)['max_body_bytes'] = 2 * 1024 * 1024;
      (f['server'] as Record<string, unknown>)['body_timeout_seconds'] = 4;
      // Room for a 1.5 MB prompt (≈ 370k tokens) in kvfleet's check and the sims'.
      const llama = (f['models'] as Array<{ name: string; capabilities: Record<string, unknown> }>).find((m) => m.name === 'llama-3-8b');
      if (llama !== undefined) llama.capabilities['context_length'] = 1_000_000;
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});

interface SimReply {
  kvfleet_sim: { received_model: string; port: number; prompt_tokens: number };
}
const chat = (content: string) => ({ model: 'llama-3-8b', messages: [{ role: 'user', content }] });
const llamaAddrs = () => stack.llama.replicas.map((r) => `127.0.0.1:${r.port}`);
const endpoint = async (address: string) =>
  ((await (await fetch(`${stack.kvfleet.adminUrl}/fleet`)).json()) as { endpoints: Array<{ address: string; inflight: number }> }).endpoints.find(
    (e) => e.address === address,
  );

interface SlowPost {
  /** Before the first body byte, ms. */
  readonly delayMs: number;
  /** Body writes, 20 ms apart. */
  readonly parts?: number;
  /** No content-length: chunked transfer encoding. */
  readonly chunked?: boolean;
  /** Stop after this many writes and never end the body. */
  readonly stopAfter?: number;
}

/** POST with the headers first and the body later, in several writes. */
function slowPost(path: string, body: string, o: SlowPost): Promise<{ status: number; text: string }> {
  const url = new URL(stack.url);
  const headers: Record<string, string | number> = { 'content-type': 'application/json' };
  if (o.chunked !== true) headers['content-length'] = Buffer.byteLength(body);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.flushHeaders();
    const step = Math.ceil(body.length / (o.parts ?? 1));
    let at = 0;
    let writes = 0;
    const next = () => {
      req.write(body.slice(at, at + step));
      at += step;
      if (++writes === o.stopAfter) return;
      if (at < body.length) setTimeout(next, 20);
      else req.end();
    };
    setTimeout(next, o.delayMs);
  });
}

describe('full-duplex request body through Envoy', () => {
  it('routes on the body, rewrites the model name, and explains the decision', async () => {
    const res = await postJson(stack.url, '/v1/chat/completions', chat('Say hello.'), { 'x-request-id': 'duplex-1' });
    expect(res.status, stack.logs()).toBe(200);
    const body = (await res.json()) as SimReply;
    expect(body.kvfleet_sim.received_model).toBe(LLAMA_ID);
    expect(res.headers.get('x-kvfleet-request-id')).toBe('duplex-1');
    expect(res.headers.get('x-kvfleet-model')).toBe('llama-3-8b');
    expect(res.headers.get('x-kvfleet-endpoint')).toBe(`127.0.0.1:${body.kvfleet_sim.port}`);
    expect(Number(res.headers.get('x-kvfleet-decision-us'))).toBeGreaterThan(0);
  });

  it('a body that arrives in many chunks reaches the replica whole', async () => {
    const words = Array.from({ length: 4000 }, (_, i) => `w${i}`).join(' '); // ≈ 23 KB
    const body = JSON.stringify(chat(words));
    const direct = (await (await postJson(stack.url, '/v1/chat/completions', body)).json()) as SimReply;
    const slow = await slowPost('/v1/chat/completions', body, { delayMs: 10, parts: 12 });
    expect(slow.status, stack.logs()).toBe(200);
    const reply = JSON.parse(slow.text) as SimReply;
    expect(reply.kvfleet_sim.received_model).toBe(LLAMA_ID);
    expect(reply.kvfleet_sim.prompt_tokens).toBe(direct.kvfleet_sim.prompt_tokens);
    expect(reply.kvfleet_sim.prompt_tokens).toBeGreaterThan(4000);
  });

  it('a 1.5 MB prompt goes through kvfleet and back to the replica intact', async () => {
    const words = Array.from({ length: 200_000 }, (_, i) => `t${i}`).join(' ');
    const res = await postJson(stack.url, '/v1/chat/completions', chat(words));
    expect(res.status, await res.clone().text()).toBe(200);
    const reply = (await res.json()) as SimReply;
    expect(reply.kvfleet_sim.received_model).toBe(LLAMA_ID);
    expect(reply.kvfleet_sim.prompt_tokens).toBeGreaterThan(300_000);
  });

  it('ignores forged routing headers', async () => {
    const qwen0 = stack.qwen.replicas[0];
    const before = stack.qwen.replicas.map((r) => r.stats().requests);
    const res = await postJson(stack.url, '/v1/chat/completions', chat('hi'), {
      'x-kvfleet-cluster': 'pool-qwen-2.5-7b',
      'x-gateway-destination-endpoint': `127.0.0.1:${qwen0?.port}`,
    });
    expect(res.status).toBe(200);
    expect(llamaAddrs()).toContain(res.headers.get('x-kvfleet-endpoint'));
    expect(stack.qwen.replicas.map((r) => r.stats().requests)).toEqual(before);
  });

  it.each([
    ['malformed JSON', '{"model": "llama-3-8b", "messages": [', 400, 'invalid_json'],
    ['a body over the limit', JSON.stringify(chat('x'.repeat(2_200_000))), 413, 'body_too_large'],
  ])('answers %s with an OpenAI error and reaches no replica', async (_n, body, status, code) => {
    const before = [...stack.llama.replicas, ...stack.qwen.replicas].map((r) => r.stats().requests);
    const res = await postJson(stack.url, '/v1/chat/completions', body);
    expect(res.status, await res.clone().text()).toBe(status);
    const err = (await res.json()) as { error: { code: string } };
    expect(err.error.code, JSON.stringify(err)).toBe(code);
    expect([...stack.llama.replicas, ...stack.qwen.replicas].map((r) => r.stats().requests)).toEqual(before);
  });

  it('refuses a chunked body (no content-length) once it passes max_body_bytes', async () => {
    const before = stack.llama.replicas.map((r) => r.stats().requests);
    const res = await slowPost('/v1/chat/completions', JSON.stringify(chat('y'.repeat(2_200_000))), { delayMs: 10, parts: 8, chunked: true });
    expect(res.status, res.text).toBe(413);
    expect((JSON.parse(res.text) as { error: { code: string } }).error.code).toBe('body_too_large');
    expect(stack.llama.replicas.map((r) => r.stats().requests)).toEqual(before);
  });

  it("a streamed response keeps its endpoint in flight until it ends (Envoy's access log says when)", async () => {
    const res = await postJson(stack.url, '/v1/chat/completions', { ...chat('count'), stream: true, max_tokens: 120 });
    expect(res.status).toBe(200);
    const served = res.headers.get('x-kvfleet-endpoint') ?? '';
    const stream = await openStream(res);
    expect(stream.first.includes('[DONE]')).toBe(false);
    for (let i = 0; i < 50 && (await endpoint(served))?.inflight !== 1; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 200));
    expect((await endpoint(served))?.inflight).toBe(1);
    expect(await stream.rest()).toContain('[DONE]');
    for (let i = 0; i < 50 && (await endpoint(served))?.inflight !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await endpoint(served))?.inflight).toBe(0);
  });

  it('a body that stops half way gets a 408 at server.body_timeout_seconds', async () => {
    const started = Date.now();
    const body = JSON.stringify(chat('never finished'));
    // The first 20 bytes, then nothing.
    const res = await slowPost('/v1/chat/completions', body, { delayMs: 0, parts: body.length / 20, stopAfter: 1 });
    expect(res.status, res.text).toBe(408);
    expect((JSON.parse(res.text) as { error: { code: string } }).error.code).toBe('body_timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(3900);
    const metrics = await (await fetch(`${stack.kvfleet.adminUrl}/metrics`)).text();
    expect(Number(metrics.match(/^kvfleet_rejections_total\{code="body_timeout"\} (\d+)/m)?.[1] ?? 0)).toBe(1);
  });

  it('serves a client that sends its body later than message_timeout (1.5 s; Envoy runs no message timer in full duplex)', async () => {
    const res = await slowPost('/v1/chat/completions', JSON.stringify(chat('late body')), { delayMs: 2500 });
    expect(res.status, stack.logs()).toBe(200);
    expect((JSON.parse(res.text) as SimReply).kvfleet_sim.received_model).toBe(LLAMA_ID);
  });
});

describe('the response side too (as endpoint-picker gateways configure it: response headers, full-duplex response body)', () => {
  let both: Stack;
  beforeAll(async () => {
    both = await startStack({
      sim: { decodeMsPerToken: 2, defaultMaxTokens: 8 },
      editEnvoy: (config) =>
        forEachProcessingMode(config, (pm) =>
          Object.assign(pm, { response_header_mode: 'SEND', response_body_mode: 'FULL_DUPLEX_STREAMED', response_trailer_mode: 'SEND' }),
        ),
    });
  });
  afterAll(async () => {
    await both?.stop();
  });

  it('the client gets the whole response, plain or streamed, with the explanation headers', async () => {
    const res = await postJson(both.url, '/v1/chat/completions', chat('Say hello.'));
    expect(res.status, both.logs()).toBe(200);
    expect(res.headers.get('x-kvfleet-model')).toBe('llama-3-8b');
    const body = (await res.json()) as SimReply & { choices: Array<{ message: { content: string } }> };
    expect(body.kvfleet_sim.received_model).toBe(LLAMA_ID);
    expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);

    const sse = await postJson(both.url, '/v1/chat/completions', { ...chat('count'), stream: true, max_tokens: 40 });
    expect(sse.status).toBe(200);
    const text = await sse.text();
    expect(text.match(/^data: \{/gm)?.length ?? 0).toBeGreaterThanOrEqual(40);
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });
});

describe('BUFFERED request bodies (server.body_mode auto follows the filter)', () => {
  let buffered: Stack;
  beforeAll(async () => {
    buffered = await startStack({ extProcMode: 'buffered', sim: { decodeMsPerToken: 2, defaultMaxTokens: 8 } });
  });
  afterAll(async () => {
    await buffered?.stop();
  });

  it('routes and explains the same way', async () => {
    const res = await postJson(buffered.url, '/v1/chat/completions', chat('Say hello.'), { 'x-request-id': 'buffered-1' });
    expect(res.status, buffered.logs()).toBe(200);
    const body = (await res.json()) as SimReply;
    expect(body.kvfleet_sim.received_model).toBe(LLAMA_ID);
    expect(res.headers.get('x-kvfleet-request-id')).toBe('buffered-1');
    expect(res.headers.get('x-kvfleet-endpoint')).toBe(`127.0.0.1:${body.kvfleet_sim.port}`);
  });

  it('SIGTERM ends the streams kvfleet has answered at once: kvfleet exits before a long stream does, and the stream completes', async () => {
    const res = await postJson(buffered.url, '/v1/chat/completions', { ...chat('count'), stream: true, max_tokens: 1500 });
    expect(res.status).toBe(200);
    const stream = await openStream(res);
    const stopped = buffered.kvfleet.stop().then((code) => ({ code, at: Date.now() }));
    const rest = stream.rest().then((text) => ({ text, at: Date.now() }));
    const [exit, done] = await Promise.all([stopped, rest]);
    expect(exit.code).toBe(0);
    expect(exit.at).toBeLessThan(done.at);
    expect(done.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    await buffered.kvfleet.start();
  });
});
