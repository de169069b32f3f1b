// The scorers, one per score dimension (config/names.ts SCORE_DIMENSIONS), and how
// their results combine — outside the scorers:
//   score_d = SCORERS[d](candidate)                                    each 0..1
//   total   = Σ_d w_d · score_d / Σ_d w_d      w = routing.weights after priority (priority.ts)
// Adding a dimension: name it in SCORE_DIMENSIONS and DEFAULT_WEIGHTS; the compiler then
// asks for its scorer here.
import { SCORE_DIMENSIONS, type ScoreDimension } from '../../config/names.js';
import type { ScoreWeights } from '../../config/routing-schema.js';
import type { Scores } from '../types.js';
import { cacheScore } from './cache.js';
import { complianceScore } from './compliance.js';
import { costScore } from './cost.js';
import { latencyScore } from './latency.js';
import { loadScore } from './load.js';
import { qualityScore } from './quality.js';
import type { Scorer, ScorerInput } from './scorer.js';

export const SCORERS: { readonly [D in ScoreDimension]: Scorer } = {
  cost: costScore,
  latency: latencyScore,
  quality: qualityScore,
  cache: cacheScore,
  load: loadScore,
  compliance: complianceScore,
};

export function scoreAll(i: ScorerInput): Scores {
  const s = {} as Record<ScoreDimension, number>;
  for (const d of SCORE_DIMENSIONS) s[d] = SCORERS[d](i);
  return s;
}

export function weightedSum(s: Scores, w: Readonly<ScoreWeights>): number {
  let sum = 0;
  let acc = 0;
  for (const d of SCORE_DIMENSIONS) {
    sum += w[d];
    acc += w[d] * s[d];
  }
  return sum > 0 ? acc / sum : 0;
}
