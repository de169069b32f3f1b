// thompson_sampling: sample θ_m ~ Beta(1 + Σ reward_m, 1 + n_m − Σ reward_m) per arm
// (rewards in 0..1 count as fractional successes) and pick the largest sample.
//   score = the chosen arm's sample θ
import { betaSample } from './beta-sample.js';
import { rankBy, type Strategy } from './strategy.js';

export const thompsonSampling: Strategy = {
  endpointMode: 'affinity',
  rank: (i) => {
    const theta = new Map(
      i.cands.map((c) => {
        const a = i.state.bandit.arm(c.model.name);
        const s = a?.rewardSum ?? 0;
        const n = a?.n ?? 0;
        return [c, betaSample(1 + s, 1 + Math.max(0, n - s), i.state.rng)] as const;
      }),
    );
    return { ...rankBy(i.cands, (c) => theta.get(c) ?? 0), reasons: ['sampled'] };
  },
};
