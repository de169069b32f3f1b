// ucb1: Upper Confidence Bound. Untried arms first; then
//   ucb(m) = mean(m) + c · sqrt(ln N / n_m)     N = Σ n over the candidates, c = routing.bandit.ucb_c (√2)
//   score  = min(1, ucb)
import { rankBy, type Strategy } from './strategy.js';

export const ucb1: Strategy = {
  endpointMode: 'affinity',
  rank: (i) => {
    const arms = i.cands.map((c) => i.state.bandit.arm(c.model.name));
    const total = arms.reduce((s, a) => s + (a?.n ?? 0), 0);
    const c = i.routing.bandit.ucb_c;
    const ucb = new Map(
      i.cands.map((cand, k) => {
        const a = arms[k];
        if (a === undefined || a.n === 0) return [cand, Infinity] as const;
        return [cand, a.rewardSum / a.n + c * Math.sqrt(Math.log(Math.max(1, total)) / a.n)] as const;
      }),
    );
    const r = rankBy(i.cands, (x) => ucb.get(x) ?? 0);
    const top = r.order[0];
    const untried = top !== undefined && ucb.get(top) === Infinity;
    return { ...r, scores: r.order.map((x) => Math.min(1, ucb.get(x) ?? 0)), reasons: [untried ? 'untried' : 'ucb'] };
  },
};
