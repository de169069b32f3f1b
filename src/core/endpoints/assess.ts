// Assess every endpoint of one candidate model for this request: health, cooling,
// staleness, load, matched prefix blocks (prefix index), estimated TTFT and CHWBL
// ring rank. Pure: reads the live view and the index, writes nothing.
import type { AffinityConfig } from '../../fleet/routing-schema.js';
import type { Model } from '../../fleet/fleet.js';
import type { PrefixIndex } from '../../state/prefix-index.js';
import type { Fingerprint } from '../fingerprint.js';
import type { EndpointEstimate, LiveView } from '../types.js';
import { endpointsOf } from '../membership.js';
import { loadCap, ringRanks } from './chwbl.js';
import { estimateTtft } from './ttft.js';

export interface ModelAssessment {
  readonly model: Model;
  /** Salted block keys for this model. */
  readonly keys: Float64Array;
  /** All endpoints of the model (discovered members, else the fleet file's list), in that order. */
  readonly endpoints: readonly EndpointEstimate[];
  /** Healthy and not cooling. */
  readonly usable: readonly EndpointEstimate[];
  /** CHWBL capacity over the usable endpoints. */
  readonly cap: number;
  /** The session's pinned endpoint when it belongs to this model. */
  readonly pin: string | undefined;
}

export interface AssessInput {
  readonly model: Model;
  readonly keys: Float64Array;
  readonly fp: Fingerprint;
  readonly ringKey: number;
  readonly pin: string | undefined;
  readonly waitScale: number;
  readonly live: LiveView;
  readonly index: PrefixIndex;
  readonly affinity: AffinityConfig;
  readonly now: number;
}

export function assessModel(i: AssessInput): ModelAssessment {
  const { model, affinity: a } = i;
  const addrs = endpointsOf(model, i.live);
  const ranks = ringRanks(addrs, i.ringKey, a.virtual_nodes);
  const endpoints: EndpointEstimate[] = new Array(addrs.length);
  const usable: EndpointEstimate[] = [];
  for (let e = 0; e < addrs.length; e++) {
    const address = addrs[e] as string;
    const view = i.live.endpoint(address);
    const healthy = view?.healthy ?? true;
    const cooling = view?.coolUntil !== undefined && view.coolUntil > i.now;
    const stale = view?.stale === true;
    const engine = stale ? undefined : view?.engine;
    const inflight = view?.inflight ?? 0;
    const load = engine !== undefined ? Math.max(inflight, engine.running + engine.waiting) : inflight;
    const matchedBlocks = healthy ? i.index.match(address, i.keys, i.fp.blocks) : 0;
    const t = estimateTtft(
      { promptTokens: i.fp.promptTokens, matchedBlocks, blockTokens: i.fp.blockTokens, inflight, engine, stale, waitScale: i.waitScale },
      a,
    );
    const est: EndpointEstimate = {
      address,
      healthy,
      cooling,
      stale,
      inflight,
      load,
      matchedBlocks,
      waitMs: t.waitMs,
      prefillMs: t.prefillMs,
      ttftMs: t.ttftMs,
      ringRank: ranks[e] as number,
    };
    endpoints[e] = est;
    if (healthy && !cooling) usable.push(est);
  }
  const pin = i.pin !== undefined && addrs.includes(i.pin) ? i.pin : undefined;
  return { model, keys: i.keys, endpoints, usable, cap: loadCap(usable.map((u) => u.load), a.load_bound), pin };
}

/** Order by estimated TTFT, ties by CHWBL ring rank (so equal endpoints are placed consistently). */
function before(x: EndpointEstimate, y: EndpointEstimate): boolean {
  return x.ttftMs < y.ttftMs || (x.ttftMs === y.ttftMs && x.ringRank < y.ringRank);
}

/** The endpoint with the least estimated TTFT among those `accept` keeps: one linear scan. */
export function minByTtft(list: readonly EndpointEstimate[], accept?: (e: EndpointEstimate) => boolean): EndpointEstimate | undefined {
  let best: EndpointEstimate | undefined;
  for (const e of list) {
    if (accept !== undefined && !accept(e)) continue;
    if (best === undefined || before(e, best)) best = e;
  }
  return best;
}

/** The `k` endpoints with the least estimated TTFT, best first, skipping `except`: O(n·k), no full sort. */
export function topByTtft(list: readonly EndpointEstimate[], k: number, except?: EndpointEstimate): EndpointEstimate[] {
  const top: EndpointEstimate[] = [];
  if (k <= 0) return top;
  for (const e of list) {
    if (e === except) continue;
    if (top.length === k && !before(e, top[k - 1] as EndpointEstimate)) continue;
    let i = top.length < k ? top.length : k - 1;
    while (i > 0 && before(e, top[i - 1] as EndpointEstimate)) {
      top[i] = top[i - 1] as EndpointEstimate;
      i--;
    }
    top[i] = e;
  }
  return top;
}
