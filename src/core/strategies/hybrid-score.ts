// hybrid_score (default): multi-objective score.
//   score(m) = Σ_d w_d · s_d(m) / Σ_d w_d   over cost, latency, quality, cache, load, compliance
// Weights: routing.weights (defaults cost .2, latency .25, quality .25, cache .15, load .15,
// compliance 0), adjusted by priority. Endpoint choice: affinity mode (session, prefix vs
// load by estimated TTFT, CHWBL). Ties: default model, then fleet order.
import type { Strategy } from './strategy.js';
import { rankBy } from './strategy.js';

export const hybridScore: Strategy = {
  name: 'hybrid_score',
  endpointMode: 'affinity',
  rank: (i) => rankBy(i.cands, (c) => c.total),
};
