// The simulator's prefix cache (src/sim/prefix-cache.ts) over numeric block keys, for the
// virtual-time benchmark. Same rules, so live and virtual runs agree:
//   lookup: leading consecutive cached blocks, at most ⌊(prompt tokens − 1) / blockTokens⌋
//           (the last prompt token is always recomputed); hit blocks are touched.
//   insert: every block of the prompt touched in order (0 first); the cache keeps the
//           `capacity` most recently touched blocks (least recently used evicted).
// The sim's class hashes text with sha1 and keys a Map by hex strings (~1 µs per block, too
// slow for 10^6 requests). Here keys are numbers < 2^53 in an open-addressing table (linear
// probing, backward-shift deletion) with the LRU list in typed arrays: no allocation after
// construction. Pure; the sim could use it with text hashed to numbers.

function hashOf(key: number, mask: number): number {
  const lo = key >>> 0;
  const hi = (key / 4294967296) >>> 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) & mask;
}

/** LRU set of numeric keys with a fixed capacity. */
export class NumLru {
  private readonly keys: Float64Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly table: Int32Array;
  private readonly mask: number;
  private head = -1; // least recently used
  private tail = -1; // most recently used
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('NumLru capacity must be an integer >= 1');
    this.keys = new Float64Array(capacity);
    this.prev = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
    let t = 2;
    while (t < capacity * 2) t *= 2;
    this.table = new Int32Array(t).fill(-1);
    this.mask = t - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Node index holding `key`, or -1. */
  private find(key: number): number {
    const table = this.table;
    const mask = this.mask;
    for (let p = hashOf(key, mask); ; p = (p + 1) & mask) {
      const node = table[p] as number;
      if (node < 0) return -1;
      if (this.keys[node] === key) return node;
    }
  }

  private unlink(node: number): void {
    const p = this.prev[node] as number;
    const n = this.next[node] as number;
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
  }

  private append(node: number): void {
    this.prev[node] = this.tail;
    this.next[node] = -1;
    if (this.tail >= 0) this.next[this.tail] = node;
    else this.head = node;
    this.tail = node;
  }

  private removeFromTable(key: number): void {
    const table = this.table;
    const mask = this.mask;
    let i = hashOf(key, mask);
    while (this.keys[table[i] as number] !== key) i = (i + 1) & mask;
    table[i] = -1;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const node = table[j] as number;
      if (node < 0) return;
      const k = hashOf(this.keys[node] as number, mask);
      // move table[j] back to i when its home slot k is not cyclically in (i, j]
      if (i <= j ? k <= i || k > j : k <= i && k > j) {
        table[i] = node;
        table[j] = -1;
        i = j;
      }
    }
  }

  has(key: number): boolean {
    return this.find(key) >= 0;
  }

  /** Move `key` to most recent if present; returns whether it was. */
  touchIfPresent(key: number): boolean {
    const node = this.find(key);
    if (node < 0) return false;
    if (node !== this.tail) {
      this.unlink(node);
      this.append(node);
    }
    return true;
  }

  /** Touch `key`, inserting it (and evicting the least recent key when full). */
  touch(key: number): void {
    if (this.touchIfPresent(key)) return;
    let node: number;
    if (this.count < this.capacity) node = this.count++;
    else {
      node = this.head;
      this.unlink(node);
      this.removeFromTable(this.keys[node] as number);
    }
    this.keys[node] = key;
    this.append(node);
    const table = this.table;
    const mask = this.mask;
    let p = hashOf(key, mask);
    while ((table[p] as number) >= 0) p = (p + 1) & mask;
    table[p] = node;
  }

  clear(): void {
    this.table.fill(-1);
    this.head = -1;
    this.tail = -1;
    this.count = 0;
  }
}

export class BlockCache {
  private readonly lru: NumLru;

  constructor(
    readonly capacity: number,
    readonly blockTokens: number,
  ) {
    this.lru = new NumLru(capacity);
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
    for (let i = 0; i < keys.length; i++) this.lru.touch(keys[i] as number);
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
    for (let p = hashOf(key, mask); this.used[p] === 1; p = (p + 1) & mask) if (this.keys[p] === key) return true;
    return false;
  }

  add(key: number): void {
    const mask = this.mask;
    let p = hashOf(key, mask);
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
      let p = hashOf(k, this.mask);
      while (this.used[p] === 1) p = (p + 1) & this.mask;
      this.keys[p] = k;
      this.used[p] = 1;
    }
  }
}
