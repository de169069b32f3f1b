// quality_first: the highest priors.quality; ties by hybrid score.
//   score = quality score = priors.quality
import { rankBy, type Strategy } from './strategy.js';

export const qualityFirst: Strategy = {
  name: 'quality_first',
  endpointMode: 'affinity',
  rank: (i) => {
    const r = rankBy(i.cands, (c) => c.scores.quality + c.total * 1e-6);
    return { ...r, scores: r.order.map((c) => c.scores.quality) };
  },
};
