// The endpoint list a decision keeps for its explanation (headers, /debug ring,
// POST /v1/route/explain). Bounded: a pool of up to MAX_DETAILS endpoints is shown
// whole, in pool order; a bigger one shows, in this order and up to MAX_DETAILS,
// the endpoints the decision sent (primary, fallbacks), then the warm ones (a prefix
// match), then the unhealthy and cooling ones — the ones a reader asks about.
import type { EndpointEstimate } from '../types.js';
import { positionsOf } from '../membership.js';
import { estimateAt, type ModelAssessment } from './assess.js';

export const MAX_DETAILS = 32;

export function endpointDetails(as: ModelAssessment, sent: readonly string[]): EndpointEstimate[] {
  const n = as.addrs.length;
  if (n <= MAX_DETAILS) return Array.from({ length: n }, (_, k) => estimateAt(as, k));
  const chosen: number[] = [];
  const seen = new Set<number>();
  const add = (k: number | undefined) => {
    if (k === undefined || chosen.length >= MAX_DETAILS || seen.has(k)) return;
    seen.add(k);
    chosen.push(k);
  };
  const pos = positionsOf(as.addrs);
  for (const a of sent) add(pos.get(a));
  for (let k = 0; k < n && chosen.length < MAX_DETAILS; k++) if ((as.matched[k] as number) > 0) add(k);
  for (let k = 0; k < n && chosen.length < MAX_DETAILS; k++) if (as.healthy[k] === 0 || as.cooling[k] === 1) add(k);
  return chosen.map((k) => estimateAt(as, k));
}
