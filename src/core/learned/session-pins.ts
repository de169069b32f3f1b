// Session pins: session key → endpoint, with a TTL refreshed on each use.
// Bounded: at most `capacity` pins, least recently used evicted first; expired
// pins are dropped when read and swept from the old end when pinning.

interface Pin {
  endpoint: string;
  expires: number;
}

export class SessionPins {
  private readonly pins = new Map<string, Pin>();
  /** Told of every pin made here (the Router shares pins with other kvfleet instances). */
  onPin: ((key: string, endpoint: string, ttlMs: number) => void) | undefined;

  constructor(
    private readonly capacity: number,
    private readonly ttlMs: number,
  ) {}

  /** The live pin of `key` at monotonic time `now` (ms), if any. Does not refresh it. */
  get(key: string, now: number): string | undefined {
    const p = this.pins.get(key);
    if (p === undefined) return undefined;
    if (p.expires <= now) {
      this.pins.delete(key);
      return undefined;
    }
    return p.endpoint;
  }

  /** Pin (or re-pin) `key` to `endpoint` until now + ttl. */
  pin(key: string, endpoint: string, now: number): void {
    this.set(key, endpoint, now + this.ttlMs, now);
    this.onPin?.(key, endpoint, this.ttlMs);
  }

  /** A pin another instance made (not told again), expiring `ttlMs` from now. */
  adopt(key: string, endpoint: string, now: number, ttlMs: number): void {
    if (ttlMs > 0) this.set(key, endpoint, now + Math.min(ttlMs, this.ttlMs), now);
  }

  private set(key: string, endpoint: string, expires: number, now: number): void {
    this.pins.delete(key);
    this.pins.set(key, { endpoint, expires });
    // Sweep expired pins at the old end, then enforce the capacity.
    for (const [k, p] of this.pins) {
      if (p.expires > now && this.pins.size <= this.capacity) break;
      this.pins.delete(k);
    }
  }

  /** Drop pins to endpoints not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const [k, p] of this.pins) if (!keep.has(p.endpoint)) this.pins.delete(k);
  }

  get size(): number {
    return this.pins.size;
  }
}
