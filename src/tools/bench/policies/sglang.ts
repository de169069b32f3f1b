// SGLang-router-style cache-aware policy (the `cache_aware` policy of sgl-router), rebuilt
// from its documented rules over an approximate prefix tree:
//   imbalanced = max_load − min_load > balance_abs_threshold
//                AND max_load > min_load · balance_rel_threshold          (load = in flight)
//   imbalanced → the least-loaded worker (shortest queue)
//   otherwise  → match the prompt against the tree; match_rate = matched / prompt tokens;
//                match_rate > cache_threshold → the worker holding the deepest match,
//                else the worker with the smallest tree
//   either way the prompt is inserted into the tree for the chosen worker.
// The tree is approximated at block granularity: one global map block key → workers holding
// it (the tenants of a radix node; the chained keys make a block imply its prefix), and one
// LRU of blocks per worker, bounded like the worker's KV cache, evicting leaves first (blocks
// are inserted last-to-first so a prompt's root is its most recent block). Among the tenants
// of the deepest node the most recently inserted wins (sgl-router takes the first tenant its
// map yields).
// Defaults: cache_threshold 0.3, balance_rel_threshold 1.5, balance_abs_threshold 64 scaled
// by this fleet's concurrency (64 · maxConcurrency / 64 = maxConcurrency: SGLang's 64 assumes
// workers that run ~64 requests at once; the simulated replicas run maxConcurrency).
import type { FleetView, Policy, PolicyEnv, PolicyFactory, RoutedRequest } from '../policy.js';
import { leastLoadedFrom } from './baselines.js';

export interface SglangOptions {
  readonly cacheThreshold: number;
  readonly balanceAbsThreshold: number | undefined;
  readonly balanceRelThreshold: number;
  /** Blocks per worker tree; default: the replica's cache capacity. */
  readonly treeBlocks: number | undefined;
}

export const SGLANG_DEFAULTS: SglangOptions = { cacheThreshold: 0.3, balanceAbsThreshold: undefined, balanceRelThreshold: 1.5, treeBlocks: undefined };

/** Approximate multi-tenant prefix tree at block granularity. */
export class ApproxTree {
  private readonly tenants = new Map<number, number[]>();
  private readonly perWorker: Array<Map<number, true>>;

  constructor(
    workers: number,
    private readonly capacity: number,
  ) {
    this.perWorker = Array.from({ length: workers }, () => new Map<number, true>());
  }

  /** Blocks held for a worker (its tree size). */
  size(w: number): number {
    return (this.perWorker[w] as Map<number, true>).size;
  }

  /** Deepest matched block count and the worker holding it (-1 when nothing matches). */
  match(keys: ArrayLike<number>): { blocks: number; worker: number } {
    let blocks = 0;
    let holders: number[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const t = this.tenants.get(keys[i] as number);
      if (t === undefined || t.length === 0) break;
      holders = t;
      blocks = i + 1;
    }
    return { blocks, worker: holders !== undefined ? (holders[holders.length - 1] as number) : -1 };
  }

  insert(keys: ArrayLike<number>, w: number): void {
    const lru = this.perWorker[w] as Map<number, true>;
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i] as number;
      if (lru.delete(k)) {
        const t = this.tenants.get(k) as number[];
        const at = t.indexOf(w);
        if (at >= 0) t.splice(at, 1);
        t.push(w);
      } else {
        const t = this.tenants.get(k);
        if (t === undefined) this.tenants.set(k, [w]);
        else t.push(w);
      }
      lru.set(k, true);
    }
    let over = lru.size - this.capacity;
    if (over <= 0) return;
    for (const k of lru.keys()) {
      lru.delete(k);
      const t = this.tenants.get(k);
      if (t !== undefined) {
        const at = t.indexOf(w);
        if (at >= 0) t.splice(at, 1);
        if (t.length === 0) this.tenants.delete(k);
      }
      if (--over <= 0) break;
    }
  }
}

export interface SglangChoice {
  readonly worker: number;
  readonly branch: 'imbalanced' | 'prefix-match' | 'smallest-tree';
  readonly matchRate: number;
}

/** The selection rule alone (no tree update), for tests. */
export function sglangSelect(
  tree: ApproxTree,
  r: RoutedRequest,
  load: Int32Array,
  n: number,
  o: Required<Pick<SglangOptions, 'cacheThreshold' | 'balanceRelThreshold'>> & { abs: number; blockTokens: number },
): SglangChoice {
  let max = -Infinity;
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    const l = load[i] as number;
    if (l > max) max = l;
    if (l < min) min = l;
  }
  if (max - min > o.abs && max > min * o.balanceRelThreshold) {
    return { worker: leastLoadedFrom(load, n, 0), branch: 'imbalanced', matchRate: 0 };
  }
  const m = tree.match(r.keys);
  const matchRate = r.req.promptTokens > 0 ? Math.min(1, (m.blocks * o.blockTokens) / r.req.promptTokens) : 0;
  if (m.worker >= 0 && matchRate > o.cacheThreshold) return { worker: m.worker, branch: 'prefix-match', matchRate };
  let best = 0;
  let bestSize = Infinity;
  for (let i = 0; i < n; i++) {
    const s = tree.size(i);
    if (s < bestSize) {
      best = i;
      bestSize = s;
    }
  }
  return { worker: best, branch: 'smallest-tree', matchRate };
}

export function sglangFactory(opts: Partial<SglangOptions> = {}): PolicyFactory {
  const o = { ...SGLANG_DEFAULTS, ...opts };
  return {
    name: 'sglang_cache_aware',
    create(env: PolicyEnv): Policy {
      const tree = new ApproxTree(env.replicas, o.treeBlocks ?? env.cacheBlocks);
      const abs = o.balanceAbsThreshold ?? Math.max(1, Math.round((64 * env.maxConcurrency) / 64));
      return {
        name: 'sglang_cache_aware',
        pick(r: RoutedRequest, fleet: FleetView, _now, out) {
          const c = sglangSelect(tree, r, fleet.inflight, fleet.n, {
            cacheThreshold: o.cacheThreshold,
            balanceRelThreshold: o.balanceRelThreshold,
            abs,
            blockTokens: fleet.blockTokens,
          });
          tree.insert(r.keys, c.worker);
          out[0] = c.worker;
          return 1;
        },
      };
    },
  };
}
