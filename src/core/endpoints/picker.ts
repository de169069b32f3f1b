// Endpoint picker: the chosen model's assessed endpoints → primary + fallbacks.
// Modes (the strategy decides which):
//   affinity      (default) session pin if usable, unless it is over the CHWBL cap and
//                 another endpoint has a lower estimated TTFT (then re-pinned); else the
//                 warm endpoint (prefix match ≥ 1 block) with the least estimated TTFT,
//                 unless the CHWBL pick (first in the key's ring walk with load + 1 ≤ cap)
//                 is faster — a swamped warm replica loses to an idle cold one;
//                 first-seen prompts and sessions go to the CHWBL pick.
//   prefix_only   longest prefix match (ties: ring rank), else the CHWBL pick; ignores load.
//   least_loaded  least load, equal loads taking turns (round-robin rotation first).
//   round_robin   rotation over usable endpoints.
//   random        uniform shuffle (injected RNG).
// Fallbacks: the other usable endpoints by estimated TTFT, then cooling ones. Unhealthy
// endpoints are never listed; cooling ones only after every usable one.
import type { Rng } from '../rng.js';
import type { Affinity, EndpointEstimate, SessionInfo } from '../types.js';
import { estimateAt, listHas, minByTtft, topByTtft, type ModelAssessment } from './assess.js';

export type EndpointMode = 'affinity' | 'prefix_only' | 'least_loaded' | 'round_robin' | 'random';

export interface EndpointPick {
  readonly primary: EndpointEstimate;
  readonly endpoints: readonly string[];
  readonly affinity: Affinity;
  readonly reasons: readonly string[];
  readonly sessionOutcome: SessionInfo['outcome'] | undefined;
}

export interface PickOptions {
  readonly mode: EndpointMode;
  /** Whether the request carries a session key (pins apply in affinity mode). */
  readonly hasSession: boolean;
  readonly promptBlocks: number;
  /** Estimated prompt tokens and tokens per block: the affinity score is the cached share of the prompt. */
  readonly promptTokens: number;
  readonly blockTokens: number;
  readonly rrStart: number;
  readonly rng: Rng;
  readonly maxFallbacks: number;
}

/**
 * CHWBL over the endpoints of `list` with fresh (or no) engine metrics; endpoints whose
 * metrics went stale are unknown, not idle, and are placed only when nothing else is usable.
 * Returns an endpoint index (list is never empty here).
 */
function chwblPick(as: ModelAssessment, list: Int32Array, cap: number): number {
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
    // Unreachable with cap ≥ mean + 1, kept for safety: least loaded, then ring order.
    if (fallback === -1 || l < (as.load[fallback] as number) || (l === as.load[fallback] && r < (as.ringRank[fallback] as number))) fallback = k;
  }
  return pick !== -1 ? pick : fallback;
}

export function pickEndpoints(as: ModelAssessment, o: PickOptions): EndpointPick | undefined {
  const reasons: string[] = [];
  let list = as.usable;
  const unhealthy = as.addrs.length - as.healthyCount;
  const cooling = as.coolingIdx;
  if (unhealthy > 0) reasons.push(`unhealthy-skipped:${unhealthy}`);
  if (list.length === 0) {
    if (cooling.length === 0) return undefined;
    list = cooling; // every endpoint is rate-limited: the least bad one still beats a 503
    reasons.push('all-cooling');
  } else if (cooling.length > 0) {
    reasons.push(`cooling-skipped:${cooling.length}`);
  }
  const cap = as.cap;
  const { load, ttftMs, matched, ringRank } = as;

  let primary = -1;
  let sessionOutcome: SessionInfo['outcome'] | undefined;
  let head = '';
  switch (o.mode) {
    case 'affinity': {
      if (o.hasSession) {
        sessionOutcome = 'new';
        if (as.pin !== -1) {
          const p = as.pin;
          if (!listHas(list, p)) sessionOutcome = 'yield-unhealthy';
          else if ((load[p] as number) + 1 > cap && minByTtft(as, list, (k) => k !== p && (ttftMs[k] as number) < (ttftMs[p] as number)) !== -1) sessionOutcome = 'yield-overloaded';
          else {
            primary = p;
            sessionOutcome = 'pinned';
            head = 'session-pin';
          }
        }
        if (sessionOutcome.startsWith('yield')) reasons.push(`session-${sessionOutcome}`);
      }
      if (primary === -1) {
        const warm = minByTtft(as, list, (k) => (matched[k] as number) > 0);
        const ch = chwblPick(as, list, cap);
        if (warm !== -1 && (warm === ch || (ttftMs[warm] as number) <= (ttftMs[ch] as number))) {
          primary = warm;
          head = 'prefix-hit';
        } else {
          primary = ch;
          head = warm !== -1 ? 'prefix-spill' : 'chwbl';
        }
      }
      break;
    }
    case 'prefix_only': {
      let longest = -1;
      for (let j = 0; j < list.length; j++) {
        const k = list[j] as number;
        const m = matched[k] as number;
        if (longest === -1 || m > (matched[longest] as number) || (m === matched[longest] && (ringRank[k] as number) < (ringRank[longest] as number))) longest = k;
      }
      if (longest !== -1 && (matched[longest] as number) > 0) {
        primary = longest;
        head = 'prefix-hit';
      } else {
        primary = chwblPick(as, list, cap);
        head = 'chwbl';
      }
      break;
    }
    case 'least_loaded': {
      // Stale metrics are unknown load: such endpoints come after every fresh one.
      // Linear scan in rotated order: the first of the least loaded wins, so equal loads take turns.
      const n = list.length;
      for (let j = 0; j < n; j++) {
        const k = list[(o.rrStart + j) % n] as number;
        if (primary === -1) primary = k;
        else {
          const ds = (as.stale[k] as number) - (as.stale[primary] as number);
          if (ds < 0 || (ds === 0 && (load[k] as number) < (load[primary] as number))) primary = k;
        }
      }
      head = primary !== -1 && load[primary] === 0 ? 'idle' : 'least-loaded';
      break;
    }
    case 'round_robin': {
      primary = list[o.rrStart % list.length] as number;
      head = 'round-robin';
      break;
    }
    case 'random': {
      primary = list[Math.floor(o.rng.next() * list.length) % list.length] as number;
      head = 'random';
      break;
    }
  }
  if (primary === -1) return undefined;
  const p = estimateAt(as, primary);
  reasons.unshift(head);
  reasons.push(p.load + 1 <= cap ? 'load-ok' : 'load-high');
  if (p.stale) reasons.push('stale-metrics');

  const rest = topByTtft(as, list, o.maxFallbacks, primary);
  if (list !== cooling && rest.length < o.maxFallbacks) rest.push(...topByTtft(as, cooling, o.maxFallbacks - rest.length, primary));
  const endpoints = [p.address, ...rest.map((k) => as.addrs[k] as string)];

  let affinity: Affinity;
  if (sessionOutcome === 'pinned') affinity = { kind: 'session', score: 1, matchedBlocks: p.matchedBlocks };
  else if (p.matchedBlocks > 0) {
    const share = o.promptTokens > 0 ? Math.min(1, (p.matchedBlocks * o.blockTokens) / o.promptTokens) : 0;
    affinity = { kind: 'prefix', score: share, matchedBlocks: p.matchedBlocks };
  } else affinity = { kind: 'none', score: 0, matchedBlocks: 0 };
  return { primary: p, endpoints, affinity, reasons, sessionOutcome };
}
