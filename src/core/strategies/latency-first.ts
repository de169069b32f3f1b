// latency_first: the candidate with the least expected latency (model latency +
// estimated TTFT on its best endpoint; see scorers/latency.ts).
//   score = latency score = 1 / (1 + ms / latency_ref_ms)
import { rankBy, type Strategy } from './strategy.js';

export const latencyFirst: Strategy = {
  name: 'latency_first',
  endpointMode: 'affinity',
  rank: (i) => rankBy(i.cands, (c) => c.scores.latency),
};
