// Through a real Envoy: kvfleet picks the model pool and the replica, the replica
// receives the rewritten model_id, and the client sees the explanation headers.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LLAMA_ID, QWEN_ID, postJson, startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ sim: { decodeMsPerToken: 1, defaultMaxTokens: 4 } });
});
afterAll(async () => {
  await stack?.stop();
});

const chat = (model: string, content = 'Say hello.', extra: Record<string, unknown> = {}) => ({
  model,
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content },
  ],
  ...extra,
});

const served = (s: Stack) => [...s.llama.replicas, ...s.qwen.replicas].map((r) => ({ addr: `127.0.0.1:${r.port}`, ...r.stats() }));

describe('routing through Envoy', () => {
  it('sends a request to a replica of the requested model, with the model_id rewritten and every explanation header', async () => {
    const before = served(stack);
    const res = await postJson(stack.url, '/v1/chat/completions', chat('llama-3-8b'), { 'x-request-id': 'e2e-req-1' });
    const body = (await res.json()) as { model: string; kvfleet_sim: { received_model: string; port: number } };
    expect(res.status, stack.logs()).toBe(200);
    expect(body.kvfleet_sim.received_model).toBe(LLAMA_ID);
    const llamaAddrs = stack.llama.replicas.map((r) => `127.0.0.1:${r.port}`);
    const h = res.headers;
    expect(h.get('x-kvfleet-request-id')).toBe('e2e-req-1');
    expect(h.get('x-kvfleet-model')).toBe('llama-3-8b');
    expect(llamaAddrs).toContain(h.get('x-kvfleet-endpoint'));
    expect(h.get('x-kvfleet-endpoint')).toBe(`127.0.0.1:${body.kvfleet_sim.port}`);
    // The first request of a fresh kvfleet: the default strategy, no affinity yet, placed by consistent hashing.
    expect(h.get('x-kvfleet-strategy')).toBe('hybrid_score');
    expect(Number(h.get('x-kvfleet-score'))).toBeGreaterThan(0);
    expect(h.get('x-kvfleet-affinity')).toBe('none');
    expect(h.get('x-kvfleet-reason')).toBe('chwbl,load-ok');
    expect(h.get('x-kvfleet-fallbacks')).toBe('1');
    expect(Number(h.get('x-kvfleet-decision-us'))).toBeGreaterThan(0);
    const after = served(stack);
    const grew = after.filter((a, i) => a.requests > (before[i]?.requests ?? 0)).map((a) => a.addr);
    expect(grew).toEqual([h.get('x-kvfleet-endpoint')]);
  });

  it('resolves aliases and auto, and answers GET /v1/models itself', async () => {
    const q = await postJson(stack.url, '/v1/chat/completions', chat('qwen'));
    expect(q.status).toBe(200);
    expect(((await q.json()) as { kvfleet_sim: { received_model: string } }).kvfleet_sim.received_model).toBe(QWEN_ID);
    expect(q.headers.get('x-kvfleet-model')).toBe('qwen-2.5-7b');
    const a = await postJson(stack.url, '/v1/chat/completions', chat('auto'));
    expect(a.status).toBe(200);
    expect(a.headers.get('x-kvfleet-model')).toBe('llama-3-8b');

    const models = await fetch(`${stack.url}/v1/models`);
    expect(models.status).toBe(200);
    expect(((await models.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id)).toEqual(['llama-3-8b', 'qwen-2.5-7b', 'hosted-gpt']);
  });

  it('spreads requests over both replicas of a model (least_loaded: equal loads take turns)', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await postJson(
        stack.url,
        '/v1/completions',
        { model: 'qwen-2.5-7b', prompt: `count ${i}`, max_tokens: 2 },
        { 'x-kvfleet-strategy': 'least_loaded' },
      );
      expect(r.headers.get('x-kvfleet-strategy')).toBe('least_loaded');
      expect(r.status).toBe(200);
      seen.add(r.headers.get('x-kvfleet-endpoint') ?? '');
    }
    expect(seen).toEqual(new Set(stack.qwen.replicas.map((r) => `127.0.0.1:${r.port}`)));
  });

  it('passes SSE streaming through intact', async () => {
    const res = await postJson(stack.url, '/v1/chat/completions', chat('llama-3-8b', 'stream please', { stream: true, max_tokens: 5 }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('x-kvfleet-model')).toBe('llama-3-8b');
    const text = await res.text();
    const events = text.split('\n\n').filter((e) => e.startsWith('data: '));
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { object: string; choices: Array<{ delta: { content?: string } }> });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.filter((c) => (c.choices[0]?.delta.content ?? '') !== '').length).toBe(5);
  });

  it('works with the official openai client, streaming and not', async () => {
    const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'demo-key-acme', maxRetries: 0 });
    const { data, response } = await client.chat.completions
      .create({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('tok1 tok2 tok3 ');
    expect(data.usage?.completion_tokens).toBe(3);
    expect(response.headers.get('x-kvfleet-model')).toBe('qwen-2.5-7b');

    const stream = await client.chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream: true });
    let content = '';
    for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? '';
    expect(content.trim().split(/\s+/)).toHaveLength(4);

    // /v1/embeddings is parsed and routed to embedding models only: this fleet has none.
    const emb = await client.embeddings.create({ model: 'qwen', input: ['a', 'b'] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(emb).toBeInstanceOf(OpenAI.BadRequestError);
    expect((emb as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('not an embedding model');
  });

  it('ignores forged x-kvfleet-cluster and x-gateway-destination-endpoint headers', async () => {
    const qwen0 = stack.qwen.replicas[0];
    const before = stack.qwen.replicas.map((r) => r.stats().requests);
    for (let i = 0; i < 4; i++) {
      const res = await postJson(stack.url, '/v1/chat/completions', chat('llama-3-8b'), {
        'x-kvfleet-cluster': 'pool-qwen-2.5-7b',
        'x-gateway-destination-endpoint': `127.0.0.1:${qwen0?.port}`,
        'x-gateway-destination-endpoint-subset': `127.0.0.1:${qwen0?.port}`,
        'x-kvfleet-endpoint': '6.6.6.6:1',
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { kvfleet_sim: { received_model: string } }).kvfleet_sim.received_model).toBe(LLAMA_ID);
      expect(stack.llama.replicas.map((r) => `127.0.0.1:${r.port}`)).toContain(res.headers.get('x-kvfleet-endpoint'));
    }
    expect(stack.qwen.replicas.map((r) => r.stats().requests)).toEqual(before);
  });

  it('logs one structured line per decision, without prompt text', async () => {
    const secret = 'zebra-umbrella-7731';
    const res = await postJson(stack.url, '/v1/chat/completions', chat('llama-3-8b', secret), { 'x-request-id': 'log-check-1' });
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    const lines = stack.kvfleet.lines().filter((l) => l['rid'] === 'log-check-1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'decision', model: 'llama-3-8b', status: 200 });
    expect(stack.kvfleet.logs()).not.toContain(secret);
    const metrics = await (await fetch(`${stack.kvfleet.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/kvfleet_decisions_total\{model="llama-3-8b"/);
    expect(metrics).not.toContain(secret);
  });
});
