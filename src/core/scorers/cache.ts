// Cache-affinity scorer: how much of the prompt is likely already in a replica's KV cache.
//   score = 1                                     when the session is pinned to a usable endpoint
//         = max over usable endpoints of matched blocks / prompt blocks   otherwise
//         = 0                                     when the prompt has no full block
import { listHas } from '../endpoints/assess.js';
import type { Scorer } from './scorer.js';

export const cacheScore: Scorer = (i) => {
  const a = i.assessment;
  if (a.pin !== -1 && listHas(a.usable, a.pin)) return 1;
  if (i.promptBlocks <= 0) return 0;
  let best = 0;
  for (let j = 0; j < a.usable.length; j++) {
    const m = a.matched[a.usable[j] as number] as number;
    if (m > best) best = m;
  }
  return Math.min(1, best / i.promptBlocks);
};
