// Requests kvfleet routed whose end it has not seen yet, by decision key. The ext_proc
// exchange lets go of a request once it has answered (a kvfleet restart never cuts a
// response); what happens next reaches kvfleet through Envoy's access log service
// (src/accesslog/): the end of each request releases its in-flight slot and feeds the
// learning. Bounded both ways:
//   capacity   at most `capacity` entries; the oldest is released when a new one comes
//   ttl        an entry neither ended nor refreshed (Envoy's periodic log entries of a long
//              stream) within `ttlMs` is released: its end was lost (kvfleet restarted, the
//              log service was down, the client went away before Envoy applied the answer)
// A Map in touch order: refreshing moves an entry to the end, so expiry sweeps from the front.

export interface PendingEntry<T> {
  readonly value: T;
  touched: number;
}

export class PendingTable<T> {
  private readonly entries = new Map<string, PendingEntry<T>>();

  constructor(
    private readonly capacity: number,
    private readonly ttlMs: number,
    /** Called once for every entry that leaves without an end (expired or pushed out). */
    private readonly onDrop: (value: T) => void,
  ) {}

  add(key: string, value: T, now: number): void {
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.onDrop(old.value);
    }
    this.entries.set(key, { value, touched: now });
    while (this.entries.size > this.capacity) this.dropOldest();
    this.expire(now);
  }

  /** The entry ended: removed and returned (undefined when unknown, e.g. decided before a restart). */
  take(key: string): T | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key);
    return e.value;
  }

  /** Still running (a periodic log entry): its expiry starts again. Returns the entry (undefined when unknown). */
  touch(key: string, now: number): T | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key);
    e.touched = now;
    this.entries.set(key, e);
    return e.value;
  }

  /** Drop every entry untouched for ttl. */
  expire(now: number): void {
    for (const [k, e] of this.entries) {
      if (now - e.touched <= this.ttlMs) break;
      this.entries.delete(k);
      this.onDrop(e.value);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  private dropOldest(): void {
    const first = this.entries.entries().next().value;
    if (first === undefined) return;
    this.entries.delete(first[0]);
    this.onDrop(first[1].value);
  }
}
