// Endpoint picker: the chosen model's assessed endpoints → primary + fallbacks.
//   list      usable endpoints (healthy, not cooling); when none is usable, the cooling
//             ones (`all-cooling`: the least bad still beats a 503); unhealthy never
//   primary   by the strategy's endpoint mode (pickers/registry.ts: affinity, prefix_only,
//             least_loaded, round_robin, random)
//   fallbacks the other endpoints of the list by estimated TTFT, then cooling ones
//   affinity  session (pinned) · prefix:<cached share of the prompt> · none
import type { Affinity, EndpointEstimate, SessionInfo } from '../types.js';
import { estimateAt, topByTtft, type ModelAssessment } from './assess.js';
import type { PickOptions } from './pickers/pick.js';
import { PICKERS, type EndpointMode } from './pickers/registry.js';

export type { EndpointMode, PickOptions };

export interface EndpointPick {
  readonly primary: EndpointEstimate;
  readonly endpoints: readonly string[];
  readonly affinity: Affinity;
  readonly reasons: readonly string[];
  readonly sessionOutcome: SessionInfo['outcome'] | undefined;
}

export function pickEndpoints(as: ModelAssessment, mode: EndpointMode, o: PickOptions): EndpointPick | undefined {
  const context: string[] = [];
  let list = as.usable;
  const unhealthy = as.addrs.length - as.healthyCount;
  const cooling = as.coolingIdx;
  if (unhealthy > 0) context.push(`unhealthy-skipped:${unhealthy}`);
  if (list.length === 0) {
    if (cooling.length === 0) return undefined;
    list = cooling;
    context.push('all-cooling');
  } else if (cooling.length > 0) {
    context.push(`cooling-skipped:${cooling.length}`);
  }
  const cap = as.cap;
  const pick = PICKERS[mode].pick({ as, list, cap, o });
  if (pick.primary === -1) return undefined;
  const p = estimateAt(as, pick.primary);
  const reasons = [pick.head, ...context, ...(pick.reasons ?? []), p.load + 1 <= cap ? 'load-ok' : 'load-high'];
  if (p.stale) reasons.push('stale-metrics');

  const rest = topByTtft(as, list, o.maxFallbacks, pick.primary);
  if (list !== cooling && rest.length < o.maxFallbacks) rest.push(...topByTtft(as, cooling, o.maxFallbacks - rest.length, pick.primary));
  const endpoints = [p.address, ...rest.map((k) => as.addrs[k] as string)];

  let affinity: Affinity;
  if (pick.sessionOutcome === 'pinned') affinity = { kind: 'session', score: 1, matchedBlocks: p.matchedBlocks };
  else if (p.matchedBlocks > 0) {
    const share = o.promptTokens > 0 ? Math.min(1, (p.matchedBlocks * o.blockTokens) / o.promptTokens) : 0;
    affinity = { kind: 'prefix', score: share, matchedBlocks: p.matchedBlocks };
  } else affinity = { kind: 'none', score: 0, matchedBlocks: 0 };
  return { primary: p, endpoints, affinity, reasons, sessionOutcome: pick.sessionOutcome };
}
