// The response cache through a real Envoy (envoy/envoy.yaml as shipped, full duplex) and the
// simulated replicas: a deterministic request's second copy is answered by kvfleet with
// x-kvfleet-cache: hit and the replicas see it once; another tenant's identical request is a
// miss; streamed and freely sampled requests always reach a replica; cache-control is
// respected; the hit ratio is in /metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/tools/ports.js';
import type { SimHandle } from '../../src/tools/sim/index.js';
import { postJson, startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    sim: { decodeMsPerToken: 1, defaultMaxTokens: 5 },
    editFleet: (f) => {
      f['response_cache'] = { enabled: true, max_bytes: 8 * 1024 * 1024, ttl_seconds: 120 };
    },
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const ACME = { authorization: 'Bearer demo-key-acme' };
const BETA = { authorization: 'Bearer demo-key-beta' };
const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'llama-3-8b',
  temperature: 0,
  messages: [{ role: 'user', content }],
  ...extra,
});

/** How many requests carrying `marker` the pool's replicas received. */
const seen = (pool: SimHandle, marker: string) => pool.replicas.reduce((n, r) => n + r.requests().filter((q) => q.body.includes(marker)).length, 0);

async function metric(name: string, label?: string): Promise<number> {
  const text = await (await fetch(`${stack.kvfleet.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(label !== undefined ? `${name}{${label}}` : `${name} `));
  return line !== undefined ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** The meter hands the response over after the client has it: wait until `n` responses were stored. */
const stored = (n: number) => waitFor(`${n} responses stored`, async () => (await metric('kvfleet_response_cache_fills_total', 'outcome="stored"')) >= n);

describe('response cache through Envoy', () => {
  it('the identical request is answered by kvfleet (x-kvfleet-cache: hit); the replica saw it once', async () => {
    const stores = await metric('kvfleet_response_cache_fills_total', 'outcome="stored"');
    const first = await postJson(stack.url, '/v1/chat/completions', chat('cache me: what is 2+2?'), ACME);
    expect(first.status, stack.logs()).toBe(200);
    expect(first.headers.get('x-kvfleet-cache')).toBe('miss');
    expect(first.headers.get('x-kvfleet-endpoint')).toMatch(/^127\.0\.0\.1:\d+$/);
    const body1 = await first.text();
    await stored(stores + 1);

    const second = await postJson(stack.url, '/v1/chat/completions', chat('cache me: what is 2+2?'), { ...ACME, 'x-request-id': 'cache-hit-1' });
    expect(second.status).toBe(200);
    expect(second.headers.get('x-kvfleet-cache')).toBe('hit');
    expect(second.headers.get('content-type')).toContain('application/json');
    expect(second.headers.get('x-kvfleet-model')).toBe('llama-3-8b');
    expect(second.headers.get('x-kvfleet-reason')).toBe('cache-hit');
    expect(second.headers.get('x-kvfleet-tenant')).toBe('acme');
    expect(second.headers.get('x-kvfleet-request-id')).toBe('cache-hit-1');
    expect(second.headers.get('x-kvfleet-endpoint')).toBeNull(); // no replica served it
    expect(await second.text()).toBe(body1);
    expect(seen(stack.llama, 'cache me: what is 2+2?')).toBe(1);
  });

  it("another tenant's identical request is a miss and reaches a replica", async () => {
    const stores = await metric('kvfleet_response_cache_fills_total', 'outcome="stored"');
    const q = chat('tenant-isolated question');
    const a = await postJson(stack.url, '/v1/chat/completions', q, ACME);
    expect(a.headers.get('x-kvfleet-cache')).toBe('miss');
    await a.arrayBuffer();
    await stored(stores + 1);
    for (const who of [BETA, {}]) {
      const r = await postJson(stack.url, '/v1/chat/completions', q, who);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-kvfleet-cache')).toBe('miss');
      expect(r.headers.get('x-kvfleet-endpoint')).not.toBeNull();
      await r.arrayBuffer();
    }
    expect(seen(stack.llama, 'tenant-isolated question')).toBe(3);
  });

  it('streamed and freely sampled requests bypass the cache: every copy reaches a replica', async () => {
    const streamed = chat('bypass: streamed', { stream: true });
    const sampled = chat('bypass: sampled', { temperature: 0.7 });
    for (let i = 0; i < 2; i++) {
      const s = await postJson(stack.url, '/v1/chat/completions', streamed, ACME);
      expect(s.headers.get('x-kvfleet-cache')).toBe('bypass');
      expect(await s.text()).toContain('data: [DONE]');
      const t = await postJson(stack.url, '/v1/chat/completions', sampled, ACME);
      expect(t.headers.get('x-kvfleet-cache')).toBe('bypass');
      await t.arrayBuffer();
    }
    expect(seen(stack.llama, 'bypass: streamed')).toBe(2);
    expect(seen(stack.llama, 'bypass: sampled')).toBe(2);
  });

  it('cache-control: no-store bypasses, no-cache goes upstream and refreshes the entry; a fixed seed is cached', async () => {
    const stores = await metric('kvfleet_response_cache_fills_total', 'outcome="stored"');
    const q = chat('seeded question', { temperature: 0.9, seed: 11 });
    const nostore = await postJson(stack.url, '/v1/chat/completions', q, { ...ACME, 'cache-control': 'no-store' });
    expect(nostore.headers.get('x-kvfleet-cache')).toBe('bypass');
    await nostore.arrayBuffer();
    const nocache = await postJson(stack.url, '/v1/chat/completions', q, { ...ACME, 'cache-control': 'no-cache' });
    expect(nocache.headers.get('x-kvfleet-cache')).toBe('miss');
    const fresh = await nocache.text();
    await stored(stores + 1);
    const hit = await postJson(stack.url, '/v1/chat/completions', q, ACME);
    expect(hit.headers.get('x-kvfleet-cache')).toBe('hit');
    expect(await hit.text()).toBe(fresh);
    expect(seen(stack.llama, 'seeded question')).toBe(2);
  });

  it('the hit ratio and the size are in /metrics', async () => {
    expect(await metric('kvfleet_response_cache_requests_total', 'result="hit"')).toBeGreaterThanOrEqual(2);
    expect(await metric('kvfleet_response_cache_requests_total', 'result="miss"')).toBeGreaterThanOrEqual(5);
    expect(await metric('kvfleet_response_cache_requests_total', 'result="bypass"')).toBeGreaterThanOrEqual(5);
    expect(await metric('kvfleet_response_cache_entries')).toBeGreaterThanOrEqual(3);
    expect(await metric('kvfleet_response_cache_bytes')).toBeGreaterThan(0);
  });
});
