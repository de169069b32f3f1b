// KV-cache events of one simulated replica, as vLLM publishes them (`kvfleet sim --kv-events`):
// the prompt is tokenized with a real tokenizer.json (default: the small one an npm dependency
// ships, fleet/kv-events/tokenizer.ts) and, for chat, a jinja chat template; block keys are
// vLLM's sha256_cbor chain over the token ids (block size = --block-tokens, PYTHONHASHSEED =
// --kv-hash-seed) so the prefix cache (prefix-cache.ts) keys its LRU by them, and every change
// of that cache goes out on a real ZMQ PUB socket (kv-events-publisher.ts):
//   blocks newly cached after a prefill → BlockStored (one per run of new blocks, with its
//   parent and token ids) · LRU evictions (memory pressure) → BlockRemoved · reset and sleep →
//   AllBlocksCleared
// Requests the template cannot render the engine's way (no template, image parts, tools) fall
// back to the simulator's character tokenizer and publish nothing.
import { blockHashChain, low64, noneHash } from '../../fleet/kv-events/block-hash.js';
import { chatTemplateOf, PromptTokenizer } from '../../fleet/kv-events/prompt-tokens.js';
import { bundledTokenizerPath, loadTokenizer, type LoadedTokenizer } from '../../fleet/kv-events/tokenizer.js';
import { KvEventsPublisher } from './kv-events-publisher.js';
import type { CacheEvents } from './prefix-cache.js';

export interface SimKvEventsOptions {
  readonly host: string;
  /** PUB port; 0 = ephemeral. */
  readonly port: number;
  readonly tokenizer?: string | undefined;
  readonly chatTemplate?: string | undefined;
  readonly hashSeed: string;
  readonly blockTokens: number;
  readonly topic?: string | undefined;
}

const tokenizers = new Map<string, LoadedTokenizer>();

/** A cache key that is a vLLM block key (decimal low 64 bits), not the simulator's text hash (hex). */
const isBlockKey = (h: string): boolean => /^\d+$/.test(h);

export class SimKvEvents implements CacheEvents {
  private readonly parent: Uint8Array;
  private stopped = false;
  /** Token ids of the blocks of recent prompts, by block key (for BlockStored's token_ids); bounded. */
  private readonly tokensOf = new Map<string, number[]>();

  private constructor(
    private readonly prompts: PromptTokenizer,
    private readonly publisher: KvEventsPublisher,
    private readonly o: SimKvEventsOptions,
  ) {
    this.parent = noneHash(o.hashSeed);
  }

  static async start(o: SimKvEventsOptions): Promise<SimKvEvents> {
    const path = o.tokenizer ?? bundledTokenizerPath();
    let tok = tokenizers.get(path);
    if (tok === undefined) tokenizers.set(path, (tok = loadTokenizer(path)));
    const prompts = new PromptTokenizer(tok, chatTemplateOf(tok, o.chatTemplate));
    const host = o.host.includes(':') ? `[${o.host}]` : o.host;
    const publisher = await KvEventsPublisher.bind({ address: `tcp://${host}:${o.port === 0 ? '*' : o.port}`, topic: o.topic ?? '' });
    return new SimKvEvents(prompts, publisher, o);
  }

  /** tcp://host:port of the PUB socket. */
  get address(): string {
    return this.publisher.address;
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** The engine's prompt token ids, or undefined when this request is not rendered the engine's way. */
  promptIds(kind: 'chat' | 'completion', body: Readonly<Record<string, unknown>>): number[] | undefined {
    const t = this.prompts.tokens(kind, body);
    return t.ok ? t.ids : undefined;
  }

  /** The prefix cache's keys of the full blocks: the decimal low 64 bits of vLLM's block hashes. */
  blockHashes(ids: readonly number[]): string[] {
    const digests = blockHashChain(ids, { blockSize: this.o.blockTokens, parent: this.parent });
    const keys = digests.map((d) => low64(d).toString());
    for (let i = 0; i < keys.length; i++) this.remember(keys[i] as string, ids.slice(i * this.o.blockTokens, (i + 1) * this.o.blockTokens));
    return keys;
  }

  added(hashes: readonly string[], from: number, to: number): void {
    if (this.stopped || to <= from) return;
    const run = hashes.slice(from, to);
    // Blocks of a request not rendered the engine's way are keyed by the text hash: not published.
    if (!run.every(isBlockKey)) return;
    const tokens: number[] = [];
    for (const h of run) tokens.push(...(this.tokensOf.get(h) ?? []));
    const before = hashes[from - 1];
    const parent = before !== undefined && isBlockKey(before) ? BigInt(before) : null;
    void this.publisher.stored(
      run.map((h) => BigInt(h)),
      parent,
      tokens,
      this.o.blockTokens,
    );
  }

  evicted(hashes: readonly string[]): void {
    const keys = hashes.filter(isBlockKey);
    if (this.stopped || keys.length === 0) return;
    void this.publisher.removed(keys.map((h) => BigInt(h)));
  }

  cleared(): void {
    if (this.stopped) return;
    void this.publisher.cleared();
  }

  /** Close the PUB socket (the engine's publisher is gone; subscribers see a disconnect). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.publisher.close();
  }

  private remember(key: string, tokens: number[]): void {
    this.tokensOf.delete(key);
    this.tokensOf.set(key, tokens);
    if (this.tokensOf.size > 65_536) {
      const oldest = this.tokensOf.keys().next();
      if (oldest.done !== true) this.tokensOf.delete(oldest.value);
    }
  }
}
