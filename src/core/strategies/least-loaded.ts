// least_loaded: the candidate with the best load score, then its least-loaded usable
// endpoint (load = max(in-flight, engine running + waiting)); equal loads take turns.
// Ignores prefix and session affinity.
//   score = load score = 1 / (1 + min wait_ms / latency_ref_ms)
import { rankBy, type Strategy } from './strategy.js';

export const leastLoaded: Strategy = {
  name: 'least_loaded',
  endpointMode: 'least_loaded',
  rank: (i) => rankBy(i.cands, (c) => c.scores.load),
};
