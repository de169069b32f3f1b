// cost_first: the cheapest candidate (estimated request price); ties by quality.
//   score = cost score = 1 / (1 + priceUsd / cost_ref_usd)
import { rankBy, type Strategy } from './strategy.js';

export const costFirst: Strategy = {
  name: 'cost_first',
  endpointMode: 'affinity',
  rank: (i) => {
    const r = rankBy(i.cands, (c) => c.scores.cost + c.scores.quality * 1e-6);
    return { ...r, scores: r.order.map((c) => c.scores.cost) };
  },
};
