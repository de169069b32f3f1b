// prefix_affinity: cache affinity only (the SGLang-style baseline): the candidate with
// the best cache score, then the endpoint with the longest matched prefix; first-seen
// prompts by consistent hashing (CHWBL). Load is ignored except by the CHWBL bound on
// first-seen prompts — compare with hybrid_score, which weighs prefix against queueing.
//   score = cache score = matched blocks / prompt blocks
import { rankBy, type Strategy } from './strategy.js';

export const prefixAffinity: Strategy = {
  name: 'prefix_affinity',
  endpointMode: 'prefix_only',
  rank: (i) => rankBy(i.cands, (c) => c.scores.cache),
};
