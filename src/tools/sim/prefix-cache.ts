// Simulated vLLM automatic prefix cache: a bounded LRU of KV block hashes.
// Prompt text is cut into blocks of blockTokens × charsPerToken characters; only full blocks count.
// hash_0 = sha1(block_0), hash_i = sha1(hash_{i-1} ‖ block_i), so a block hit implies its whole prefix.
// Cached tokens = (leading consecutive cached blocks) × blockTokens, limited like vLLM to
// prompt_tokens − 1 (the last prompt token is always recomputed to get logits).
import { createHash } from 'node:crypto';

export class PrefixCache {
  /** Block hash → true, in LRU order (first key = least recently used). */
  private readonly lru = new Map<string, true>();

  constructor(
    readonly capacity: number,
    readonly blockTokens: number,
    readonly charsPerToken: number,
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
    for (const h of hashes) this.touch(h);
    while (this.lru.size > this.capacity) {
      const oldest = this.lru.keys().next();
      if (oldest.done === true) break;
      this.lru.delete(oldest.value);
    }
  }

  clear(): void {
    this.lru.clear();
  }

  private touch(h: string): void {
    this.lru.delete(h);
    this.lru.set(h, true);
  }
}
