// The last `capacity` decisions by request id, for GET /debug/decisions/{id}.
// A fixed-size ring: the newest overwrites the oldest, and its id leaves the map.

export class DecisionRing<T> {
  private readonly slots: Array<{ id: string; value: T } | undefined>;
  private readonly byId = new Map<string, number>();
  private next = 0;

  constructor(readonly capacity: number) {
    this.slots = Array.from({ length: Math.max(1, capacity) }, () => undefined);
  }

  put(id: string, value: T): void {
    const old = this.slots[this.next];
    if (old !== undefined && this.byId.get(old.id) === this.next) this.byId.delete(old.id);
    this.slots[this.next] = { id, value };
    this.byId.set(id, this.next);
    this.next = (this.next + 1) % this.slots.length;
  }

  get(id: string): T | undefined {
    const i = this.byId.get(id);
    return i === undefined ? undefined : this.slots[i]?.value;
  }

  get size(): number {
    return this.byId.size;
  }
}
