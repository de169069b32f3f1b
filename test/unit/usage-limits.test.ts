// Rate limits (GCRA) and budgets: the pure arithmetic, the plan a request gets, and the
// all-or-nothing evaluation of the memory store.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gcra, gcraAdjust, gcraPeek } from '../../src/core/limits/gcra.js';
import { planUsage, RATE_WINDOW_MS } from '../../src/core/limits/plan.js';
import { windowEnd, windowId } from '../../src/core/limits/windows.js';
import { MemoryUsageStore } from '../../src/state/memory-usage.js';
import { fleetFrom } from '../helpers/fleet.js';

const MIN = RATE_WINDOW_MS;

describe('GCRA', () => {
  it('allows `limit` units at once, then one more every window / limit', () => {
    let tat: number | undefined;
    const now = 1_000_000;
    for (let i = 0; i < 10; i++) {
      const r = gcra(tat, now, 10, MIN, 1);
      expect(r.allowed).toBe(true);
      expect(r.remaining).toBe(9 - i);
      tat = r.tat;
    }
    const denied = gcra(tat, now, 10, MIN, 1);
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs).toBe(6000);
    expect(gcra(tat, now + 6000, 10, MIN, 1).allowed).toBe(true);
  });

  it('over any interval d, never more than limit + d · limit / window units (a burst of `limit`, refilled continuously) — property', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 5 })), { maxLength: 200 }),
        (limit, steps) => {
          let tat: number | undefined;
          let now = 0;
          const taken: Array<[number, number]> = [];
          for (const [dt, cost] of steps) {
            now += dt;
            const r = gcra(tat, now, limit, MIN, cost);
            if (r.allowed) {
              tat = r.tat;
              taken.push([now, cost]);
            }
          }
          for (let i = 0; i < taken.length; i++) {
            let sum = 0;
            for (let j = i; j < taken.length; j++) {
              sum += (taken[j] as [number, number])[1];
              const d = (taken[j] as [number, number])[0] - (taken[i] as [number, number])[0];
              expect(sum).toBeLessThanOrEqual(limit + (d * limit) / MIN + 1e-9);
            }
          }
        },
      ),
    );
  });

  it('a correction gives tokens back or takes more; peek reads without taking', () => {
    const r = gcra(undefined, 0, 1000, MIN, 800);
    expect(gcraPeek(r.tat, 0, 1000, MIN).remaining).toBe(200);
    const back = gcraAdjust(r.tat, 0, 1000, MIN, -500);
    expect(gcraPeek(back, 0, 1000, MIN).remaining).toBe(700);
    expect(gcra(r.tat, 0, 1000, MIN, 5000).retryAfterMs).toBe(MIN); // more than the limit: never
  });
});

describe('budget windows', () => {
  it('UTC days and months', () => {
    const t = Date.UTC(2026, 10, 28, 23, 59, 59);
    expect(windowId('day', t)).toBe('d2026-11-28');
    expect(windowId('month', t)).toBe('m2026-11');
    expect(windowEnd('day', t)).toBe(Date.UTC(2026, 10, 29));
    expect(windowEnd('month', Date.UTC(2026, 11, 31))).toBe(Date.UTC(2027, 0, 1));
  });
});

const LIMITED = `
server: { max_body_bytes: 65536 }
models:
  - { name: small, cluster: pool-small, model_id: small, endpoints: [10.0.0.1:8000], priors: { cost_per_1k_input: 1, cost_per_1k_output: 2 }, limits: { rpm: 100 } }
  - { name: big, cluster: pool-big, model_id: big, endpoints: [10.0.1.1:8000], provider: acct-a }
providers:
  acct-a: { limits: { tpm: 5000 } }
identity: { sources: [api_key] }
tenants:
  acme:
    limits: { rpm: 3, tpm: 10000 }
    budget: { daily_usd: 1, monthly_tokens: 100000, on_exhausted: block }
`;

describe('usage plan', () => {
  const fleet = fleetFrom(LIMITED);
  const acme = fleet.policy.tenants.get('acme');
  const small = fleet.byName.get('small');
  const big = fleet.byName.get('big');
  if (small === undefined || big === undefined) throw new Error('models');

  it("lists the tenant's, the model's and the provider account's limits and budgets, with the reservation priced", () => {
    const p = planUsage({ fleet, model: small, tenant: acme, promptTokens: 100, maxOutputTokens: 50, wallNow: Date.UTC(2026, 10, 28) });
    expect(p.checks.map((c) => c.key)).toEqual([
      'rate:tenant:acme:requests',
      'rate:tenant:acme:tokens',
      'rate:model:small:requests',
      'budget:tenant:acme:usd:d2026-11-28',
      'budget:tenant:acme:tokens:m2026-11',
    ]);
    expect(p.estimateUsd).toBeCloseTo((100 * 1 + 50 * 2) / 1000);
    expect(p.meter).toBe(true);
    const q = planUsage({ fleet, model: big, tenant: undefined, promptTokens: 10, maxOutputTokens: undefined, wallNow: 0 });
    expect(q.checks.map((c) => c.key)).toEqual(['rate:provider:acct-a:tokens']);
    expect(q.estimate.completionTokens).toBe(fleet.usage.metering.default_max_tokens);
  });

  it('the memory store refuses all or nothing, and settles with the actual usage', () => {
    let now = Date.UTC(2026, 10, 28, 12);
    const store = new MemoryUsageStore(() => now);
    const plan = () => planUsage({ fleet, model: small, tenant: acme, promptTokens: 100, maxOutputTokens: 50, wallNow: now });
    for (let i = 0; i < 3; i++) expect(store.admit(plan()).allowed).toBe(true);
    const refused = store.admit(plan());
    expect(refused.allowed).toBe(false);
    const rpm = refused.outcomes.find((o) => o.check.key === 'rate:tenant:acme:requests');
    expect(rpm).toMatchObject({ allowed: false, remaining: 0 });
    // Nothing of the refused request was charged: the model's window still has 97 left.
    expect(refused.outcomes.find((o) => o.check.key === 'rate:model:small:requests')?.remaining).toBe(96);
    now += 20_000;
    const p = plan();
    expect(store.admit(p).allowed).toBe(true);
    store.settle({ plan: p, actual: { promptTokens: 100, completionTokens: 10 }, actualUsd: (100 + 20) / 1000, wallNow: now });
    return store.usage('acme', now).then((u) => {
      expect(u[0]).toMatchObject({ window: 'day', requests: 4, promptTokens: 100, completionTokens: 10 });
    });
  });

  it('an exhausted budget refuses until its window resets', () => {
    let now = Date.UTC(2026, 10, 28, 23, 0);
    const store = new MemoryUsageStore(() => now);
    const big5: ReturnType<typeof planUsage> = planUsage({ fleet, model: small, tenant: acme, promptTokens: 400, maxOutputTokens: 300, wallNow: now });
    expect(store.admit(big5).allowed).toBe(true); // $1.00 reserved: the daily budget is spent
    now += 30_000;
    const next = store.admit(planUsage({ fleet, model: small, tenant: acme, promptTokens: 1, maxOutputTokens: 1, wallNow: now }));
    const usd = next.outcomes.find((o) => o.check.kind === 'budget' && o.check.unit === 'usd');
    expect(usd).toMatchObject({ allowed: false, remaining: 0 });
    expect(usd?.retryAfterMs).toBe(Date.UTC(2026, 10, 29) - now);
    now = Date.UTC(2026, 10, 29, 0, 5);
    expect(store.admit(planUsage({ fleet, model: small, tenant: acme, promptTokens: 1, maxOutputTokens: 1, wallNow: now })).allowed).toBe(true);
  });
});
