// What every scorer sees about one candidate model. Scorers return 0..1
// (higher is better); weights are applied outside, in weighted-sum.ts.
import type { Model } from '../../config/fleet.js';
import type { RoutingConfig } from '../../config/routing-schema.js';
import type { BanditStats } from '../learned/bandit-stats.js';
import type { ModelAssessment } from '../endpoints/assess.js';
import type { EndpointEstimate } from '../types.js';

export interface ScorerInput {
  readonly model: Model;
  readonly assessment: ModelAssessment;
  /** The endpoint the model would most likely use: its session pin when usable, else least TTFT. */
  readonly best: EndpointEstimate | undefined;
  readonly promptBlocks: number;
  /** Estimated request price, USD (price.ts). */
  readonly priceUsd: number;
  readonly routing: Readonly<RoutingConfig>;
  readonly bandit: BanditStats;
}

export type Scorer = (i: ScorerInput) => number;
