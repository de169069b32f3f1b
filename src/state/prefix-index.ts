// Approximate prefix index: per endpoint, the fingerprint block keys recently
// routed there, as an LRU (a Map in recency order: first key = least recent).
//   capacity(endpoint) = engine KV capacity converted to our blocks when known,
//                        else affinity.index_capacity_blocks
//   record: keys inserted last-to-first so block 0 is the most recent (evicting
//           a prompt's root first would orphan the rest of its chain)
//   match:  leading blocks present. Because a chain's blocks are always recorded
//           together with block 0 most recent, eviction takes a chain from its tail:
//           the keys present for one prompt form a prefix. So the first miss is found
//           by binary search, O(log prompt blocks) per endpoint, not O(prompt blocks).
// At most `maxEndpoints` endpoints are tracked (least recently routed forgotten
// first); `retain` forgets endpoints that left the fleet.

export class PrefixIndex {
  private readonly byEndpoint = new Map<string, Map<number, true>>();

  constructor(private readonly maxEndpoints: number) {}

  /** Leading blocks of `keys[0..n)` known to be cached on `endpoint`. Does not touch recency. */
  match(endpoint: string, keys: ArrayLike<number>, n: number): number {
    const lru = this.byEndpoint.get(endpoint);
    if (lru === undefined) return 0;
    if (n <= 0 || !lru.has(keys[0] as number)) return 0;
    // Invariant: keys[0..lo) present; the first absent index lies in [lo, hi].
    let lo = 1;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (lru.has(keys[mid] as number)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Learn that `keys[0..n)` are now cached on `endpoint`; evict least recent beyond `capacity`. */
  record(endpoint: string, keys: ArrayLike<number>, n: number, capacity: number): void {
    if (n <= 0) return;
    let lru = this.byEndpoint.get(endpoint);
    if (lru === undefined) {
      lru = new Map();
      if (this.byEndpoint.size >= this.maxEndpoints) {
        const oldest = this.byEndpoint.keys().next().value;
        if (oldest !== undefined) this.byEndpoint.delete(oldest);
      }
    } else {
      this.byEndpoint.delete(endpoint); // re-insert: most recently routed endpoint last
    }
    this.byEndpoint.set(endpoint, lru);
    for (let i = Math.min(n, keys.length) - 1; i >= 0; i--) {
      const k = keys[i] as number;
      lru.delete(k);
      lru.set(k, true);
    }
    const cap = Math.max(1, Math.floor(capacity));
    while (lru.size > cap) {
      const oldest = lru.keys().next().value;
      if (oldest === undefined) break;
      lru.delete(oldest);
    }
  }

  /** Forget every endpoint not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const e of this.byEndpoint.keys()) if (!keep.has(e)) this.byEndpoint.delete(e);
  }

  forget(endpoint: string): void {
    this.byEndpoint.delete(endpoint);
  }

  /** Blocks held for one endpoint. */
  size(endpoint: string): number {
    return this.byEndpoint.get(endpoint)?.size ?? 0;
  }

  /** Blocks held in total, and endpoints tracked. */
  stats(): { endpoints: number; blocks: number } {
    let blocks = 0;
    for (const m of this.byEndpoint.values()) blocks += m.size;
    return { endpoints: this.byEndpoint.size, blocks };
  }
}
