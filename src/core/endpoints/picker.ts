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
import { minByTtft, topByTtft, type ModelAssessment } from './assess.js';

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
 * CHWBL over the endpoints with fresh (or no) engine metrics; endpoints whose metrics
 * went stale are unknown, not idle, and are placed only when nothing else is usable.
 */
function chwblPick(all: readonly EndpointEstimate[], cap: number): EndpointEstimate | undefined {
  const usable = all.some((u) => !u.stale) ? all.filter((u) => !u.stale) : all;
  let pick: EndpointEstimate | undefined;
  for (const u of usable) {
    if (u.load + 1 <= cap && (pick === undefined || u.ringRank < pick.ringRank)) pick = u;
  }
  if (pick !== undefined) return pick;
  // Unreachable with cap ≥ mean + 1, kept for safety: least loaded, then ring order.
  return [...usable].sort((x, y) => x.load - y.load || x.ringRank - y.ringRank)[0];
}

export function pickEndpoints(as: ModelAssessment, o: PickOptions): EndpointPick | undefined {
  const reasons: string[] = [];
  let usable = as.usable;
  const unhealthy = as.endpoints.filter((e) => !e.healthy).length;
  const cooling = as.endpoints.filter((e) => e.healthy && e.cooling);
  if (unhealthy > 0) reasons.push(`unhealthy-skipped:${unhealthy}`);
  if (usable.length === 0) {
    if (cooling.length === 0) return undefined;
    usable = cooling; // every endpoint is rate-limited: the least bad one still beats a 503
    reasons.push('all-cooling');
  } else if (cooling.length > 0) {
    reasons.push(`cooling-skipped:${cooling.length}`);
  }
  const cap = as.cap;

  let primary: EndpointEstimate | undefined;
  let sessionOutcome: SessionInfo['outcome'] | undefined;
  let head = '';
  switch (o.mode) {
    case 'affinity': {
      if (o.hasSession) {
        sessionOutcome = 'new';
        if (as.pin !== undefined) {
          const p = usable.find((u) => u.address === as.pin);
          if (p === undefined) sessionOutcome = 'yield-unhealthy';
          else if (p.load + 1 > cap && usable.some((u) => u !== p && u.ttftMs < p.ttftMs)) sessionOutcome = 'yield-overloaded';
          else {
            primary = p;
            sessionOutcome = 'pinned';
            head = 'session-pin';
          }
        }
        if (sessionOutcome.startsWith('yield')) reasons.push(`session-${sessionOutcome}`);
      }
      if (primary === undefined) {
        const warm = minByTtft(usable, (u) => u.matchedBlocks > 0);
        const ch = chwblPick(usable, cap) as EndpointEstimate;
        if (warm !== undefined && (warm === ch || warm.ttftMs <= ch.ttftMs)) {
          primary = warm;
          head = 'prefix-hit';
        } else {
          primary = ch;
          head = warm !== undefined ? 'prefix-spill' : 'chwbl';
        }
      }
      break;
    }
    case 'prefix_only': {
      let longest: EndpointEstimate | undefined;
      for (const u of usable) {
        if (longest === undefined || u.matchedBlocks > longest.matchedBlocks || (u.matchedBlocks === longest.matchedBlocks && u.ringRank < longest.ringRank)) longest = u;
      }
      if (longest !== undefined && longest.matchedBlocks > 0) {
        primary = longest;
        head = 'prefix-hit';
      } else {
        primary = chwblPick(usable, cap);
        head = 'chwbl';
      }
      break;
    }
    case 'least_loaded': {
      // Stale metrics are unknown load: such endpoints come after every fresh one.
      // Linear scan in rotated order: the first of the least loaded wins, so equal loads take turns.
      const n = usable.length;
      for (let i = 0; i < n; i++) {
        const u = usable[(o.rrStart + i) % n] as EndpointEstimate;
        if (primary === undefined || Number(u.stale) - Number(primary.stale) < 0 || (u.stale === primary.stale && u.load < primary.load)) primary = u;
      }
      head = primary !== undefined && primary.load === 0 ? 'idle' : 'least-loaded';
      break;
    }
    case 'round_robin': {
      primary = usable[o.rrStart % usable.length];
      head = 'round-robin';
      break;
    }
    case 'random': {
      primary = usable[Math.floor(o.rng.next() * usable.length) % usable.length];
      head = 'random';
      break;
    }
  }
  if (primary === undefined) return undefined;
  const p = primary;
  reasons.unshift(head);
  reasons.push(p.load + 1 <= cap ? 'load-ok' : 'load-high');
  if (p.stale) reasons.push('stale-metrics');

  const rest = topByTtft(usable, o.maxFallbacks, p);
  if (usable !== cooling && rest.length < o.maxFallbacks) rest.push(...topByTtft(cooling, o.maxFallbacks - rest.length, p));
  const endpoints = [p.address, ...rest.map((e) => e.address)];

  let affinity: Affinity;
  if (sessionOutcome === 'pinned') affinity = { kind: 'session', score: 1, matchedBlocks: p.matchedBlocks };
  else if (p.matchedBlocks > 0) {
    const share = o.promptTokens > 0 ? Math.min(1, (p.matchedBlocks * o.blockTokens) / o.promptTokens) : 0;
    affinity = { kind: 'prefix', score: share, matchedBlocks: p.matchedBlocks };
  }
  else affinity = { kind: 'none', score: 0, matchedBlocks: 0 };
  return { primary: p, endpoints, affinity, reasons, sessionOutcome };
}
