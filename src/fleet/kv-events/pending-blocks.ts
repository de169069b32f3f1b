// Blocks a replica is about to hold: the prompt blocks of requests kvfleet just routed there,
// which the engine reports only once they are computed (BlockStored comes after the prefill).
// Without them, a burst of requests sharing a new prefix sees it nowhere and scatters.
//   add(endpoint, keys, now)  the routed prompt's blocks, each pending until now + ttlMs
//   has(endpoint, key, now)   pending and not expired
//   stored / removed          the engine's word replaces the guess (a stored key leaves the
//                             pending set; a removed one too)
// An expired guess is dropped: the engine did not store it in time (evicted, failed, or the
// request went elsewhere). Bounded: at most maxPerEndpoint keys per replica, oldest dropped first.

export class PendingBlocks<K> {
  private readonly byEndpoint = new Map<string, Map<K, number>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxPerEndpoint = 65_536,
  ) {}

  add(endpoint: string, keys: readonly K[], now: number): void {
    if (this.ttlMs <= 0 || keys.length === 0) return;
    let m = this.byEndpoint.get(endpoint);
    if (m === undefined) this.byEndpoint.set(endpoint, (m = new Map<K, number>()));
    const until = now + this.ttlMs;
    for (const k of keys) {
      m.delete(k);
      m.set(k, until);
    }
    while (m.size > this.maxPerEndpoint) {
      const oldest = m.keys().next();
      if (oldest.done === true) break;
      m.delete(oldest.value);
    }
  }

  has(endpoint: string, key: K, now: number): boolean {
    const m = this.byEndpoint.get(endpoint);
    if (m === undefined) return false;
    const until = m.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    m.delete(key);
    return false;
  }

  /** The engine reported these blocks (stored or removed): its word replaces the guess. */
  settle(endpoint: string, keys: readonly K[]): void {
    const m = this.byEndpoint.get(endpoint);
    if (m === undefined) return;
    for (const k of keys) m.delete(k);
  }

  forget(endpoint: string): void {
    this.byEndpoint.delete(endpoint);
  }

  size(endpoint: string): number {
    return this.byEndpoint.get(endpoint)?.size ?? 0;
  }
}
