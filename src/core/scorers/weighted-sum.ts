// The scorers and how their results combine (outside the scorers):
//   total = Σ_d w_d · score_d / Σ_d w_d      over d in cost, latency, quality, cache, load, compliance
// w = routing.weights after the priority adjustment (priority.ts). total is 0..1.
import type { ScoreWeights } from '../../config/routing-schema.js';
import type { ScoreDimension, Scores } from '../types.js';
import { cacheScore } from './cache.js';
import { complianceScore } from './compliance.js';
import { costScore } from './cost.js';
import { latencyScore } from './latency.js';
import { loadScore } from './load.js';
import { qualityScore } from './quality.js';
import type { Scorer, ScorerInput } from './scorer.js';

export const SCORERS: Readonly<Record<ScoreDimension, Scorer>> = {
  cost: costScore,
  latency: latencyScore,
  quality: qualityScore,
  cache: cacheScore,
  load: loadScore,
  compliance: complianceScore,
};

export function scoreAll(i: ScorerInput): Scores {
  return {
    cost: costScore(i),
    latency: latencyScore(i),
    quality: qualityScore(i),
    cache: cacheScore(i),
    load: loadScore(i),
    compliance: complianceScore(i),
  };
}

export function weightedSum(s: Scores, w: Readonly<ScoreWeights>): number {
  const sum = w.cost + w.latency + w.quality + w.cache + w.load + w.compliance;
  if (!(sum > 0)) return 0;
  return (w.cost * s.cost + w.latency * s.latency + w.quality * s.quality + w.cache * s.cache + w.load * s.load + w.compliance * s.compliance) / sum;
}
