// One clock reading per pass over a pool: the decision judges every endpoint at the same
// instant (and a 1,000-endpoint pool does not read the clock 1,000 times), the live state
// judges an endpoint at the instant it is given, and the subset-hint view keeps the clock.
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.js';
import { poolSaturated } from '../../src/core/limits/saturation.js';
import { createLearnedState } from '../../src/core/learned/learned-state.js';
import { seededRng } from '../../src/core/rng.js';
import type { EndpointView, LiveView } from '../../src/core/types.js';
import { withSubset } from '../../src/extproc/subset-hint.js';
import { LiveEndpoints } from '../../src/fleet/live-endpoints.js';
import { chatInput, endpoints, oneModelFleet, request, SYSTEM } from '../helpers/core.js';

/** LiveEndpoints on a fake clock, counting clock readings and the endpoint reads that brought none. */
function counted(now: { t: number }) {
  const live = new LiveEndpoints({ now: () => now.t });
  let clockReads = 0;
  let withoutAt = 0;
  const view: LiveView = {
    endpoint: (a: string, at?: number): EndpointView | undefined => {
      if (at === undefined) withoutAt++;
      return live.endpoint(a, at);
    },
    clock: () => {
      clockReads++;
      return live.clock();
    },
  };
  return { live, view, reads: () => ({ clockReads, withoutAt }) };
}

describe('one clock reading per pass', () => {
  it('the decision reads the clock once for a 50-endpoint pool and judges every endpoint at that instant', () => {
    const now = { t: 1_000 };
    const fleet = oneModelFleet(50);
    const { live, view, reads } = counted(now);
    for (const a of endpoints(50)) live.acquire(a);
    const d = decide(
      request(
        chatInput([
          { role: 'system', text: SYSTEM },
          { role: 'user', text: 'hello' },
        ]),
      ),
      {
        fleet,
        live: view,
        state: createLearnedState(fleet, seededRng(1)),
        now: now.t,
      },
    );
    expect(d.endpoints.length).toBeGreaterThan(0);
    expect(reads()).toEqual({ clockReads: 1, withoutAt: 0 });
  });

  it('LiveEndpoints judges an endpoint at the instant given: an open circuit and a cooldown end when `at` passes them', () => {
    const now = { t: 0 };
    const live = new LiveEndpoints({ now: () => now.t, circuit: { failureThreshold: 1, openMs: 1_000, maxOpenMs: 1_000, alpha: 0.2 } });
    live.acquire('10.0.0.1:80');
    live.recordFailure('10.0.0.1:80');
    live.coolDown('10.0.0.2:80', 500, '429');
    expect(live.endpoint('10.0.0.1:80', 999)?.healthy).toBe(false);
    expect(live.endpoint('10.0.0.1:80', 1_000)?.healthy).toBe(true);
    expect(live.endpoint('10.0.0.2:80', 499)?.coolUntil).toBe(500);
    expect(live.endpoint('10.0.0.2:80', 500)?.coolUntil).toBeUndefined();
    // Without `at`, its own clock (still at 0).
    expect(live.endpoint('10.0.0.1:80')?.healthy).toBe(false);
  });

  it('pool saturation reads the clock once for the pool', () => {
    const now = { t: 5 };
    const { live, view, reads } = counted(now);
    const pool = endpoints(20);
    for (const a of pool) for (let k = 0; k < 3; k++) live.acquire(a);
    expect(poolSaturated(pool, view, { inflight: 2, waiting: 4, kv_usage: 0.95 }, now.t)).toBe(true);
    expect(reads()).toEqual({ clockReads: 1, withoutAt: 0 });
  });

  it('the subset-hint view keeps the live clock (bound to its live state)', () => {
    const now = { t: 42 };
    const live = new LiveEndpoints({ now: () => now.t });
    const sub = withSubset(live, ['10.0.0.1:80']);
    expect(sub.clock?.()).toBe(42);
    now.t = 43;
    expect(sub.clock?.()).toBe(43);
  });
});
