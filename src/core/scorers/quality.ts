// Quality scorer: the model's quality prior from the fleet file.
//   score = priors.quality  (0..1, default 0.5)
import type { Scorer } from './scorer.js';

export const qualityScore: Scorer = (i) => i.model.priors.quality;
