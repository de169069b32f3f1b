// A map bounded in bytes, least recently used out first, each entry with an expiry (pure:
// the clock is passed in). A Map in recency order: a read moves the entry to the end, so
// eviction takes from the front. Expired entries go when read, and a few from the front at
// every insert (all entries live equally long, so the oldest ones expire first unless read).

export interface Sized {
  /** What the entry counts against the bound. */
  readonly bytes: number;
  /** Clock value after which it is not served. */
  readonly expiresAt: number;
}

export type EvictReason = 'lru' | 'ttl';

/** Expired entries looked at from the front on each insert. */
const SWEEP_PER_INSERT = 8;

export class ByteLru<V extends Sized> {
  private readonly map = new Map<string, V>();
  private used = 0;

  constructor(
    private maxBytes: number,
    private readonly onEvict: (reason: EvictReason) => void = () => undefined,
  ) {}

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.map.size;
  }

  /** The live entry under `key` (now the most recently used), or undefined. */
  get(key: string, now: number): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.map.delete(key);
    if (v.expiresAt <= now) {
      this.used -= v.bytes;
      this.onEvict('ttl');
      return undefined;
    }
    this.map.set(key, v);
    return v;
  }

  /** Store (replacing an entry under the same key); false when `v` alone exceeds the bound. */
  set(key: string, v: V, now: number): boolean {
    if (v.bytes > this.maxBytes) return false;
    this.delete(key);
    this.sweep(now);
    while (this.used + v.bytes > this.maxBytes) this.evictOldest();
    this.map.set(key, v);
    this.used += v.bytes;
    return true;
  }

  delete(key: string): void {
    const v = this.map.get(key);
    if (v === undefined) return;
    this.map.delete(key);
    this.used -= v.bytes;
  }

  clear(): void {
    this.map.clear();
    this.used = 0;
  }

  /** A new bound; entries beyond it go, least recently used first. */
  resize(maxBytes: number): void {
    this.maxBytes = maxBytes;
    while (this.used > this.maxBytes) this.evictOldest();
  }

  private sweep(now: number): void {
    let n = 0;
    for (const [k, v] of this.map) {
      if (n++ >= SWEEP_PER_INSERT) break;
      if (v.expiresAt > now) continue;
      this.map.delete(k);
      this.used -= v.bytes;
      this.onEvict('ttl');
    }
  }

  private evictOldest(): void {
    const first = this.map.entries().next().value;
    if (first === undefined) return;
    this.map.delete(first[0]);
    this.used -= first[1].bytes;
    this.onEvict('lru');
  }
}
