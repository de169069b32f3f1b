// round_robin: candidates take turns (a counter per candidate set), and so do the
// chosen model's usable endpoints (a counter per model). Ignores affinity and load.
//   score = 1 / candidates
import type { Strategy } from './strategy.js';

export const roundRobin: Strategy = {
  endpointMode: 'round_robin',
  rank: (i) => {
    const key = `models:${i.cands.map((c) => c.model.name).join(',')}`;
    const start = (i.state.counters.get(key) ?? 0) % i.cands.length;
    const order = i.cands.map((_, k) => i.cands[(start + k) % i.cands.length] as (typeof i.cands)[number]);
    return { order, scores: order.map(() => 1 / order.length), reasons: [], counters: [key] };
  },
};
