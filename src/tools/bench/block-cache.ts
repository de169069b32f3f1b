// The simulator's prefix cache (src/sim/prefix-cache.ts) over numeric block keys, for the
// virtual-time benchmark. Same rules, so live and virtual runs agree:
//   lookup: leading consecutive cached blocks, at most ⌊(prompt tokens − 1) / blockTokens⌋
//           (the last prompt token is always recomputed); hit blocks are touched.
//   insert: every block of the prompt touched in order (0 first); the cache keeps the
//           `capacity` most recently touched blocks (least recently used evicted).
// The sim's class hashes text with sha1 and keys a Map by hex strings (~1 µs per block, too
// slow for 10^6 requests). Here keys are numbers < 2^53 in core's KeyLru (open addressing,
// the LRU list in typed arrays: no allocation per block), the structure kvfleet's own
// prefix index uses. Pure; the sim could use it with text hashed to numbers.
import { KeyLru, slotOf } from '../../core/learned/key-lru.js';

export class BlockCache {
  private readonly lru: KeyLru;

  constructor(
    readonly capacity: number,
    readonly blockTokens: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('BlockCache capacity must be an integer >= 1');
    this.lru = new KeyLru(capacity + 1);
  }

  get size(): number {
    return this.lru.size;
  }

  /** Cached tokens for a prompt of `promptTokens` with block `keys`; touches the hit blocks. */
  lookup(keys: ArrayLike<number>, promptTokens: number): number {
    const maxBlocks = Math.min(keys.length, Math.floor(Math.max(0, promptTokens - 1) / this.blockTokens));
    let hits = 0;
    while (hits < maxBlocks && this.lru.touchIfPresent(keys[hits] as number)) hits++;
    return hits * this.blockTokens;
  }

  /** Whether a block is cached now, without touching it (what the engine's KV events tell a router). */
  has(key: number): boolean {
    return this.lru.has(key);
  }

  /** Insert or refresh every block in order; the `capacity` most recent stay. */
  insert(keys: ArrayLike<number>): void {
    const lru = this.lru;
    const cap = this.capacity;
    for (let i = 0; i < keys.length; i++) if (!lru.touch(keys[i] as number) && lru.size > cap) lru.evictOldest();
  }

  clear(): void {
    this.lru.clear();
  }
}

/** Growable open-addressing set of numeric keys (the infinite cache of the hit-rate ceiling). */
export class NumSet {
  private keys: Float64Array;
  private used: Uint8Array;
  private mask: number;
  private count = 0;

  constructor(initial = 1 << 16) {
    let t = 16;
    while (t < initial) t *= 2;
    this.keys = new Float64Array(t);
    this.used = new Uint8Array(t);
    this.mask = t - 1;
  }

  get size(): number {
    return this.count;
  }

  has(key: number): boolean {
    const mask = this.mask;
    for (let p = slotOf(key, mask); this.used[p] === 1; p = (p + 1) & mask) if (this.keys[p] === key) return true;
    return false;
  }

  add(key: number): void {
    const mask = this.mask;
    let p = slotOf(key, mask);
    for (; this.used[p] === 1; p = (p + 1) & mask) if (this.keys[p] === key) return;
    this.keys[p] = key;
    this.used[p] = 1;
    if (++this.count * 2 > this.keys.length) this.grow();
  }

  private grow(): void {
    const oldK = this.keys;
    const oldU = this.used;
    const t = oldK.length * 2;
    this.keys = new Float64Array(t);
    this.used = new Uint8Array(t);
    this.mask = t - 1;
    for (let i = 0; i < oldK.length; i++) {
      if (oldU[i] !== 1) continue;
      const k = oldK[i] as number;
      let p = slotOf(k, this.mask);
      while (this.used[p] === 1) p = (p + 1) & this.mask;
      this.keys[p] = k;
      this.used[p] = 1;
    }
  }
}
