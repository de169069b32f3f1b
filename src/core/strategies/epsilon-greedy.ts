// epsilon_greedy: with probability ε explore (uniform candidate), else exploit the
// best mean reward; an arm never tried counts as best (tried first).
//   ε starts at routing.bandit.epsilon; after each outcome ε ← max(epsilon_min, ε · epsilon_decay)
//   mean(m) = Σ reward / n   (rewards from each request's end: see core/learn.ts)
//   score = mean reward of the chosen arm (1 when untried)
import { rankBy, type Strategy } from './strategy.js';

export const epsilonGreedy: Strategy = {
  endpointMode: 'affinity',
  rank: (i) => {
    const eps = i.state.bandit.epsilon ?? i.routing.bandit.epsilon;
    const mean = (name: string) => {
      const a = i.state.bandit.arm(name);
      return a === undefined || a.n === 0 ? 1 + 1e-9 : a.rewardSum / a.n;
    };
    if (i.state.rng.next() < eps) {
      const pick = i.cands[Math.floor(i.state.rng.next() * i.cands.length) % i.cands.length];
      const r = rankBy(i.cands, (c) => (c === pick ? 2 : 0) + mean(c.model.name) * 0.5);
      return { ...r, scores: r.order.map((c) => Math.min(1, mean(c.model.name))), reasons: ['explore'] };
    }
    const r = rankBy(i.cands, (c) => mean(c.model.name));
    return { ...r, reasons: ['exploit'] };
  },
};
