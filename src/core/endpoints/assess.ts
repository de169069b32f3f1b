// Assess every endpoint of one candidate model for this request: health, cooling,
// staleness, load, matched prefix blocks (prefix index), estimated TTFT and CHWBL
// ring rank. Pure: reads the live view and the index, writes nothing.
// Layout: one typed array per field, indexed like the model's endpoint list, so a
// 1,000-endpoint pool costs a numeric pass and no object per endpoint; estimateAt()
// builds the EndpointEstimate of one endpoint when a decision needs to show it.
// Prefix matching touches only the endpoints holding the prompt's first block
// (the index's reverse root map), so a big pool costs what its warm few do.
import type { AffinityConfig } from '../../config/routing-schema.js';
import type { Model } from '../../config/fleet.js';
import type { PrefixIndex } from '../learned/prefix-index.js';
import type { Fingerprint } from '../fingerprint.js';
import type { EndpointEstimate, LiveView, PreciseMatch } from '../types.js';
import { endpointsOf, positionsOf } from '../membership.js';
import { loadCap, ringRanks } from './chwbl.js';
import { prefillMsOf, waitMsOf } from './ttft.js';

export interface ModelAssessment {
  readonly model: Model;
  /** Salted block keys for this model. */
  readonly keys: Float64Array;
  /** All endpoints of the model (discovered members, else the fleet file's list), in that order. */
  readonly addrs: readonly string[];
  /** Per endpoint (index aligned with addrs): 1 when healthy / cooling / metrics stale. */
  readonly healthy: Uint8Array;
  readonly cooling: Uint8Array;
  readonly stale: Uint8Array;
  readonly inflight: Float64Array;
  /** max(in-flight, engine running + waiting) when fresh engine metrics exist, else in-flight. */
  readonly load: Float64Array;
  readonly matched: Int32Array;
  readonly waitMs: Float64Array;
  readonly prefillMs: Float64Array;
  readonly ttftMs: Float64Array;
  readonly ringRank: Int32Array;
  /** Indices of the usable endpoints (healthy, not cooling), ascending. */
  readonly usable: Int32Array;
  /** Indices of the healthy endpoints that are cooling, ascending. */
  readonly coolingIdx: Int32Array;
  readonly healthyCount: number;
  /** CHWBL capacity over the usable endpoints. */
  readonly cap: number;
  /** Index of the session's pinned endpoint when it belongs to this model, else -1. */
  readonly pin: number;
}

export interface AssessInput {
  readonly model: Model;
  readonly keys: Float64Array;
  readonly fp: Fingerprint;
  readonly ringKey: number;
  readonly pin: string | undefined;
  readonly waitScale: number;
  /** CHWBL load bound in effect (affinity.load_bound, scaled by prompt reuse when adaptive). */
  readonly loadBound: number;
  readonly live: LiveView;
  readonly index: PrefixIndex;
  readonly affinity: AffinityConfig;
  readonly now: number;
  /** The engines' KV events for this model: replaces the approximate match of the endpoints it covers. */
  readonly precise?: PreciseMatch | undefined;
}

/**
 * Matched leading blocks per endpoint (index aligned with `addrs`): only holders of the
 * prompt's root can match; a root holder matches 1 block unless it also holds the prompt's
 * block 1 (index.secondHolders), and only those are looked up further.
 */
function matchedBlocksOf(addrs: readonly string[], keys: Float64Array, blocks: number, index: PrefixIndex, out: Int32Array): Int32Array {
  if (blocks <= 0) return out;
  const holders = index.holders(keys[0] as number);
  if (holders === undefined) return out;
  const pos = positionsOf(addrs);
  for (const h of holders) {
    const k = pos.get(h);
    if (k !== undefined) out[k] = 1;
  }
  if (blocks === 1) return out;
  const deeper = index.secondHolders(keys[1] as number);
  if (deeper === undefined) return out;
  for (const h of deeper) {
    const k = pos.get(h);
    if (k !== undefined && out[k] === 1) out[k] = index.match(h, keys, blocks);
  }
  return out;
}

/** Precise shares → matched fingerprint blocks (the same unit as the approximate index), for the endpoints they cover. */
function preciseBlocksOf(addrs: readonly string[], p: PreciseMatch, fp: Fingerprint, out: Int32Array): void {
  for (let e = 0; e < addrs.length; e++) {
    const share = p.shares.get(addrs[e] as string);
    if (share !== undefined) out[e] = Math.min(fp.blocks, Math.floor((share * fp.promptTokens) / fp.blockTokens));
  }
}

export function assessModel(i: AssessInput): ModelAssessment {
  const { model, affinity: a, fp } = i;
  const addrs = endpointsOf(model, i.live);
  const n = addrs.length;
  // One allocation for every per-endpoint column: 5 float64, 4 int32 (2 of them the usable and
  // cooling index lists, cut to length at the end), 3 uint8 columns.
  const buf = new ArrayBuffer(n * (5 * 8 + 4 * 4 + 3));
  const inflight = new Float64Array(buf, 0, n);
  const load = new Float64Array(buf, 8 * n, n);
  const waitMs = new Float64Array(buf, 16 * n, n);
  const prefillMs = new Float64Array(buf, 24 * n, n);
  const ttftMs = new Float64Array(buf, 32 * n, n);
  const ringRank = ringRanks(addrs, i.ringKey, a.virtual_nodes, new Int32Array(buf, 40 * n, n));
  const matched = matchedBlocksOf(addrs, i.keys, fp.blocks, i.index, new Int32Array(buf, 44 * n, n));
  if (i.precise !== undefined && i.precise.shares.size > 0) preciseBlocksOf(addrs, i.precise, fp, matched);
  const usable = new Int32Array(buf, 48 * n, n);
  const coolingList = new Int32Array(buf, 52 * n, n);
  let usableCount = 0;
  let coolingCount = 0;
  const healthy = new Uint8Array(buf, 56 * n, n);
  const cooling = new Uint8Array(buf, 57 * n, n);
  const stale = new Uint8Array(buf, 58 * n, n);
  const coldPrefill = prefillMsOf(fp.promptTokens, 0, fp.blockTokens, a);
  let total = 0;
  let healthyCount = 0;
  // One clock reading for the whole pass (at 1,000 endpoints a reading per endpoint was a quarter of the decision).
  const at = i.live.clock?.();
  for (let e = 0; e < n; e++) {
    const view = i.live.endpoint(addrs[e] as string, at);
    const ok = view?.healthy ?? true;
    const cool = view?.coolUntil !== undefined && view.coolUntil > i.now;
    const st = view?.stale === true;
    const engine = st ? undefined : view?.engine;
    const inf = view?.inflight ?? 0;
    const l = engine !== undefined ? Math.max(inf, engine.running + engine.waiting) : inf;
    if (!ok) matched[e] = 0;
    const m = matched[e] as number;
    const w = waitMsOf(inf, engine, st, i.waitScale, a);
    const p = m > 0 ? prefillMsOf(fp.promptTokens, m, fp.blockTokens, a) : coldPrefill;
    healthy[e] = ok ? 1 : 0;
    cooling[e] = cool ? 1 : 0;
    stale[e] = st ? 1 : 0;
    inflight[e] = inf;
    load[e] = l;
    waitMs[e] = w;
    prefillMs[e] = p;
    ttftMs[e] = w + p;
    if (ok) {
      healthyCount++;
      if (cool) coolingList[coolingCount++] = e;
      else {
        usable[usableCount++] = e;
        total += l;
      }
    }
  }
  const pin = i.pin !== undefined ? (positionsOf(addrs).get(i.pin) ?? -1) : -1;
  return {
    model,
    keys: i.keys,
    addrs,
    healthy,
    cooling,
    stale,
    inflight,
    load,
    matched,
    waitMs,
    prefillMs,
    ttftMs,
    ringRank,
    usable: usable.subarray(0, usableCount),
    coolingIdx: coolingList.subarray(0, coolingCount),
    healthyCount,
    cap: loadCap(total, usableCount, i.loadBound),
    pin,
  };
}

/** The estimate of endpoint `k` as one object (for explanations and scorers). */
export function estimateAt(as: ModelAssessment, k: number): EndpointEstimate {
  return {
    address: as.addrs[k] as string,
    healthy: as.healthy[k] === 1,
    cooling: as.cooling[k] === 1,
    stale: as.stale[k] === 1,
    inflight: as.inflight[k] as number,
    load: as.load[k] as number,
    matchedBlocks: as.matched[k] as number,
    waitMs: as.waitMs[k] as number,
    prefillMs: as.prefillMs[k] as number,
    ttftMs: as.ttftMs[k] as number,
    ringRank: as.ringRank[k] as number,
  };
}

/** Whether endpoint `x` comes before `y`: lower estimated TTFT, ties by CHWBL ring rank (equal endpoints placed consistently). */
function before(as: ModelAssessment, x: number, y: number): boolean {
  const tx = as.ttftMs[x] as number;
  const ty = as.ttftMs[y] as number;
  return tx < ty || (tx === ty && (as.ringRank[x] as number) < (as.ringRank[y] as number));
}

/** Index of the endpoint in `list` with the least estimated TTFT among those `accept` keeps, or -1: one linear scan. */
export function minByTtft(as: ModelAssessment, list: Int32Array, accept?: (k: number) => boolean): number {
  let best = -1;
  for (let j = 0; j < list.length; j++) {
    const k = list[j] as number;
    if (accept !== undefined && !accept(k)) continue;
    if (best === -1 || before(as, k, best)) best = k;
  }
  return best;
}

/** The `count` endpoints of `list` with the least estimated TTFT, best first, skipping `except`: O(n·count), no sort. */
export function topByTtft(as: ModelAssessment, list: Int32Array, count: number, except: number): number[] {
  const top: number[] = [];
  if (count <= 0) return top;
  for (let j = 0; j < list.length; j++) {
    const k = list[j] as number;
    if (k === except) continue;
    if (top.length === count && !before(as, k, top[count - 1] as number)) continue;
    let t = top.length < count ? top.length : count - 1;
    while (t > 0 && before(as, k, top[t - 1] as number)) {
      top[t] = top[t - 1] as number;
      t--;
    }
    top[t] = k;
  }
  return top;
}

/** Whether endpoint `k` is in the ascending index list `list` (binary search). */
export function listHas(list: Int32Array, k: number): boolean {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = list[mid] as number;
    if (v === k) return true;
    if (v < k) lo = mid + 1;
    else hi = mid;
  }
  return false;
}
