// Prompt fingerprint: canonical render → fixed-size blocks → chained xxHash64.
//   render  = Σ over segments, in order: "<|" role "|>\n" text "\n"
//             (appending a message only appends text, so turn n is a prefix of turn n+1)
//   block   = round(block_tokens × chars_per_token) characters; only full blocks count
//             (engines cache whole KV blocks), at most max_blocks of them
//   chain_i = xxh64(block_i, seed = chain_{i-1}), chain_{-1} = 0
//   key_i(model) = (chain_i mod 2^52 + salt(model)) mod 2^52,  salt = xxh64(model_id)
// The salt applies to the first block and so, through the chain, to every key:
// two models (or LoRA adapters, whose model_id is the adapter name) on the same
// replica never share keys. Adding the salt to the 52-bit keys lets one hash pass
// serve every candidate model: the prompt is hashed once per request.
//   routingKey = chain_0, or xxh64 of the whole render when it is shorter than a block
// Turn-level sharing: turn n+1's blocks 0..k-1 equal turn n's when turn n rendered k full blocks.
import type { AffinityConfig } from '../config/routing-schema.js';
import type { Model } from '../config/fleet.js';
import type { PromptSegment } from '../request/types.js';
import { chainHash, hashKey, salted, toKey } from './hash.js';

export interface Fingerprint {
  /** Unsalted 52-bit chain keys of the full blocks considered. */
  readonly chain: Float64Array;
  readonly blocks: number;
  /** Unsalted key of the prompt's start, for consistent hashing of first-seen prompts. */
  readonly routingKey: number;
  /** Estimated prompt tokens (all of it, not only the blocks considered). */
  readonly promptTokens: number;
  readonly blockTokens: number;
  /** The canonical render the chain was hashed from (read during the decision, never kept). */
  readonly render: string;
  /** Characters per block. */
  readonly blockChars: number;
  /** The whole prompt was hashed (not cut at max_blocks): the render is complete. */
  readonly complete: boolean;
}

export function blockChars(a: Pick<AffinityConfig, 'block_tokens' | 'chars_per_token'>): number {
  return Math.max(1, Math.round(a.block_tokens * a.chars_per_token));
}

/** The canonical render, cut once it holds `limit` characters. */
export function renderPrompt(segments: readonly PromptSegment[], limit = Infinity): string {
  let out = '';
  for (const s of segments) {
    out += `<|${s.role}|>\n${s.text}\n`;
    if (out.length >= limit) break;
  }
  return out;
}

export function fingerprint(
  segments: readonly PromptSegment[],
  promptChars: number,
  a: Pick<AffinityConfig, 'block_tokens' | 'chars_per_token' | 'max_blocks'>,
): Fingerprint {
  const bc = blockChars(a);
  const text = renderPrompt(segments, bc * a.max_blocks);
  const blocks = Math.min(a.max_blocks, Math.floor(text.length / bc));
  const chain = new Float64Array(blocks);
  let h = 0n;
  for (let i = 0; i < blocks; i++) {
    h = chainHash(text.slice(i * bc, (i + 1) * bc), h);
    chain[i] = toKey(h);
  }
  const routingKey = blocks > 0 ? (chain[0] as number) : hashKey(text);
  // Token estimate over the raw prompt text plus the role markers of the render.
  const promptTokens = Math.ceil((promptChars + segments.length * 8) / a.chars_per_token);
  return { chain, blocks, routingKey, promptTokens, blockTokens: a.block_tokens, render: text, blockChars: bc, complete: text.length < bc * a.max_blocks };
}

const salts = new WeakMap<Model, number>();

/** The model's salt: xxh64 of its model_id (a LoRA adapter's model_id is the adapter name). */
export function modelSalt(model: Model): number {
  let s = salts.get(model);
  if (s === undefined) {
    s = hashKey(`model:${model.model_id}`);
    salts.set(model, s);
  }
  return s;
}

/** The fingerprint's keys for one model (salted). */
export function saltedKeys(fp: Fingerprint, salt: number): Float64Array {
  const out = new Float64Array(fp.blocks);
  for (let i = 0; i < fp.blocks; i++) out[i] = salted(fp.chain[i] as number, salt);
  return out;
}
