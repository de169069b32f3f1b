// weighted: draw a model with probability w_m / Σ w over the candidates.
//   w_m = routing.model_weights[name] (missing → 1); all zero → uniform
// Unbiased (one uniform draw against the cumulative weights), so over many draws each
// model's share converges to its normalised weight. The rest follow by weight.
// Score = the drawn model's probability.
import type { Strategy } from './strategy.js';
import { rankBy } from './strategy.js';

export const weightedStrategy: Strategy = {
  endpointMode: 'affinity',
  rank: (i) => {
    const mw = i.routing.model_weights;
    let w = i.cands.map((c) => mw[c.model.name] ?? 1);
    let sum = w.reduce((a, b) => a + b, 0);
    if (!(sum > 0)) {
      w = w.map(() => 1);
      sum = w.length;
    }
    const u = i.state.rng.next() * sum;
    let acc = 0;
    let pick = w.length - 1;
    for (let k = 0; k < w.length; k++) {
      acc += w[k] as number;
      if (u < acc) {
        pick = k;
        break;
      }
    }
    const chosen = i.cands[pick];
    const r = rankBy(i.cands, (c) => (c === chosen ? 2 : 0) + (w[i.cands.indexOf(c)] as number) / sum);
    return { ...r, scores: r.order.map((c) => (w[i.cands.indexOf(c)] as number) / sum) };
  },
};
