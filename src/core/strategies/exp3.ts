// exp3: exponential weights for adversarial bandits.
//   p_m = (1 − γ) · w_m / Σ w + γ / K       K = candidates, γ = routing.bandit.exp3_gamma
//   draw m ~ p; on its outcome (core/learn.ts): w_m ← w_m · exp(γ · (r / p_m) / K)
// Weights are kept as logs (state/bandit-stats.ts). score = p of the chosen model.
import { rankBy, type Strategy } from './strategy.js';

export const exp3: Strategy = {
  endpointMode: 'affinity',
  rank: (i) => {
    const g = i.routing.bandit.exp3_gamma;
    const K = i.cands.length;
    const lw = i.cands.map((c) => i.state.bandit.arm(c.model.name)?.exp3LogWeight ?? 0);
    const max = Math.max(...lw);
    const w = lw.map((x) => Math.exp(x - max));
    const sum = w.reduce((a, b) => a + b, 0);
    const p = w.map((x) => (1 - g) * (x / sum) + g / K);
    const u = i.state.rng.next();
    let acc = 0;
    let pick = K - 1;
    for (let k = 0; k < K; k++) {
      acc += p[k] as number;
      if (u < acc) {
        pick = k;
        break;
      }
    }
    const chosen = i.cands[pick];
    const r = rankBy(i.cands, (c) => (c === chosen ? 2 : 0) + (p[i.cands.indexOf(c)] as number));
    return { ...r, scores: r.order.map((c) => p[i.cands.indexOf(c)] as number), banditProb: p[pick], reasons: ['drawn'] };
  },
};
