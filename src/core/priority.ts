// What `x-kvfleet-priority` changes (documented in docs/routing.md), as a table:
//   waitScale   multiplies the queue wait in the TTFT estimate (endpoints/ttft.ts)
//   weights     multiplies routing.weights per dimension (missing = ×1)
//   high    wait ×1.5 (spill off busy warm replicas sooner); latency, load ×2; cost ×0.5
//   normal  as configured
//   low     wait ×0.5 (stay on warm replicas, tolerate queueing); cost ×2; latency, load ×0.5
// A request's priority: x-kvfleet-priority, else its tenant's default_priority, else normal;
// never above the tenant's max_priority.
import { SCORE_DIMENSIONS, type Priority, type ScoreDimension } from '../config/names.js';
import { PRIORITY_RANK } from '../config/policy.js';
import type { ScoreWeights } from '../config/routing-schema.js';
import type { DecisionRequest } from './types.js';

export interface PriorityEffect {
  readonly waitScale: number;
  readonly weights: Readonly<Partial<Record<ScoreDimension, number>>>;
}

export const PRIORITY_EFFECTS: { readonly [P in Priority]: PriorityEffect } = {
  high: { waitScale: 1.5, weights: { latency: 2, load: 2, cost: 0.5 } },
  normal: { waitScale: 1, weights: {} },
  low: { waitScale: 0.5, weights: { latency: 0.5, load: 0.5, cost: 2 } },
};

/**
 * Scaled weights by routing.weights object (a fleet's, replaced whole on reload) and one of the
 * three PRIORITY_EFFECTS: computed once per fleet, not per request (bounded: 3 per weights object).
 */
const SCALED = new WeakMap<Readonly<ScoreWeights>, Map<PriorityEffect, Readonly<ScoreWeights>>>();
const KNOWN_EFFECTS: ReadonlySet<PriorityEffect> = new Set(Object.values(PRIORITY_EFFECTS));

function scale(w: Readonly<ScoreWeights>, effect: PriorityEffect): ScoreWeights {
  const out = { ...w };
  for (const d of SCORE_DIMENSIONS) out[d] = w[d] * (effect.weights[d] ?? 1);
  return out;
}

/** routing.weights scaled by a priority's multipliers (frozen, and the same object for the same weights and priority). */
export function priorityWeights(w: Readonly<ScoreWeights>, effect: PriorityEffect): Readonly<ScoreWeights> {
  if (!KNOWN_EFFECTS.has(effect)) return scale(w, effect);
  let byEffect = SCALED.get(w);
  if (byEffect === undefined) SCALED.set(w, (byEffect = new Map<PriorityEffect, Readonly<ScoreWeights>>()));
  let out = byEffect.get(effect);
  if (out === undefined) byEffect.set(effect, (out = Object.freeze(scale(w, effect))));
  return out;
}

/** The request's priority: the header, else the tenant's default, capped at the tenant's maximum. */
export function effectivePriority(req: DecisionRequest): { priority: Priority; capped: boolean } {
  const t = req.policy?.tenant;
  const asked = req.overrides.priority ?? t?.defaultPriority ?? 'normal';
  if (t !== undefined && PRIORITY_RANK[asked] > PRIORITY_RANK[t.maxPriority]) return { priority: t.maxPriority, capped: true };
  return { priority: asked, capped: false };
}
