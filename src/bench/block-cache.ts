// The simulator's prefix cache (src/sim/prefix-cache.ts) over numeric block keys, for the
// virtual-time benchmark. Same rules, so live and virtual runs agree:
//   lookup: leading consecutive cached blocks, at most ⌊(prompt tokens − 1) / blockTokens⌋
//           (the last prompt token is always recomputed); hit blocks are touched.
//   insert: every block of the prompt touched in order (0 first), then least recently used
//           blocks evicted beyond capacity.
// The sim's class hashes text with sha1 and keys a Map by hex strings; that costs ~1 µs per
// block, too slow for 10^6 requests, so this module keeps the rules and swaps the key type.
// (It has no I/O and could back the sim too, with the sim hashing text to numbers.)

export class BlockCache {
  /** Block key → true, in LRU order (first key = least recently used). */
  private readonly lru = new Map<number, true>();

  constructor(
    readonly capacity: number,
    readonly blockTokens: number,
  ) {}

  get size(): number {
    return this.lru.size;
  }

  /** Cached tokens for a prompt of `promptTokens` with block `keys`; touches the hit blocks. */
  lookup(keys: ArrayLike<number>, promptTokens: number): number {
    const maxBlocks = Math.min(keys.length, Math.floor(Math.max(0, promptTokens - 1) / this.blockTokens));
    const lru = this.lru;
    let hits = 0;
    for (let i = 0; i < maxBlocks; i++) {
      const k = keys[i] as number;
      if (!lru.delete(k)) break;
      lru.set(k, true);
      hits++;
    }
    return hits * this.blockTokens;
  }

  /** Insert or refresh every block, evicting least recently used blocks beyond capacity. */
  insert(keys: ArrayLike<number>): void {
    const lru = this.lru;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as number;
      lru.delete(k);
      lru.set(k, true);
    }
    let over = lru.size - this.capacity;
    if (over <= 0) return;
    for (const k of lru.keys()) {
      lru.delete(k);
      if (--over <= 0) break;
    }
  }

  clear(): void {
    this.lru.clear();
  }
}
