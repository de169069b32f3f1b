// random: a uniform candidate and a uniform usable endpoint (injected RNG).
//   score = 1 / candidates
import type { Strategy } from './strategy.js';

export const randomStrategy: Strategy = {
  endpointMode: 'random',
  rank: (i) => {
    const order = [...i.cands];
    for (let k = order.length - 1; k > 0; k--) {
      const j = Math.floor(i.state.rng.next() * (k + 1)) % (k + 1);
      [order[k], order[j]] = [order[j] as (typeof order)[number], order[k] as (typeof order)[number]];
    }
    return { order, scores: order.map(() => 1 / order.length), reasons: [] };
  },
};
