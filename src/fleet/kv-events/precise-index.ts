// Precise prefix index: per replica, the block keys (kvfleet's low-64-bit key of the engine's
// block hash, block-hash.ts) that the replica's KV-cache events say it holds.
//   BlockStored      → keys added (idempotent: vLLM may re-announce cached blocks)
//   BlockRemoved     → keys deleted (evictions: the engine freed them)
//   AllBlocksCleared → the replica's set emptied (prefix-cache reset, engine restart)
//   match(prompt)    → leading prompt blocks present, scanned from block 0 to the first miss
//                      (a miss ends the reusable prefix: the engine recomputes from there)
// Bounded: at most maxBlocks keys per replica; beyond it the oldest-stored are forgotten (the
// engine would have reported their removal long before on any sane setting; counted in
// `overflowed`). Pure data: sockets and freshness live in kv-index.ts.

export class PreciseIndex {
  private readonly byEndpoint = new Map<string, Set<bigint>>();
  /** Keys forgotten because a replica exceeded maxBlocks. */
  overflowed = 0;

  constructor(private readonly maxBlocks: number) {}

  stored(endpoint: string, keys: readonly bigint[]): void {
    let set = this.byEndpoint.get(endpoint);
    if (set === undefined) this.byEndpoint.set(endpoint, (set = new Set()));
    for (const k of keys) {
      set.delete(k); // re-insert: a re-announced block counts as recently stored
      set.add(k);
    }
    while (set.size > this.maxBlocks) {
      const oldest = set.values().next();
      if (oldest.done === true) break;
      set.delete(oldest.value);
      this.overflowed++;
    }
  }

  removed(endpoint: string, keys: readonly bigint[]): void {
    const set = this.byEndpoint.get(endpoint);
    if (set === undefined) return;
    for (const k of keys) set.delete(k);
  }

  cleared(endpoint: string): void {
    this.byEndpoint.get(endpoint)?.clear();
  }

  forget(endpoint: string): void {
    this.byEndpoint.delete(endpoint);
  }

  /** Leading blocks of `keys` the replica holds (or, per `also`, is about to hold). */
  match(endpoint: string, keys: readonly bigint[], also?: (k: bigint) => boolean): number {
    const set = this.byEndpoint.get(endpoint);
    let n = 0;
    while (n < keys.length && (set?.has(keys[n] as bigint) === true || also?.(keys[n] as bigint) === true)) n++;
    return n;
  }

  /** Whether the replica holds this block. */
  holds(endpoint: string, key: bigint): boolean {
    return this.byEndpoint.get(endpoint)?.has(key) === true;
  }

  size(endpoint: string): number {
    return this.byEndpoint.get(endpoint)?.size ?? 0;
  }

  blocks(): number {
    let n = 0;
    for (const s of this.byEndpoint.values()) n += s.size;
    return n;
  }
}
