// Through a real Envoy: prefix and session affinity keep KV caches warm, and load
// makes a warm replica spill to a cold one. The simulated replicas' own prefix-cache
// counters confirm what kvfleet's headers claim.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ sim: { decodeMsPerToken: 2, defaultMaxTokens: 4 } });
});
afterAll(async () => {
  await stack?.stop();
});

/** A long system prompt (≈1,000 tokens): worth ~100 ms of prefill to a cold replica. */
const systemPrompt = (topic: string) =>
  `You are the support assistant for ${topic}. ` +
  Array.from({ length: 80 }, (_, i) => `Rule ${i}: answer about ${topic} precisely and cite section ${i}.`).join(' ');

const addr = (port: number) => `127.0.0.1:${port}`;
const hitsByAddr = (s: Stack, which: 'llama' | 'qwen') => new Map(s[which].replicas.map((r) => [addr(r.port), r.stats().prefix_hits_tokens]));

describe('KV-cache affinity through Envoy', () => {
  it('sends requests sharing a system prompt to the same replica, whose cache then hits', async () => {
    const sys = systemPrompt('the billing product');
    const endpoints: string[] = [];
    const affinities: string[] = [];
    const before = hitsByAddr(stack, 'llama');
    for (let i = 0; i < 5; i++) {
      const res = await postJson(stack.url, '/v1/chat/completions', {
        model: 'llama-3-8b',
        messages: [
          { role: 'system', content: sys },
          { role: 'user', content: `Question number ${i}: why was I charged twice?` },
        ],
      });
      expect(res.status, stack.logs()).toBe(200);
      await res.arrayBuffer();
      endpoints.push(res.headers.get('x-kvfleet-endpoint') ?? '');
      affinities.push(res.headers.get('x-kvfleet-affinity') ?? '');
    }
    expect(new Set(endpoints).size).toBe(1);
    for (const a of affinities.slice(1)) expect(a).toMatch(/^prefix:0\.[5-9]\d$/);
    const warm = endpoints[0] ?? '';
    const after = hitsByAddr(stack, 'llama');
    // four requests reused ≈1,000 cached tokens each on the warm replica, none elsewhere
    expect((after.get(warm) ?? 0) - (before.get(warm) ?? 0)).toBeGreaterThan(4 * 800);
    for (const [a, hits] of after) if (a !== warm) expect(hits).toBe(before.get(a));
  });

  it('spills to the cold replica once the warm one is loaded', async () => {
    const sys = systemPrompt('the shipping product');
    const ask = (i: number) =>
      postJson(stack.url, '/v1/chat/completions', {
        model: 'llama-3-8b',
        stream: true,
        max_tokens: 150,
        messages: [
          { role: 'system', content: sys },
          { role: 'user', content: `Where is parcel ${i}?` },
        ],
      });
    const first = await ask(-1);
    const warm = first.headers.get('x-kvfleet-endpoint') ?? '';
    await first.text();
    // 20 concurrent streams (each ~300 ms of decode): kvfleet decides them all while the
    // earlier ones are still in flight. With the default estimate (10 ms of wait per request
    // in flight vs ≈ 100 ms of prefill saved) the warm replica stops winning after ≈ 10
    // in flight, from kvfleet's own counts alone; scraped queue lengths can only spill sooner.
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => ask(i)));
    const served = responses.map((r) => r.headers.get('x-kvfleet-endpoint') ?? '');
    await Promise.all(responses.map((r) => r.text()));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    const onWarm = served.filter((e) => e === warm).length;
    expect(onWarm, `served: ${served.join(' ')}`).toBeGreaterThanOrEqual(4);
    expect(onWarm, `served: ${served.join(' ')}`).toBeLessThan(20);
    expect(new Set(served).size).toBe(2);
  });

  it('sends turn n+1 of a conversation where turn n went, with a growing cached prefix', async () => {
    const messages: Array<{ role: string; content: string }> = [{ role: 'system', content: systemPrompt('the travel product') }];
    const endpoints: string[] = [];
    const cached: number[] = [];
    for (let turn = 0; turn < 4; turn++) {
      messages.push({ role: 'user', content: `Turn ${turn}: plan day ${turn} of my trip with museums and food.` });
      const res = await postJson(stack.url, '/v1/chat/completions', { model: 'qwen-2.5-7b', messages });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { choices: Array<{ message: { content: string } }>; kvfleet_sim: { cached_tokens: number } };
      endpoints.push(res.headers.get('x-kvfleet-endpoint') ?? '');
      cached.push(body.kvfleet_sim.cached_tokens);
      // No session id: each turn extends the previous prompt whole, so it is inferred as the
      // same conversation (affinity.infer_sessions) — and its prefix is warm there anyway.
      if (turn > 0) expect(res.headers.get('x-kvfleet-affinity')).toBe('session');
      messages.push({ role: 'assistant', content: body.choices[0]?.message.content ?? '' });
    }
    expect(new Set(endpoints).size).toBe(1);
    expect(cached[0]).toBe(0);
    for (let t = 1; t < cached.length; t++) expect(cached[t]).toBeGreaterThan(cached[t - 1] ?? 0);
  });

  it('pins a session (x-session-id) to one replica even when prompts share nothing', async () => {
    const endpoints: string[] = [];
    const affinity: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await postJson(
        stack.url,
        '/v1/chat/completions',
        { model: 'qwen-2.5-7b', messages: [{ role: 'user', content: `unrelated prompt ${i} ${'x'.repeat(i * 37)}` }] },
        { 'x-session-id': 'session-e2e-42' },
      );
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      endpoints.push(res.headers.get('x-kvfleet-endpoint') ?? '');
      affinity.push(res.headers.get('x-kvfleet-affinity') ?? '');
    }
    expect(new Set(endpoints).size).toBe(1);
    expect(affinity.slice(1)).toEqual(['session', 'session', 'session', 'session']);
  });
});
