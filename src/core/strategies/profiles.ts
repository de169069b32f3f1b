// Strategies that are only a ranking key over the candidates' scores and an endpoint
// mode: one row each. score(c) orders the candidates (stable: ties keep the default
// model first, then fleet order); shown(c), when given, is the 0..1 score reported.
//   hybrid_score   (default) Σ_d w_d·s_d / Σ_d w_d (scorers/registry.ts); endpoint: affinity
//   cost_first     cost score (cheapest), ties by quality;            endpoint: affinity
//   latency_first  latency score (model latency + TTFT on its best endpoint); endpoint: affinity
//   quality_first  priors.quality, ties by hybrid score;              endpoint: affinity
//   least_loaded   load score (least queue wait); endpoint: least loaded, equal loads take turns
//   prefix_affinity cache score (SGLang-style baseline); endpoint: longest prefix, else CHWBL
import type { EndpointMode } from '../endpoints/picker.js';
import { rankBy, type Candidate, type Strategy } from './strategy.js';

function profile(endpointMode: EndpointMode, score: (c: Candidate) => number, shown?: (c: Candidate) => number): Strategy {
  return {
    endpointMode,
    rank: (i) => {
      const r = rankBy(i.cands, score);
      return shown === undefined ? r : { ...r, scores: r.order.map(shown) };
    },
  };
}

export const hybridScore = profile('affinity', (c) => c.total);

export const PROFILES = {
  hybrid_score: hybridScore,
  cost_first: profile(
    'affinity',
    (c) => c.scores.cost + c.scores.quality * 1e-6,
    (c) => c.scores.cost,
  ),
  latency_first: profile('affinity', (c) => c.scores.latency),
  quality_first: profile(
    'affinity',
    (c) => c.scores.quality + c.total * 1e-6,
    (c) => c.scores.quality,
  ),
  least_loaded: profile('least_loaded', (c) => c.scores.load),
  prefix_affinity: profile('prefix_only', (c) => c.scores.cache),
} as const satisfies Record<string, Strategy>;
