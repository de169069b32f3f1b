// The last `capacity` decisions by request id, for GET /debug/decisions/{id} and the
// newest-first list of GET /debug/decisions. A fixed-size ring: the newest overwrites the
// oldest, and its id leaves the map. `at` is the caller's wall clock (the core reads none).

export interface RingEntry<T> {
  readonly id: string;
  readonly value: T;
  /** Wall-clock ms when it was put (undefined: the caller gave none). */
  readonly at: number | undefined;
}

export class DecisionRing<T> {
  private readonly slots: Array<RingEntry<T> | undefined>;
  private readonly byId = new Map<string, number>();
  private next = 0;

  constructor(readonly capacity: number) {
    this.slots = Array.from({ length: Math.max(1, capacity) }, () => undefined);
  }

  put(id: string, value: T, at?: number): void {
    const old = this.slots[this.next];
    if (old !== undefined && this.byId.get(old.id) === this.next) this.byId.delete(old.id);
    this.slots[this.next] = { id, value, at };
    this.byId.set(id, this.next);
    this.next = (this.next + 1) % this.slots.length;
  }

  get(id: string): T | undefined {
    const i = this.byId.get(id);
    return i === undefined ? undefined : this.slots[i]?.value;
  }

  /** Up to `limit` entries, newest first (an id put twice counts once, at its newest). */
  newest(limit: number): Array<RingEntry<T>> {
    const out: Array<RingEntry<T>> = [];
    const n = this.slots.length;
    for (let k = 1; k <= n && out.length < limit; k++) {
      const i = (this.next - k + n) % n;
      const e = this.slots[i];
      if (e === undefined) break;
      if (this.byId.get(e.id) === i) out.push(e);
    }
    return out;
  }

  get size(): number {
    return this.byId.size;
  }
}
