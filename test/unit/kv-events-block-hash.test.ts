// vLLM sha256_cbor block hashing against vectors that Python's cbor2 + hashlib produced
// (test/fixtures/kv-events/make-vectors.py re-implements vLLM's hash_block_tokens; vLLM itself
// could not be installed here — no GPU, and its wheel is large). Neither vLLM's nor llm-d's tests
// publish literal hash values to copy; llm-d's sha256 tests compute their reference the same way.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encode as cbor } from 'cborg';
import {
  blockHashChain,
  blockKey,
  coarsen,
  externalBlockHash,
  hashBlockTokens,
  low64,
  noneHash,
  promptBlockKeys,
  textExtraKeys,
  type BlockExtraKeys,
  type ExtraKey,
} from '../../src/fleet/kv-events/block-hash.js';

interface HashCase {
  name: string;
  seed: string;
  block_size: number;
  tokens: number[];
  extra_keys: unknown[] | null;
  parent_hex: string | null;
  none_hash_hex: string;
  first_preimage_hex: string | null;
  digests_hex: string[];
  wire_ints: string[];
}

const fixtures = new URL('../fixtures/kv-events/', import.meta.url);
const cases = (JSON.parse(readFileSync(new URL('hash-vectors.json', fixtures), 'utf8')) as { cases: HashCase[] }).cases;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

/** The fixture's JSON form of extra keys back to ExtraKey ({bytes: hex} → Uint8Array). */
function extraKey(v: unknown): ExtraKey {
  if (Array.isArray(v)) return v.map(extraKey);
  if (typeof v === 'object' && v !== null && 'bytes' in v && typeof v.bytes === 'string') return bytes(v.bytes);
  if (typeof v === 'string' || typeof v === 'number' || v === null) return v;
  throw new Error(`unexpected extra key ${JSON.stringify(v)}`);
}

function extras(c: HashCase): ((i: number) => BlockExtraKeys) | undefined {
  if (c.extra_keys === null) return undefined;
  return (i) => {
    const e = c.extra_keys?.[i];
    return e === null || e === undefined ? null : (extraKey(e) as ExtraKey[]);
  };
}

describe('vLLM sha256_cbor block hashes', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(hex(noneHash(c.seed))).toBe(c.none_hash_hex);
    const ex = extras(c);
    const digests = blockHashChain(c.tokens, {
      blockSize: c.block_size,
      seed: c.seed,
      ...(c.parent_hex === null ? {} : { parent: bytes(c.parent_hex) }),
      ...(ex === undefined ? {} : { extraKeys: ex }),
    });
    expect(digests.map(hex)).toEqual(c.digests_hex);
    expect(digests.map((d) => externalBlockHash(d, 'int'))).toEqual(c.wire_ints.map(BigInt));
    if (c.first_preimage_hex !== null) {
      const parent = c.parent_hex === null ? noneHash(c.seed) : bytes(c.parent_hex);
      const pre = cbor([parent, c.tokens.slice(0, c.block_size), ex?.(0) ?? null]);
      expect(hex(pre)).toBe(c.first_preimage_hex); // the CBOR bytes themselves, not only their hash
    }
  });

  it('resuming from a parent digest continues the same chain', () => {
    const tokens = Array.from({ length: 64 }, (_, i) => i + 1);
    const all = blockHashChain(tokens, { blockSize: 16, seed: '0' });
    const tail = blockHashChain(tokens.slice(32), { blockSize: 16, parent: all[1] });
    expect(tail.map(hex)).toEqual(all.slice(2).map(hex));
  });

  it('a coarser KV-cache group takes the last fine hash of each of its blocks', () => {
    const tokens = Array.from({ length: 100 }, (_, i) => (i * 7919) % 32000);
    const fine = blockHashChain(tokens, { blockSize: 16, seed: '0' });
    expect(coarsen(fine, 2).map(hex)).toEqual([fine[1], fine[3], fine[5]].map((d) => hex(d as Uint8Array)));
  });

  it('LoRA name on every block and cache_salt on block 0 only', () => {
    const k = textExtraKeys({ loraName: 'a', cacheSalt: 's' });
    expect([k(0), k(1)]).toEqual([['a', 's'], ['a']]);
    expect(textExtraKeys({})(0)).toBeNull();
    const c = cases.find((x) => x.name.startsWith('LoRA')) as HashCase;
    const got = blockHashChain(c.tokens, { blockSize: c.block_size, seed: c.seed, extraKeys: textExtraKeys({ loraName: 'my-lora', cacheSalt: 'tenant-a' }) });
    expect(got.map(hex)).toEqual(c.digests_hex);
  });

  it('only full blocks count, the seed matters, and maxBlocks caps the chain', () => {
    const t = Array.from({ length: 47 }, (_, i) => i);
    expect(blockHashChain(t, { blockSize: 16, seed: '0' })).toHaveLength(2);
    expect(blockHashChain(t, { blockSize: 16, seed: '0', maxBlocks: 1 })).toHaveLength(1);
    expect(hex(blockHashChain(t, { blockSize: 16, seed: '1' })[0] as Uint8Array)).not.toBe(
      hex(blockHashChain(t, { blockSize: 16, seed: '0' })[0] as Uint8Array),
    );
    expect(() => blockHashChain(t, { blockSize: 16 })).toThrow(/seed/);
    expect(() => blockHashChain(t, { blockSize: 0, seed: '0' })).toThrow(RangeError);
  });

  it('block keys: the low 64 bits, the same from the int and the bytes form', () => {
    const d = hashBlockTokens(noneHash('0'), [1, 2, 3]);
    const asInt = externalBlockHash(d, 'int');
    expect(typeof asInt).toBe('bigint');
    expect(blockKey(asInt)).toBe(blockKey(externalBlockHash(d, 'bytes')));
    expect(low64(bytes('0102'))).toBe(0x0102n);
    expect(blockKey(-1)).toBe((1n << 64n) - 1n); // a signed int64 on the wire
    expect(promptBlockKeys([1, 2, 3, 4], { blockSize: 2, seed: '0' })).toEqual(blockHashChain([1, 2, 3, 4], { blockSize: 2, seed: '0' }).map(low64));
  });
});

describe('block preimage fast path', () => {
  it('writes the same canonical CBOR as cborg for every integer width', () => {
    const parent = noneHash('0');
    const widths = [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1];
    for (const t of widths) {
      const tokens = [t, 5, t, 151_000];
      expect(hashBlockTokens(parent, tokens)).toEqual(
        new Uint8Array(
          createHash('sha256')
            .update(cbor([parent, tokens, null]))
            .digest(),
        ),
      );
    }
    const long = Array.from({ length: 300 }, (_, i) => i * 977);
    expect(hashBlockTokens(parent, long)).toEqual(
      new Uint8Array(
        createHash('sha256')
          .update(cbor([parent, long, null]))
          .digest(),
      ),
    );
  });
});
