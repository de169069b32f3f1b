// A set of numeric keys (integers < 2^53, e.g. block hashes) in recency order, with no
// allocation per operation: the prefix index keeps one per endpoint (8,192 blocks each by
// default, 1,000 endpoints in a big pool), the virtual benchmark one per simulated cache.
//   nodes   key, prev, next in typed arrays; a doubly linked list from least (head) to most
//           recently touched (tail); freed nodes are reused (a free list threaded
//           through `next`)
//   table   open addressing over node indices, linear probing, size a power of two ≥ 2 ×
//           the node capacity; deletion by backward shift (no tombstones)
//   tags    a byte per key, OR-ed in by touch(key, tag), cleared when the key leaves
//           (the prefix index marks the keys recorded as a prompt's block 0 or 1, so an
//           eviction consults its reverse maps only for those)
//   growth  node arrays double when full, the table is rebuilt: amortised O(1)
// touch / has / evictOldest are O(1) expected. A JS Map<number, true> does the same job
// but boxes every key that is not a small integer (a heap number per insert) and costs a
// hash-table probe on boxed values: several times slower on hot paths, and garbage.
// Pure data structure: no I/O, no clock.
import { grown } from '../typed-grow.js';

/** Home slot of `key` in a table of mask + 1 slots (a 53-bit key mixed down to 32 bits). */
export function slotOf(key: number, mask: number): number {
  const lo = key >>> 0;
  const hi = (key / 4294967296) >>> 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) & mask;
}

export class KeyLru {
  private keysArr: Float64Array;
  private prev: Int32Array;
  private next: Int32Array;
  private tags: Uint8Array;
  private table: Int32Array;
  private mask: number;
  private head = -1; // least recently touched
  private tail = -1; // most recently touched
  private count = 0;
  /** Nodes ever handed out (the rest of the arrays is unused). */
  private used = 0;
  /** Freed nodes, linked through `next`. */
  private free = -1;
  /** Tag of the key evictOldest() removed last. */
  private evictedTag = 0;

  constructor(initialCapacity = 16) {
    const cap = Math.max(4, Math.ceil(initialCapacity));
    this.keysArr = new Float64Array(cap);
    this.prev = new Int32Array(cap);
    this.next = new Int32Array(cap);
    this.tags = new Uint8Array(cap);
    const t = tableSizeFor(cap);
    this.table = new Int32Array(t).fill(-1);
    this.mask = t - 1;
  }

  get size(): number {
    return this.count;
  }

  has(key: number): boolean {
    return this.find(key) >= 0;
  }

  /** Make `key` the most recent, inserting it when absent, and OR `tag` into its tag. Returns whether it was present. */
  touch(key: number, tag = 0): boolean {
    const node = this.find(key);
    if (node >= 0) {
      if (node !== this.tail) {
        this.unlink(node);
        this.append(node);
      }
      if (tag !== 0) this.tags[node] = (this.tags[node] as number) | tag;
      return true;
    }
    const fresh = this.allocNode();
    this.keysArr[fresh] = key;
    this.tags[fresh] = tag;
    this.append(fresh);
    const table = this.table;
    const mask = this.mask;
    let p = slotOf(key, mask);
    while ((table[p] as number) >= 0) p = (p + 1) & mask;
    table[p] = fresh;
    this.count++;
    return false;
  }

  /** Make `key` the most recent if present; returns whether it was. */
  touchIfPresent(key: number): boolean {
    const node = this.find(key);
    if (node < 0) return false;
    if (node !== this.tail) {
      this.unlink(node);
      this.append(node);
    }
    return true;
  }

  /** Tag of the key the last evictOldest() removed. */
  get lastEvictedTag(): number {
    return this.evictedTag;
  }

  /** Remove the least recently touched key and return it (undefined when empty); its tag is then lastEvictedTag. */
  evictOldest(): number | undefined {
    const node = this.head;
    if (node < 0) return undefined;
    const key = this.keysArr[node] as number;
    this.evictedTag = this.tags[node] as number;
    this.unlink(node);
    this.removeFromTable(key);
    this.next[node] = this.free;
    this.free = node;
    this.count--;
    return key;
  }

  /** Every key, least recent first. */
  *keys(): IterableIterator<number> {
    for (let n = this.head; n >= 0; n = this.next[n] as number) yield this.keysArr[n] as number;
  }

  clear(): void {
    this.table.fill(-1);
    this.head = -1;
    this.tail = -1;
    this.count = 0;
    this.used = 0;
    this.free = -1;
  }

  private find(key: number): number {
    const table = this.table;
    const mask = this.mask;
    const keys = this.keysArr;
    for (let p = slotOf(key, mask); ; p = (p + 1) & mask) {
      const node = table[p] as number;
      if (node < 0) return -1;
      if (keys[node] === key) return node;
    }
  }

  private allocNode(): number {
    if (this.free >= 0) {
      const n = this.free;
      this.free = this.next[n] as number;
      return n;
    }
    if (this.used === this.keysArr.length) this.grow();
    return this.used++;
  }

  private grow(): void {
    const cap = this.keysArr.length * 2;
    const keys = (this.keysArr = grown(this.keysArr, cap));
    this.prev = grown(this.prev, cap);
    const next = (this.next = grown(this.next, cap));
    this.tags = grown(this.tags, cap);
    const t = tableSizeFor(cap);
    const table = new Int32Array(t).fill(-1);
    const mask = t - 1;
    for (let n = this.head; n >= 0; n = next[n] as number) {
      let p = slotOf(keys[n] as number, mask);
      while ((table[p] as number) >= 0) p = (p + 1) & mask;
      table[p] = n;
    }
    this.table = table;
    this.mask = mask;
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
    const keys = this.keysArr;
    let i = slotOf(key, mask);
    while (keys[table[i] as number] !== key) i = (i + 1) & mask;
    table[i] = -1;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const node = table[j] as number;
      if (node < 0) return;
      const k = slotOf(keys[node] as number, mask);
      // Move table[j] back to i when its home slot k is not cyclically in (i, j].
      if (i <= j ? k <= i || k > j : k <= i && k > j) {
        table[i] = node;
        table[j] = -1;
        i = j;
      }
    }
  }
}

function tableSizeFor(nodes: number): number {
  let t = 8;
  while (t < nodes * 2) t *= 2;
  return t;
}
