// xxHash64 (xxhash-wasm) for fingerprint blocks and the CHWBL ring. The wasm
// module is compiled once, at import (top-level await), so every caller stays
// synchronous. Keys are the low 52 bits of the 64-bit hash: exact as JS numbers,
// cheap Map keys, and still collision-safe at index sizes (≈ 2^-52 per pair).
import xxhash from 'xxhash-wasm';

const api = await xxhash();

const MASK52 = (1n << 52n) - 1n;
export const KEY_SPACE = 2 ** 52;

/** 64-bit xxHash of `text` seeded with a previous hash (chain hashing). */
export function chainHash(text: string, seed: bigint): bigint {
  return api.h64(text, seed);
}

/** 52-bit key of a 64-bit hash. */
export function toKey(h: bigint): number {
  return Number(h & MASK52);
}

/** 52-bit key of a string (ring positions, salts, session keys). */
export function hashKey(text: string, seed = 0n): number {
  return Number(api.h64(text, seed) & MASK52);
}

/** Key salted by model: (key + salt) mod 2^52, exact in doubles. */
export function salted(key: number, salt: number): number {
  const s = key + salt;
  return s >= KEY_SPACE ? s - KEY_SPACE : s;
}
