// vLLM prefix-cache block hashes, `--prefix-caching-hash-algo sha256_cbor` (the one mode another
// language can reproduce; see docs/kv-events.md for sources and versions).
//   NONE_HASH = sha256(cbor(PYTHONHASHSEED))            the seed as a CBOR text string
//   h_i       = sha256(cbor([h_{i-1}, [t_0 … t_{B-1}], extra_i]))   h_{-1} = NONE_HASH
//   cbor      = canonical CBOR as cbor2.dumps(x, canonical=True) writes it: shortest integer and
//               length heads, definite lengths; tuple → array, digest → byte string, token id →
//               unsigned integer, extra_i → null or an array (LoRA name, cache_salt on block 0, …)
// Only full blocks of B = hash block size tokens are hashed. A KV-cache group whose block size
// is a multiple m of the hash block size uses h_{(j+1)·m−1} as the hash of its block j.
// What the engine publishes for h (ExternalBlockHash):
//   int   (default, VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=1): the low 64 bits, i.e. the last
//         8 digest bytes read big-endian, as an unsigned integer
//   bytes (VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0): the 32-byte digest
// kvfleet's block key is the low-64-bit integer in both cases (blockKey), so a replica's
// events name a block the same way whichever of the two it was configured with.
import { createHash } from 'node:crypto';
import { encode as cbor } from 'cborg';

/** One element of a block's extra keys: what vLLM puts in the tuple (str, int, bytes, tuples). */
export type ExtraKey = string | number | bigint | Uint8Array | null | readonly ExtraKey[];
/** A block's extra keys: null when the block has none (vLLM passes None). */
export type BlockExtraKeys = readonly ExtraKey[] | null;
/** A block hash as it appears on the wire. */
export type ExternalBlockHash = bigint | Uint8Array;
export type HashOnWire = 'int' | 'bytes';

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/** NONE_HASH: the parent of a prompt's first block, from the engines' PYTHONHASHSEED value. */
export function noneHash(pythonHashSeed: string): Uint8Array {
  return sha256(cbor(pythonHashSeed));
}

/** sha256(cbor([parent, tokens, extra])) — vLLM's hash_block_tokens with sha256_cbor. */
export function hashBlockTokens(parent: Uint8Array, tokens: ArrayLike<number>, extra: BlockExtraKeys = null): Uint8Array {
  if (extra === null) {
    const fast = preimageNoExtra(parent, tokens);
    if (fast !== undefined) return sha256(fast);
  }
  return sha256(cbor([parent, Array.from(tokens), extra]));
}

/** CBOR head of major type `major` with argument `n` (shortest form), written at `at`; returns the new offset. */
function head(buf: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    buf[at] = m | n;
    return at + 1;
  }
  if (n < 0x100) {
    buf[at] = m | 24;
    buf[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    buf[at] = m | 25;
    buf[at + 1] = n >>> 8;
    buf[at + 2] = n & 0xff;
    return at + 3;
  }
  buf[at] = m | 26;
  buf[at + 1] = n >>> 24;
  buf[at + 2] = (n >>> 16) & 0xff;
  buf[at + 3] = (n >>> 8) & 0xff;
  buf[at + 4] = n & 0xff;
  return at + 5;
}

/**
 * The canonical CBOR of [parent, tokens, null] written directly (the hot path: one block per
 * 16 prompt tokens on every decision); the same bytes cborg writes (tests compare both). Token
 * ids outside 0..2^32−1 take the general path.
 */
function preimageNoExtra(parent: Uint8Array, tokens: ArrayLike<number>): Uint8Array | undefined {
  const buf = new Uint8Array(1 + 9 + parent.length + 5 + 5 * tokens.length + 1);
  let at = head(buf, 0, 4, 3);
  at = head(buf, at, 2, parent.length);
  buf.set(parent, at);
  at += parent.length;
  at = head(buf, at, 4, tokens.length);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as number;
    if (!Number.isInteger(t) || t < 0 || t > 0xffffffff) return undefined;
    at = head(buf, at, 0, t);
  }
  buf[at] = 0xf6;
  return buf.subarray(0, at + 1);
}

export interface ChainOptions {
  /** Tokens per hashed block (vLLM's hash block size: the block size for one-group models). */
  readonly blockSize: number;
  /** PYTHONHASHSEED of the engines; used when no parent is given. */
  readonly seed?: string;
  /** Digest of the block before tokens[0] (resume a chain); NONE_HASH when absent. */
  readonly parent?: Uint8Array;
  /** Extra keys of block i (relative to tokens[0]); null/absent = none. */
  readonly extraKeys?: (blockIndex: number) => BlockExtraKeys;
  /** Hash at most this many blocks. */
  readonly maxBlocks?: number;
}

/** Digests of every full block of `tokens`, chained. */
export function blockHashChain(tokens: ArrayLike<number>, o: ChainOptions): Uint8Array[] {
  if (!Number.isInteger(o.blockSize) || o.blockSize < 1) throw new RangeError('blockSize must be a positive integer');
  let prev = o.parent ?? noneHash(o.seed ?? requireSeed());
  const full = Math.min(Math.floor(tokens.length / o.blockSize), o.maxBlocks ?? Infinity);
  const out: Uint8Array[] = [];
  const block: number[] = new Array<number>(o.blockSize);
  for (let i = 0; i < full; i++) {
    const start = i * o.blockSize;
    for (let j = 0; j < o.blockSize; j++) block[j] = tokens[start + j] as number;
    prev = hashBlockTokens(prev, block, o.extraKeys?.(i) ?? null);
    out.push(prev);
  }
  return out;
}

function requireSeed(): never {
  throw new RangeError('a seed (PYTHONHASHSEED) or a parent digest is needed: without one vLLM seeds randomly');
}

/** The hashes of a group whose block is `factor` hash blocks: every factor-th digest. */
export function coarsen(digests: readonly Uint8Array[], factor: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let j = factor - 1; j < digests.length; j += factor) out.push(digests[j] as Uint8Array);
  return out;
}

/** vLLM's extra keys for a text block: LoRA name on every block, cache_salt on block 0 only. */
export function textExtraKeys(o: { loraName?: string | null; cacheSalt?: string | null }): (i: number) => BlockExtraKeys {
  return (i) => {
    const keys: ExtraKey[] = [];
    if (o.loraName) keys.push(o.loraName);
    if (i === 0 && o.cacheSalt) keys.push(o.cacheSalt);
    return keys.length > 0 ? keys : null;
  };
}

/** The low 64 bits of a digest (or of any byte string): int.from_bytes(b, "big") & (2^64 − 1). */
export function low64(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = Math.max(0, bytes.length - 8); i < bytes.length; i++) v = (v << 8n) | BigInt(bytes[i] as number);
  return v;
}

/** The hash as vLLM publishes it in the given mode. */
export function externalBlockHash(digest: Uint8Array, mode: HashOnWire = 'int'): ExternalBlockHash {
  return mode === 'int' ? low64(digest) : digest;
}

/** kvfleet's key of a published hash: the unsigned low 64 bits, whichever form it came in. */
export function blockKey(h: ExternalBlockHash | number): bigint {
  if (h instanceof Uint8Array) return low64(h);
  return BigInt.asUintN(64, BigInt(h));
}

/** Block keys of a prompt's full blocks, ready to compare with blockKey of published hashes. */
export function promptBlockKeys(tokens: ArrayLike<number>, o: ChainOptions): bigint[] {
  return blockHashChain(tokens, o).map(low64);
}
