// What `x-kvfleet-priority` changes (documented in docs/routing.md):
//   high    queue wait counts 1.5× in the TTFT estimate (spill off busy warm replicas
//           sooner); latency and load weights ×2, cost weight ×0.5
//   normal  as configured
//   low     queue wait counts 0.5× (stay on warm replicas, tolerate queueing);
//           cost weight ×2, latency and load weights ×0.5
import type { Priority } from '../request/headers.js';
import type { ScoreWeights } from '../config/routing-schema.js';

export interface PriorityEffect {
  readonly waitScale: number;
  readonly weights: (w: Readonly<ScoreWeights>) => ScoreWeights;
}

const same = (w: Readonly<ScoreWeights>): ScoreWeights => ({ ...w });

export const PRIORITY_EFFECTS: Readonly<Record<Priority, PriorityEffect>> = {
  high: { waitScale: 1.5, weights: (w) => ({ ...w, latency: w.latency * 2, load: w.load * 2, cost: w.cost * 0.5 }) },
  normal: { waitScale: 1, weights: same },
  low: { waitScale: 0.5, weights: (w) => ({ ...w, latency: w.latency * 0.5, load: w.load * 0.5, cost: w.cost * 2 }) },
};
