// core/priority.ts priorityWeights: routing.weights scaled per priority, computed once per
// weights object and priority (decide() asks on every request), never mutating the fleet's.
import { describe, expect, it } from 'vitest';
import { SCORE_DIMENSIONS } from '../../src/config/names.js';
import type { ScoreWeights } from '../../src/config/routing-schema.js';
import { PRIORITY_EFFECTS, priorityWeights } from '../../src/core/priority.js';

const weights = (): ScoreWeights => ({ cost: 1, latency: 2, quality: 3, cache: 4, load: 5, compliance: 6 });

describe('priorityWeights', () => {
  it('scales each dimension by the priority multiplier (missing = ×1)', () => {
    const w = weights();
    for (const p of ['high', 'normal', 'low'] as const) {
      const got = priorityWeights(w, PRIORITY_EFFECTS[p]);
      for (const d of SCORE_DIMENSIONS) expect(got[d]).toBe(w[d] * (PRIORITY_EFFECTS[p].weights[d] ?? 1));
    }
    expect(w).toEqual(weights());
  });

  it('gives the same frozen object for the same weights and priority, a new one for new weights', () => {
    const w = weights();
    const a = priorityWeights(w, PRIORITY_EFFECTS.high);
    expect(priorityWeights(w, PRIORITY_EFFECTS.high)).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(priorityWeights(w, PRIORITY_EFFECTS.low)).not.toBe(a);
    const reloaded = { ...w, cost: 10 };
    expect(priorityWeights(reloaded, PRIORITY_EFFECTS.high).cost).toBe(5);
  });

  it('computes an effect that is not one of the three afresh', () => {
    const w = weights();
    const own = { waitScale: 1, weights: { cost: 3 } };
    expect(priorityWeights(w, own).cost).toBe(3);
    expect(priorityWeights(w, own)).not.toBe(priorityWeights(w, own));
  });
});
