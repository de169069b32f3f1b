// Cost scorer: cheaper is better.
//   score = 1 / (1 + priceUsd / cost_ref_usd)        (routing.cost_ref_usd, default 0.01)
//   priceUsd = prompt tokens · cost_per_1k_input / 1000 + output tokens · cost_per_1k_output / 1000
// A free (self-hosted) model scores 1.
import type { Scorer } from './scorer.js';

export const costScore: Scorer = (i) => 1 / (1 + i.priceUsd / i.routing.cost_ref_usd);
