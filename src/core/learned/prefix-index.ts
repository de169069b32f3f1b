// Approximate prefix index: per endpoint, the fingerprint block keys recently
// routed there, as an LRU (a Map in recency order: first key = least recent).
//   capacity(endpoint) = engine KV capacity converted to our blocks when known,
//                        else affinity.index_capacity_blocks
//   record: keys inserted last-to-first so block 0 is the most recent (evicting
//           a prompt's root first would orphan the rest of its chain)
//   match:  leading blocks present. Because a chain's blocks are always recorded
//           together with block 0 most recent, eviction takes a chain from its tail:
//           the keys present for one prompt form a prefix. So the first miss is found
//           by galloping then binary search: probes at 1, 2, 4, … until a miss, then
//           bisect the last gap — O(log matched blocks) per endpoint, 1 probe past block
//           0 when only a shared preamble matches (most endpoints of a big pool).
//   holders: reverse index root key → endpoints holding it, where a root is a key
//           recorded as a prompt's block 0. A prompt can match on an endpoint only if
//           that endpoint holds its block 0 (chain keys at other positions depend on
//           the whole prefix), so a decision looks up one root and matches only its
//           holders: O(warm endpoints · log blocks) instead of O(all endpoints).
//   seconds: the same for keys recorded as a prompt's block 1. When every prompt starts
//           with one shared block (a common preamble), every endpoint holds the root;
//           a holder of the root that is not a holder of the prompt's block 1 matches
//           exactly 1 block, so only the few holders of block 1 need a lookup
//           (matchedBlocks: O(root holders) array writes + O(block-1 holders · log blocks)).
// At most `maxEndpoints` endpoints are tracked (least recently routed forgotten
// first); `retain` forgets endpoints that left the fleet. Each endpoint's keys are a
// KeyLru (typed arrays, no allocation per key): recording a 256-block prompt is 256
// touches, not 256 Map deletes and inserts of boxed numbers.
import { KeyLru } from './key-lru.js';

/** Tags of a key in an endpoint's KeyLru: recorded as some prompt's block 0 / block 1. */
const ROOT = 1;
const SECOND = 2;

export class PrefixIndex {
  /** endpoint → its keys in recency order. Invariant: endpoint ∈ roots(k) ⇒ k ∈ byEndpoint(endpoint). */
  private readonly byEndpoint = new Map<string, KeyLru>();
  private readonly roots = new Map<number, Set<string>>();
  /** Invariant: endpoint ∈ seconds(k) ⇒ k ∈ byEndpoint(endpoint), k recorded as some prompt's block 1. */
  private readonly seconds = new Map<number, Set<string>>();

  constructor(private readonly maxEndpoints: number) {}

  /** Leading blocks of `keys[0..n)` known to be cached on `endpoint`. Does not touch recency. */
  match(endpoint: string, keys: ArrayLike<number>, n: number): number {
    const lru = this.byEndpoint.get(endpoint);
    if (lru === undefined) return 0;
    if (n <= 0 || !lru.has(keys[0] as number)) return 0;
    // Gallop: keys[0..lo) present; stop at the first probe that misses (or n).
    let lo = 1;
    let step = 1;
    let hi = n;
    while (lo < n) {
      const probe = Math.min(n - 1, lo + step - 1);
      if (!lru.has(keys[probe] as number)) {
        hi = probe;
        break;
      }
      lo = probe + 1;
      step *= 2;
    }
    // Invariant: keys[0..lo) present; the first absent index lies in [lo, hi].
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (lru.has(keys[mid] as number)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Endpoints holding `root` as some prompt's block 0: the only ones a prompt starting with it can match on. */
  holders(root: number): ReadonlySet<string> | undefined {
    return this.roots.get(root);
  }

  /** Endpoints holding `key` as some prompt's block 1. */
  secondHolders(key: number): ReadonlySet<string> | undefined {
    return this.seconds.get(key);
  }

  /** Learn that `keys[0..n)` are now cached on `endpoint`; evict least recent beyond `capacity`. */
  record(endpoint: string, keys: ArrayLike<number>, n: number, capacity: number): void {
    n = Math.min(n, keys.length);
    if (n <= 0) return;
    let lru = this.byEndpoint.get(endpoint);
    if (lru === undefined) {
      lru = new KeyLru(Math.min(n * 2, Math.max(1, Math.floor(capacity)) + 1));
      if (this.byEndpoint.size >= this.maxEndpoints) {
        const oldest = this.byEndpoint.keys().next().value;
        if (oldest !== undefined) this.forget(oldest);
      }
    } else {
      this.byEndpoint.delete(endpoint); // re-insert: most recently routed endpoint last
    }
    this.byEndpoint.set(endpoint, lru);
    for (let i = n - 1; i >= 2; i--) lru.touch(keys[i] as number);
    if (n >= 2) lru.touch(keys[1] as number, SECOND);
    lru.touch(keys[0] as number, ROOT);
    const root = keys[0] as number;
    let set = this.roots.get(root);
    if (set === undefined) this.roots.set(root, (set = new Set()));
    set.add(endpoint);
    if (n >= 2) {
      const second = keys[1] as number;
      let s2 = this.seconds.get(second);
      if (s2 === undefined) this.seconds.set(second, (s2 = new Set()));
      s2.add(endpoint);
    }
    const cap = Math.max(1, Math.floor(capacity));
    while (lru.size > cap) {
      const oldest = lru.evictOldest();
      if (oldest === undefined) break;
      // Only keys once recorded as a block 0 or 1 are in the reverse maps.
      if (lru.lastEvictedTag !== 0) this.dropHolder(oldest, endpoint);
    }
  }

  /** Forget every endpoint not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const e of [...this.byEndpoint.keys()]) if (!keep.has(e)) this.forget(e);
  }

  forget(endpoint: string): void {
    const lru = this.byEndpoint.get(endpoint);
    if (lru === undefined) return;
    this.byEndpoint.delete(endpoint);
    for (const k of lru.keys()) this.dropHolder(k, endpoint);
  }

  /** Blocks held for one endpoint. */
  size(endpoint: string): number {
    return this.byEndpoint.get(endpoint)?.size ?? 0;
  }

  /** Blocks held in total, endpoints tracked, and distinct roots in the reverse index. */
  stats(): { endpoints: number; blocks: number; roots: number } {
    let blocks = 0;
    for (const m of this.byEndpoint.values()) blocks += m.size;
    return { endpoints: this.byEndpoint.size, blocks, roots: this.roots.size };
  }

  private dropHolder(key: number, endpoint: string): void {
    const set = this.roots.get(key);
    if (set !== undefined) {
      set.delete(endpoint);
      if (set.size === 0) this.roots.delete(key);
    }
    const s2 = this.seconds.get(key);
    if (s2 !== undefined) {
      s2.delete(endpoint);
      if (s2.size === 0) this.seconds.delete(key);
    }
  }
}
