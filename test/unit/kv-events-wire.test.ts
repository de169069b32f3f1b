// KVEventBatch msgpack: payloads that msgspec wrote with vLLM-shaped structs
// (test/fixtures/kv-events/make-vectors.py), hand-built payloads, round trips and garbage.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encode as msgpack } from '@msgpack/msgpack';
import fc from 'fast-check';
import { blockKey } from '../../src/fleet/kv-events/block-hash.js';
import { decodeSeq, encodeBatch, encodeSeq, type BlockStored, type KvEventBatch } from '../../src/fleet/kv-events/wire.js';
import { decodeBatch } from '../../src/fleet/kv-events/wire-decode.js';

const fixtures = new URL('../fixtures/kv-events/', import.meta.url);
const batches = (JSON.parse(readFileSync(new URL('wire-vectors.json', fixtures), 'utf8')) as { batches: { name: string; hex: string }[] }).batches;
const hashCase = (
  JSON.parse(readFileSync(new URL('hash-vectors.json', fixtures), 'utf8')) as { cases: { wire_ints: string[]; digests_hex: string[]; tokens: number[] }[] }
).cases[0];
if (hashCase === undefined) throw new Error('hash vectors missing');
const ints = hashCase.wire_ints.map(BigInt);
const digests = hashCase.digests_hex.map((h) => new Uint8Array(Buffer.from(h, 'hex')));
const toks = hashCase.tokens;
const fixture = (i: number): Uint8Array => new Uint8Array(Buffer.from(batches[i]?.hex ?? '', 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function decoded(bytes: Uint8Array): KvEventBatch {
  const r = decodeBatch(bytes);
  if (!r.ok) throw new Error(r.error);
  return r.batch;
}

/** The first fixture's batch, as kvfleet types. */
const current: KvEventBatch = {
  ts: 1700000000.25,
  dataParallelRank: 0,
  events: [
    {
      type: 'BlockStored',
      blockHashes: ints.slice(0, 2),
      parentBlockHash: null,
      tokenIds: toks.slice(0, 32),
      blockSize: 16,
      loraId: null,
      medium: 'GPU',
      loraName: null,
      extraKeys: [null, null],
      groupIdx: 0,
      kvCacheSpecKind: 'full_attention',
    },
    {
      type: 'BlockStored',
      blockHashes: ints.slice(2),
      parentBlockHash: ints[1] ?? null,
      tokenIds: toks.slice(32),
      blockSize: 16,
      loraId: null,
      medium: 'GPU',
      loraName: null,
    },
    { type: 'BlockRemoved', blockHashes: [ints[3] ?? 0n], medium: 'GPU', groupIdx: 0 },
    { type: 'AllBlocksCleared' },
  ],
};

describe('KVEventBatch as msgspec writes it', () => {
  it('encodes the current (map) form byte for byte like msgspec', () => {
    expect(hex(encodeBatch(current))).toBe(batches[0]?.hex);
  });

  it('encodes bytes hashes and a missing rank like msgspec', () => {
    const b: KvEventBatch = {
      ts: 12.5,
      dataParallelRank: null,
      events: [
        {
          type: 'BlockStored',
          blockHashes: digests.slice(2),
          parentBlockHash: digests[1] ?? null,
          tokenIds: toks.slice(32),
          blockSize: 16,
          loraId: 3,
          medium: 'GPU',
          loraName: 'my-lora',
        },
        { type: 'BlockRemoved', blockHashes: digests.slice(0, 1), medium: null },
      ],
    };
    expect(hex(encodeBatch(b))).toBe(batches[1]?.hex);
  });

  it('encodes the earlier positional form like msgspec', () => {
    const b: KvEventBatch = {
      ts: 99,
      dataParallelRank: null,
      events: [
        { type: 'BlockStored', blockHashes: ints, parentBlockHash: null, tokenIds: toks, blockSize: 16, loraId: null, medium: 'GPU', loraName: null },
        { type: 'BlockRemoved', blockHashes: ints.slice(0, 1), medium: 'GPU' },
        { type: 'AllBlocksCleared' },
      ],
    };
    expect(hex(encodeBatch(b, 'array'))).toBe(batches[2]?.hex);
  });

  it('decodes every fixture, whichever form and vintage', () => {
    const a = decoded(fixture(0));
    expect(a.ts).toBe(1700000000.25);
    expect(a.dataParallelRank).toBe(0);
    expect(a.events.map((e) => e.type)).toEqual(['BlockStored', 'BlockStored', 'BlockRemoved', 'AllBlocksCleared']);
    const s = a.events[0] as BlockStored;
    expect(s.blockHashes).toEqual(ints.slice(0, 2));
    expect(s.tokenIds).toEqual(toks.slice(0, 32));
    expect([s.blockSize, s.medium, s.groupIdx, s.kvCacheSpecKind, s.parentBlockHash]).toEqual([16, 'GPU', 0, 'full_attention', null]);
    expect((a.events[1] as BlockStored).parentBlockHash).toBe(ints[1]);

    const b = decoded(fixture(1));
    const bs = b.events[0] as BlockStored;
    expect(bs.blockHashes.map((h) => blockKey(h))).toEqual(ints.slice(2)); // bytes fold to the int form
    expect([bs.loraId, bs.loraName, b.dataParallelRank]).toEqual([3, 'my-lora', null]);

    const c = decoded(fixture(2));
    expect((c.events[0] as BlockStored).blockHashes).toEqual(ints);
    expect(c.events[2]).toEqual({ type: 'AllBlocksCleared' });

    const d = decoded(fixture(3)); // [ts, events] only; events without medium
    expect(d.events.map((e) => e.type)).toEqual(['BlockStored', 'BlockRemoved', 'AllBlocksCleared']);
    expect((d.events[0] as BlockStored).medium).toBeNull();
    expect(d.dataParallelRank).toBeNull();
  });

  it('decodes a hand-built vLLM-shaped payload with unknown fields and tags', () => {
    const payload = msgpack([
      1.5,
      [
        {
          type: 'BlockStored',
          block_hashes: [1, 2 ** 40],
          parent_block_hash: 7,
          token_ids: [1, 2, 3, 4],
          block_size: 2,
          lora_id: null,
          medium: 'GPU',
          lora_name: null,
          locality: 'x',
          cache_salt: 's',
        },
        { type: 'SomethingNew', block_hashes: [1] },
        ['BlockRemoved', [2 ** 40], 'CPU'],
      ],
      3,
    ]);
    const r = decodeBatch(payload);
    expect(r.ok && r.skipped).toBe(1);
    const b = decoded(payload);
    expect(b.events).toHaveLength(2);
    expect((b.events[0] as BlockStored).blockHashes).toEqual([1n, 2n ** 40n]);
    expect(b.events[1]).toMatchObject({ type: 'BlockRemoved', medium: 'CPU', blockHashes: [2n ** 40n] });
    expect(b.dataParallelRank).toBe(3);
  });

  it('round-trips arbitrary batches in both forms', () => {
    const hash = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.uint8Array({ minLength: 32, maxLength: 32 }));
    const ev = fc.oneof(
      fc.record({
        type: fc.constant('BlockStored' as const),
        blockHashes: fc.array(hash, { maxLength: 4 }),
        parentBlockHash: fc.option(hash),
        tokenIds: fc.array(fc.nat(300_000), { maxLength: 40 }),
        blockSize: fc.integer({ min: 1, max: 64 }),
        loraId: fc.option(fc.nat()),
        medium: fc.option(fc.constantFrom('GPU', 'CPU')),
        loraName: fc.option(fc.string()),
      }),
      fc.record({ type: fc.constant('BlockRemoved' as const), blockHashes: fc.array(hash, { maxLength: 4 }), medium: fc.option(fc.constant('GPU')) }),
      fc.constant({ type: 'AllBlocksCleared' as const }),
    );
    fc.assert(
      fc.property(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.array(ev, { maxLength: 5 }),
        fc.option(fc.nat(8)),
        fc.constantFrom('map' as const, 'array' as const),
        (ts, events, rank, form) => {
          const b = decoded(encodeBatch({ ts, events, dataParallelRank: rank }, form));
          expect(Object.is(b.ts, ts)).toBe(true);
          expect(b.dataParallelRank).toBe(rank);
          expect(b.events.map((e) => ('blockHashes' in e ? e.blockHashes.map((h) => blockKey(h)) : null))).toEqual(
            events.map((e) => ('blockHashes' in e ? e.blockHashes.map((h) => blockKey(h)) : null)),
          );
          expect(b.events.map((e) => (e.type === 'BlockStored' ? [e.tokenIds, e.blockSize, e.loraId, e.medium, e.loraName] : e.type))).toEqual(
            events.map((e) => (e.type === 'BlockStored' ? [e.tokenIds, e.blockSize, e.loraId, e.medium, e.loraName] : e.type)),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('defensive decoding', () => {
  it('returns an error value, never throws, on garbage', () => {
    const bad: Uint8Array[] = [
      new Uint8Array(),
      new Uint8Array([0xc1]),
      new Uint8Array([0x93, 0xcb]),
      msgpack('hello'),
      msgpack([1]),
      msgpack(['x', []]),
      msgpack([1, 'events']),
      msgpack([1, [{ type: 'BlockStored', block_hashes: 'no' }]]),
      msgpack([1, [['BlockStored', [1], null, [1, -2], 16, null]]]),
      msgpack([1, [['BlockStored', [1], null, [1], 0, null]]]),
      msgpack([1, [['BlockRemoved', [1.5]]]]),
      msgpack([1, [42]]),
      new Uint8Array(200_000).fill(0x91),
    ];
    for (const b of bad) {
      const r = decodeBatch(b);
      expect(r.ok, Buffer.from(b.slice(0, 16)).toString('hex')).toBe(false);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (b) => {
        expect(() => decodeBatch(b)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });

  it('bounds sizes: payload bytes and array lengths', () => {
    const big = encodeBatch({
      ts: 1,
      dataParallelRank: null,
      events: [{ type: 'BlockRemoved', blockHashes: Array.from({ length: 5000 }, (_, i) => BigInt(i)), medium: null }],
    });
    expect(decodeBatch(big).ok).toBe(true);
    expect(decodeBatch(big, { maxPayloadBytes: 1000 })).toMatchObject({ ok: false, error: expect.stringMatching(/exceeds/) });
    expect(decodeBatch(big, { maxArrayLength: 1000 }).ok).toBe(false);
  });

  it('sequence frames: 8 bytes big-endian; -1 is the replay end marker', () => {
    expect(hex(encodeSeq(258))).toBe('0000000000000102');
    expect(decodeSeq(encodeSeq(2 ** 40))).toBe(2 ** 40);
    expect(decodeSeq(Buffer.alloc(8, 0xff))).toBe(-1);
    expect(decodeSeq(Buffer.alloc(4))).toBeNull();
    expect(decodeSeq(Buffer.from('7fffffffffffffff', 'hex'))).toBeNull();
  });
});
