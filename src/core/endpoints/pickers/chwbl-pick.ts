// The CHWBL pick over a list of endpoints (consistent hashing with bounded loads):
//   pick = the endpoint with the lowest ring rank among those with load + 1 ≤ cap
// Endpoints whose engine metrics went stale are unknown, not idle: they are placed only
// when no endpoint of the list has fresh (or no) metrics. With cap ≥ mean + 1 some
// endpoint always fits; the least loaded (ties: ring rank) is kept as a safety net.
import type { ModelAssessment } from '../assess.js';

export function chwblPick(as: ModelAssessment, list: Int32Array, cap: number): number {
  let anyFresh = false;
  for (let j = 0; j < list.length && !anyFresh; j++) anyFresh = as.stale[list[j] as number] === 0;
  let pick = -1;
  let fallback = -1;
  for (let j = 0; j < list.length; j++) {
    const k = list[j] as number;
    if (anyFresh && as.stale[k] === 1) continue;
    const l = as.load[k] as number;
    const r = as.ringRank[k] as number;
    if (l + 1 <= cap && (pick === -1 || r < (as.ringRank[pick] as number))) pick = k;
    if (fallback === -1 || l < (as.load[fallback] as number) || (l === as.load[fallback] && r < (as.ringRank[fallback] as number))) fallback = k;
  }
  return pick !== -1 ? pick : fallback;
}
