// Simulated vLLM automatic prefix cache: a bounded LRU of KV block hashes.
// Prompt text is cut into blocks of blockTokens × charsPerToken characters; only full blocks count.
// hash_0 = sha1(block_0), hash_i = sha1(hash_{i-1} ‖ block_i), so a block hit implies its whole prefix.
// Cached tokens = (leading consecutive cached blocks) × blockTokens, limited like vLLM to
// prompt_tokens − 1 (the last prompt token is always recomputed to get logits).
// With --kv-events the keys are vLLM's block hashes of real token ids instead (kv-events-sim.ts),
// and `events` hears every change: the runs of blocks newly cached, evictions, clears.
import { createHash } from 'node:crypto';

/** Changes of the cache, as a KV-event publisher needs them. */
export interface CacheEvents {
  /** hashes[from..to) were not cached and now are (a prompt's chain: hashes[from − 1] is their parent). */
  added(hashes: readonly string[], from: number, to: number): void;
  evicted(hashes: readonly string[]): void;
  cleared(): void;
}

export class PrefixCache {
  /** Block hash → true, in LRU order (first key = least recently used). */
  private readonly lru = new Map<string, true>();

  constructor(
    readonly capacity: number,
    readonly blockTokens: number,
    readonly charsPerToken: number,
    private readonly events?: () => CacheEvents | undefined,
  ) {}

  get size(): number {
    return this.lru.size;
  }

  /** Chained hashes of the full blocks of `text`. */
  blockHashes(text: string): string[] {
    const blockChars = this.blockTokens * this.charsPerToken;
    const full = Math.floor(text.length / blockChars);
    const hashes: string[] = [];
    let prev = '';
    for (let i = 0; i < full; i++) {
      prev = createHash('sha1')
        .update(prev)
        .update(text.slice(i * blockChars, (i + 1) * blockChars))
        .digest('hex');
      hashes.push(prev);
    }
    return hashes;
  }

  /** Cached tokens for a prompt of `promptTokens` with block `hashes`; touches the hit blocks. */
  lookup(hashes: readonly string[], promptTokens: number): number {
    const maxBlocks = Math.min(hashes.length, Math.floor(Math.max(0, promptTokens - 1) / this.blockTokens));
    let hits = 0;
    for (let i = 0; i < maxBlocks; i++) {
      const h = hashes[i];
      if (h === undefined || !this.lru.has(h)) break;
      this.touch(h);
      hits++;
    }
    return hits * this.blockTokens;
  }

  /** Insert or refresh every block, evicting least recently used blocks beyond capacity. */
  insert(hashes: readonly string[]): void {
    const ev = this.events?.();
    let runFrom = -1;
    for (let i = 0; i < hashes.length; i++) {
      const h = hashes[i] as string;
      const fresh = !this.lru.has(h);
      if (ev !== undefined) {
        if (fresh && runFrom === -1) runFrom = i;
        else if (!fresh && runFrom !== -1) {
          ev.added(hashes, runFrom, i);
          runFrom = -1;
        }
      }
      this.touch(h);
    }
    if (ev !== undefined && runFrom !== -1) ev.added(hashes, runFrom, hashes.length);
    const evicted: string[] = [];
    while (this.lru.size > this.capacity) {
      const oldest = this.lru.keys().next();
      if (oldest.done === true) break;
      this.lru.delete(oldest.value);
      evicted.push(oldest.value);
    }
    if (ev !== undefined && evicted.length > 0) ev.evicted(evicted);
  }

  clear(): void {
    this.lru.clear();
    this.events?.()?.cleared();
  }

  private touch(h: string): void {
    this.lru.delete(h);
    this.lru.set(h, true);
  }
}
