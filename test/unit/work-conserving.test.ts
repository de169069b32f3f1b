// Routing under pressure (issue 14): on traffic that defeats prefix routing — every prompt
// starting with the same block, 1k–90k-token prompts, follow-up turns without session ids,
// bursts at 95 % load — no usable replica receives zero requests while another has a queue,
// for kvfleet's default and for every strategy that prefers a replica (property over seeds,
// 16 and 64 replicas). Runs kvfleet's production Router in virtual time (src/tools/bench/des.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runDes } from '../../src/tools/bench/des.js';
import { kvfleetFactory } from '../../src/tools/bench/policies/kvfleet.js';
import { chwblFactory } from '../../src/tools/bench/policies/baselines.js';
import { scenario, streamOf } from '../../src/tools/bench/scenarios.js';
import { createWorkload } from '../../src/tools/bench/workload.js';

/** Every replica served something, or none ever had a queue. */
function idleWhileQueued(r: ReturnType<typeof runDes>, maxConcurrency: number): { idle: number; queued: boolean } {
  const idle = r.perReplica.requests.filter((n) => n === 0).length;
  const queued = r.perReplica.peakInflight.some((p) => p > maxConcurrency);
  return { idle, queued };
}

describe('work-conserving under adversarial traffic', () => {
  for (const strategy of ['hybrid_score', 'prefix_affinity', 'cost_first', 'least_loaded']) {
    it(`${strategy}: no usable replica stays idle while another queues (property: seeds, 16 and 64 replicas, 70–95 % load)`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(16, 64), fc.constantFrom(0.7, 0.95), (seed, replicas, load) => {
          const s = scenario('adversarial', { replicas, load, seed, requests: replicas * 30 });
          const r = runDes(kvfleetFactory({ strategy, label: strategy }), createWorkload(s.spec, streamOf(s)), {
            model: s.model,
            arrivals: s.arrivals,
            seed: s.seed,
          });
          const w = idleWhileQueued(r, s.model.maxConcurrency);
          if (w.queued) expect(w.idle, `${w.idle} of ${replicas} replicas got no request while others queued`).toBe(0);
          expect(r.rejected).toBe(0);
        }),
        { numRuns: 3 },
      );
    });
  }

  it('the property can fail: plain CHWBL (every walk from the one shared key) leaves replicas idle while others queue', () => {
    const s = scenario('adversarial', { replicas: 16, load: 0.95, seed: 1, requests: 2000 });
    const r = runDes(chwblFactory(1.25), createWorkload(s.spec, streamOf(s)), { model: s.model, arrivals: s.arrivals, seed: 1 });
    const w = idleWhileQueued(r, s.model.maxConcurrency);
    expect(w.queued).toBe(true);
    expect(w.idle).toBeGreaterThan(0);
  });
});
