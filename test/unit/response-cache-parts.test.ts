// The response cache's pure parts: which requests are deterministic, the canonical body and
// the key (what is normalised, what is kept), the byte-bounded LRU with its TTL, the
// cache-control directives, the tenant's hit plan, and the fleet file's `response_cache:`.
import { describe, expect, it } from 'vitest';
import { parseFleet } from '../../src/config/load.js';
import { ByteLru } from '../../src/core/response-cache/byte-lru.js';
import { hitPlan } from '../../src/core/response-cache/hit-plan.js';
import { canonicalBody, nondeterministic, requestKey, type KeyParts } from '../../src/core/response-cache/request-key.js';
import { cacheDirective } from '../../src/request/cache-control.js';
import { hashApiKey } from '../../src/request/identity.js';

const msgs = [{ role: 'user', content: 'what is 2+2?' }];
const key = (body: Record<string, unknown>, o: Partial<KeyParts> = {}) =>
  requestKey({ tenant: 'acme', api: 'chat', model: 'llama', strategy: undefined, models: undefined, dataClass: undefined, body, ...o });

describe('determinism rule', () => {
  it('temperature 0 or an integer seed, not streamed: cacheable; anything that samples freely or streams: not', () => {
    expect(nondeterministic('chat', { messages: msgs, temperature: 0 })).toBeUndefined();
    expect(nondeterministic('chat', { messages: msgs, temperature: 0.0 })).toBeUndefined();
    expect(nondeterministic('completion', { prompt: 'x', temperature: 0.9, seed: 42 })).toBeUndefined();
    expect(nondeterministic('chat', { messages: msgs, temperature: 0, stream: false })).toBeUndefined();
    expect(nondeterministic('chat', { messages: msgs })).toBe('sampling'); // the default temperature is 1
    expect(nondeterministic('chat', { messages: msgs, temperature: 0.7 })).toBe('sampling');
    expect(nondeterministic('chat', { messages: msgs, temperature: 0.7, seed: 1.5 })).toBe('sampling');
    expect(nondeterministic('chat', { messages: msgs, temperature: 0.7, seed: '42' })).toBe('sampling');
    expect(nondeterministic('chat', { messages: msgs, temperature: 0, stream: true })).toBe('stream');
    expect(nondeterministic('chat', { messages: msgs, seed: 7, stream: true })).toBe('stream');
  });

  it('embeddings are always deterministic', () => {
    expect(nondeterministic('embedding', { input: 'x' })).toBeUndefined();
  });
});

describe('canonical body and key', () => {
  it('key order of the body, of each message and of each content part does not matter', () => {
    const a = { temperature: 0, max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] };
    const b = { messages: [{ content: [{ text: 'hi', type: 'text' }], role: 'user' }], max_tokens: 5, temperature: 0 };
    expect(canonicalBody(a)).toBe(canonicalBody(b));
    expect(key(a)).toBe(key(b));
  });

  it('key order inside tools and response_format is kept: engines render them in the order given', () => {
    const tool = (params: Record<string, unknown>) => ({
      messages: msgs,
      temperature: 0,
      tools: [{ type: 'function', function: { name: 'f', parameters: params } }],
    });
    expect(key(tool({ type: 'object', properties: { a: {}, b: {} } }))).not.toBe(key(tool({ type: 'object', properties: { b: {}, a: {} } })));
    const rf = (schema: Record<string, unknown>) => ({
      messages: msgs,
      temperature: 0,
      response_format: { type: 'json_schema', json_schema: { name: 's', schema } },
    });
    expect(key(rf({ properties: { x: {}, y: {} } }))).not.toBe(key(rf({ properties: { y: {}, x: {} } })));
  });

  it('model (keyed apart), stream: false and stream_options leave the canonical body; numbers as JSON reads them', () => {
    const base = { messages: msgs, temperature: 0 };
    expect(canonicalBody({ ...base, model: 'a', stream: false, stream_options: { include_usage: true } })).toBe(canonicalBody(base));
    expect(canonicalBody(JSON.parse('{"temperature":0.0,"messages":[]}') as Record<string, unknown>)).toBe(canonicalBody({ temperature: 0, messages: [] }));
  });

  it('every other field, `user` included, is part of the key', () => {
    const base = { messages: msgs, temperature: 0 };
    expect(key({ ...base, user: 'u1' })).not.toBe(key({ ...base, user: 'u2' }));
    expect(key({ ...base, user: 'u1' })).not.toBe(key(base));
    expect(key({ ...base, max_tokens: 5 })).not.toBe(key({ ...base, max_tokens: 6 }));
    expect(key({ ...base, seed: 1 })).not.toBe(key(base));
    expect(key({ messages: [...msgs, { role: 'assistant', content: '4' }], temperature: 0 })).not.toBe(key(base));
  });

  it('tenant, API, model and the steering headers are part of the key; the key is 128 bits', () => {
    const base = { messages: msgs, temperature: 0 };
    const k = key(base);
    expect(k).toMatch(/^[0-9a-f]{32}$/);
    expect(key(base, { tenant: 'beta' })).not.toBe(k);
    expect(key(base, { tenant: '' })).not.toBe(k);
    expect(key(base, { api: 'completion' })).not.toBe(k);
    expect(key(base, { model: 'qwen' })).not.toBe(k);
    expect(key(base, { strategy: 'cost_first' })).not.toBe(k);
    expect(key(base, { models: ['a', 'b'] })).not.toBe(k);
    expect(key(base, { dataClass: 'confidential' })).not.toBe(k);
    // Field boundaries cannot be shifted between tenant and model.
    expect(key(base, { tenant: 'ab', model: 'c' })).not.toBe(key(base, { tenant: 'a', model: 'bc' }));
  });
});

describe('byte-bounded LRU with TTL', () => {
  const e = (bytes: number, expiresAt = 1e9) => ({ bytes, expiresAt });

  it('never holds more than its bound: the least recently used go first, a read refreshes', () => {
    const evicted: string[] = [];
    const lru = new ByteLru<{ bytes: number; expiresAt: number }>(100, (r) => evicted.push(r));
    lru.set('a', e(40), 0);
    lru.set('b', e(40), 0);
    expect(lru.get('a', 0)).toBeDefined(); // a is now the most recent
    lru.set('c', e(40), 0); // over 100: b goes
    expect(lru.get('b', 0)).toBeUndefined();
    expect(lru.get('a', 0)).toBeDefined();
    expect(lru.get('c', 0)).toBeDefined();
    expect(lru.bytes).toBe(80);
    expect(evicted).toEqual(['lru']);
    for (let i = 0; i < 50; i++) {
      lru.set(`k${i}`, e(7 + (i % 5)), 0);
      expect(lru.bytes).toBeLessThanOrEqual(100);
    }
  });

  it('refuses an entry larger than the bound; replacing an entry counts it once', () => {
    const lru = new ByteLru<{ bytes: number; expiresAt: number }>(100);
    expect(lru.set('big', e(101), 0)).toBe(false);
    expect(lru.size).toBe(0);
    lru.set('a', e(30), 0);
    lru.set('a', e(50), 0);
    expect(lru.bytes).toBe(50);
    expect(lru.size).toBe(1);
  });

  it('an expired entry is not served and its bytes are freed; inserts sweep expired ones', () => {
    const evicted: string[] = [];
    const lru = new ByteLru<{ bytes: number; expiresAt: number }>(1000, (r) => evicted.push(r));
    lru.set('a', e(10, 100), 0);
    lru.set('b', e(10, 100), 0);
    expect(lru.get('a', 99)).toBeDefined();
    expect(lru.get('a', 100)).toBeUndefined();
    expect(lru.bytes).toBe(10);
    lru.set('c', e(10, 500), 200); // b expired: swept
    expect(lru.size).toBe(1);
    expect(lru.bytes).toBe(10);
    expect(evicted).toEqual(['ttl', 'ttl']);
  });

  it('a smaller bound evicts down to it', () => {
    const lru = new ByteLru<{ bytes: number; expiresAt: number }>(100);
    for (const k of ['a', 'b', 'c', 'd']) lru.set(k, e(25), 0);
    lru.resize(50);
    expect(lru.bytes).toBe(50);
    expect(lru.get('a', 0)).toBeUndefined();
    expect(lru.get('d', 0)).toBeDefined();
  });
});

describe('cache-control', () => {
  it('no-store wins, no-cache (also with a field list), anything else is the default', () => {
    expect(cacheDirective(undefined)).toBe('default');
    expect(cacheDirective('max-age=0')).toBe('default');
    expect(cacheDirective('No-Cache')).toBe('no-cache');
    expect(cacheDirective('no-cache="x", max-age=5')).toBe('no-cache');
    expect(cacheDirective('no-cache, no-store')).toBe('no-store');
    expect(cacheDirective(' no-store ')).toBe('no-store');
  });
});

describe('hit plan', () => {
  const tenants = `
models: [{ name: m, cluster: c, model_id: m, endpoints: [10.0.0.1:8000] }]
identity: { sources: [api_key] }
tenants:
  free: { api_keys: [${hashApiKey('k1')}] }
  rated: { api_keys: [${hashApiKey('k2')}], limits: { rpm: 10, tpm: 1000 }, budget: { daily_usd: 5 } }
`;
  const fleet = (() => {
    const r = parseFleet(tenants);
    if (!r.ok) throw new Error(r.problems.join('\n'));
    return r.fleet;
  })();

  it('a hit costs the tenant one request of its rpm and nothing else; budgets are read, never enforced', () => {
    expect(hitPlan(undefined, 'm', 0)).toBeUndefined();
    expect(hitPlan(fleet.policy.tenants.get('free'), 'm', 0)).toBeUndefined();
    const p = hitPlan(fleet.policy.tenants.get('rated'), 'm', Date.UTC(2026, 0, 1));
    expect(p?.meter).toBe(false);
    expect(p?.estimateUsd).toBe(0);
    expect(p?.checks.map((c) => (c.kind === 'rate' ? `rate:${c.unit}:${c.cost}` : `budget:${c.unit}:${c.cost}:${c.enforce}`))).toEqual([
      'rate:requests:1',
      'budget:usd:0:false',
    ]);
  });
});

describe('fleet file: response_cache', () => {
  const base = 'models: [{ name: m, aliases: [em], cluster: c, model_id: m, endpoints: [10.0.0.1:8000] }]\n';
  const problems = (yaml: string) => {
    const r = parseFleet(base + yaml);
    return r.ok ? [] : r.problems;
  };

  it('off by default, with defaults for every key', () => {
    const r = parseFleet(base);
    expect(r.ok && r.fleet.file.response_cache).toEqual({ enabled: false, max_bytes: 64 * 1024 * 1024, ttl_seconds: 300, max_entry_bytes: 1024 * 1024 });
  });

  it('every problem names its field', () => {
    expect(problems('response_cache: { enabled: true, max_bytes: 1000, max_entry_bytes: 2000 }').join('\n')).toContain('response_cache.max_entry_bytes');
    expect(problems('response_cache: { max_entry_bytes: 8388608 }').join('\n')).toMatch(/response_cache\.max_entry_bytes.*4 MiB/);
    expect(problems('response_cache: { ttl_seconds: 0 }').join('\n')).toContain('response_cache.ttl_seconds');
    expect(problems('response_cache: { models: [m, nope] }').join('\n')).toMatch(/response_cache\.models\[1\].*"nope"/);
    expect(problems('response_cache: { models: [em] }')).toEqual([]);
    expect(problems('response_cache: { enable: true }').join('\n')).toContain('response_cache');
  });
});
