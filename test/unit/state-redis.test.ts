// The Redis usage store on a real redis-server (started here, on its own port): the same
// verdicts as the memory store for the same sequence of requests, all-or-nothing across
// instances (two clients), settlement, the usage counters, and what happens when Redis dies
// (answers `unavailable` at once, comes back by itself).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planUsage } from '../../src/core/limits/plan.js';
import { MemoryUsageStore } from '../../src/state/memory-usage.js';
import { RedisUsageStore } from '../../src/state/redis-usage.js';
import { waitFor } from '../../src/tools/ports.js';
import { fleetFrom } from '../helpers/fleet.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const fleet = fleetFrom(`
models:
  - { name: small, cluster: pool-small, model_id: small, endpoints: [10.0.0.1:8000], priors: { cost_per_1k_input: 1, cost_per_1k_output: 2 }, limits: { rpm: 7, tpm: 3000 } }
identity: { sources: [api_key] }
tenants:
  acme: { limits: { rpm: 5 }, budget: { daily_usd: 0.5, monthly_tokens: 4000 } }
`);
const small = fleet.byName.get('small');
const acme = fleet.policy.tenants.get('acme');
if (small === undefined) throw new Error('small');

let prefix = 0;
function stores(now: () => number) {
  const keyPrefix = `t${++prefix}`;
  const o = { url: redis.url, keyPrefix, commandTimeoutMs: 500, connectTimeoutMs: 1000 };
  return { a: new RedisUsageStore(o, now), b: new RedisUsageStore(o, now), mem: new MemoryUsageStore(now) };
}
const ready = (s: RedisUsageStore) => waitFor('redis ready', () => s.up(), 5000);

describe('Redis usage store', () => {
  it('gives the memory store’s verdicts for the same requests (property: random sizes and gaps)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 1, max: 900 })), { minLength: 1, maxLength: 25 }),
        async (steps) => {
          let now = Date.now();
          const { a, b, mem } = stores(() => now);
          await ready(a);
          try {
            for (const [dt, tokens] of steps) {
              now += dt;
              const plan = planUsage({ fleet, model: small, tenant: acme, promptTokens: tokens, maxOutputTokens: 10, wallNow: now });
              const m = mem.admit(plan);
              const r = await a.admit(plan);
              expect(r.allowed).toBe(m.allowed);
              // Same verdicts; the same room left — to a micro-dollar (Redis prints 14 digits), and
              // within one unit for rate windows when the store admitted from what it last heard.
              expect(r.outcomes.map((o) => [o.check.key, o.allowed])).toEqual(m.outcomes.map((o) => [o.check.key, o.allowed]));
              r.outcomes.forEach((o, i) => {
                const exact = m.outcomes[i]?.remaining ?? Number.NaN;
                expect(Math.abs(o.remaining - exact), o.check.key).toBeLessThanOrEqual(o.check.kind === 'rate' ? 1 : 1e-6);
              });
            }
          } finally {
            await Promise.all([a.close(), b.close()]);
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it('two instances share one window: 5 requests per minute in all, not per instance', async () => {
    const now = Date.now();
    const { a, b } = stores(() => now);
    await Promise.all([ready(a), ready(b)]);
    const plan = () => planUsage({ fleet, model: small, tenant: acme, promptTokens: 1, maxOutputTokens: 1, wallNow: now });
    const verdicts = await Promise.all(Array.from({ length: 12 }, (_, i) => Promise.resolve((i % 2 === 0 ? a : b).admit(plan()))));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(5);
    await Promise.all([a.close(), b.close()]);
  });

  it('settlement replaces the reservation; usage counters add up on either instance', async () => {
    const now = Date.now();
    const { a, b } = stores(() => now);
    await Promise.all([ready(a), ready(b)]);
    const plan = planUsage({ fleet, model: small, tenant: acme, promptTokens: 1000, maxOutputTokens: 1000, wallNow: now });
    expect((await a.admit(plan)).allowed).toBe(true); // 2000 of the model's 3000 tpm reserved
    expect((await b.admit(planUsage({ fleet, model: small, tenant: acme, promptTokens: 1000, maxOutputTokens: 1000, wallNow: now }))).allowed).toBe(false);
    a.settle({ plan, actual: { promptTokens: 1000, completionTokens: 20, cachedTokens: 600 }, actualUsd: 0.001, wallNow: now });
    await waitFor('the settlement', async () => (await b.usage('acme', now))[0]?.completionTokens === 20, 5000);
    const second = await b.admit(planUsage({ fleet, model: small, tenant: acme, promptTokens: 1000, maxOutputTokens: 900, wallNow: now }));
    expect(second.allowed).toBe(true); // 1020 used + 1900 reserved ≤ 3000
    const u = await a.usage('acme', now);
    expect(u[0]).toMatchObject({ window: 'day', requests: 2, promptTokens: 1000, completionTokens: 20, cachedTokens: 600 });
    await Promise.all([a.close(), b.close()]);
  });

  it('Redis down: admit answers `unavailable` at once; the store reconnects by itself', async () => {
    const now = Date.now();
    const { a } = stores(() => now);
    await ready(a);
    const plan = planUsage({ fleet, model: small, tenant: acme, promptTokens: 1, maxOutputTokens: 1, wallNow: now });
    await redis.kill();
    await waitFor('the store to notice', () => !a.up(), 5000);
    const started = performance.now();
    const r = await a.admit(plan);
    expect(r.unavailable).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
    await redis.restart();
    await waitFor('the store to reconnect', () => a.up(), 10_000);
    expect((await a.admit(plan)).allowed).toBe(true);
    await a.close();
  });
});
