// Defensive decoder of a KVEventBatch payload (format: wire.ts). Never throws: garbage, oversize
// input, wrong types and malformed known events give { ok: false, error }; events with an
// unknown tag are skipped and counted. Accepts both event forms (map and array), a batch of
// 2 or 3 elements (or a map with ts/events/data_parallel_rank), and hashes as unsigned or
// signed integers or byte strings.
import { Decoder } from '@msgpack/msgpack';
import type { ExternalBlockHash } from './block-hash.js';
import type { BlockRemoved, BlockStored, KvEvent, KvEventBatch } from './wire.js';

export interface DecodeLimits {
  /** Largest payload accepted, bytes (default 16 MiB). */
  readonly maxPayloadBytes?: number;
  /** Longest array anywhere: events per batch, hashes or tokens per event (default 1 Mi). */
  readonly maxArrayLength?: number;
}

export type DecodeResult = { readonly ok: true; readonly batch: KvEventBatch; readonly skipped: number } | { readonly ok: false; readonly error: string };

const decoders = new Map<number, Decoder>();

function decoderFor(maxArray: number): Decoder {
  let d = decoders.get(maxArray);
  if (d === undefined) {
    d = new Decoder({
      useBigInt64: true,
      maxArrayLength: maxArray,
      maxMapLength: 256,
      maxStrLength: 64 * 1024,
      maxBinLength: 64 * 1024,
      maxExtLength: 64 * 1024,
    });
    decoders.set(maxArray, d);
  }
  return d;
}

class Malformed extends Error {}

function fail(what: string): never {
  throw new Malformed(what);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

function int(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return fail(`${what} is not an integer`);
}

const intOrNull = (v: unknown, what: string): number | null => (v === null || v === undefined ? null : int(v, what));
const strOrNull = (v: unknown, what: string): string | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? v : fail(`${what} is not a string`);

function hash(v: unknown, what: string): ExternalBlockHash {
  if (v instanceof Uint8Array) return v.length > 0 ? v : fail(`${what} is empty`);
  if (typeof v === 'bigint') return BigInt.asUintN(64, v);
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt.asUintN(64, BigInt(v));
  return fail(`${what} is not a block hash`);
}

function hashes(v: unknown, what: string): ExternalBlockHash[] {
  if (!Array.isArray(v)) return fail(`${what} is not an array`);
  return v.map((h, i) => hash(h, `${what}[${i}]`));
}

function tokens(v: unknown): number[] {
  if (!Array.isArray(v)) return fail('token_ids is not an array');
  for (const t of v) if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) fail('token_ids holds a non-token');
  return v as number[];
}

function stored(f: (name: string, pos: number) => unknown): BlockStored {
  const blockSize = int(f('block_size', 4), 'block_size');
  if (blockSize < 1) fail('block_size < 1');
  const extra = f('extra_keys', 8);
  if (extra !== null && extra !== undefined && !Array.isArray(extra)) fail('extra_keys is not an array');
  const parent = f('parent_block_hash', 2);
  return {
    type: 'BlockStored',
    blockHashes: hashes(f('block_hashes', 1), 'block_hashes'),
    parentBlockHash: parent === null || parent === undefined ? null : hash(parent, 'parent_block_hash'),
    tokenIds: tokens(f('token_ids', 3)),
    blockSize,
    loraId: intOrNull(f('lora_id', 5), 'lora_id'),
    medium: strOrNull(f('medium', 6), 'medium'),
    loraName: strOrNull(f('lora_name', 7), 'lora_name'),
    extraKeys: Array.isArray(extra) ? (extra as unknown[]) : null,
    groupIdx: intOrNull(f('group_idx', 9), 'group_idx'),
    kvCacheSpecKind: strOrNull(f('kv_cache_spec_kind', 10), 'kv_cache_spec_kind'),
    kvCacheSpecSlidingWindow: intOrNull(f('kv_cache_spec_sliding_window', 11), 'kv_cache_spec_sliding_window'),
  };
}

function removed(f: (name: string, pos: number) => unknown): BlockRemoved {
  return {
    type: 'BlockRemoved',
    blockHashes: hashes(f('block_hashes', 1), 'block_hashes'),
    medium: strOrNull(f('medium', 2), 'medium'),
    groupIdx: intOrNull(f('group_idx', 3), 'group_idx'),
  };
}

/** One event, or null for an unknown tag. */
function event(v: unknown): KvEvent | null {
  let tag: unknown;
  let f: (name: string, pos: number) => unknown;
  if (Array.isArray(v)) {
    tag = v[0];
    f = (_name, pos) => v[pos];
  } else if (isRecord(v)) {
    tag = v['type'];
    f = (name) => (Object.hasOwn(v, name) ? v[name] : undefined);
  } else {
    return fail('event is neither an array nor a map');
  }
  if (tag === 'BlockStored') return stored(f);
  if (tag === 'BlockRemoved') return removed(f);
  if (tag === 'AllBlocksCleared') return { type: 'AllBlocksCleared' };
  return null;
}

function batch(v: unknown): { batch: KvEventBatch; skipped: number } {
  let ts: unknown, events: unknown, rank: unknown;
  if (Array.isArray(v) && v.length >= 2) {
    const a: readonly unknown[] = v;
    [ts, events, rank] = a;
  } else if (isRecord(v)) [ts, events, rank] = [v['ts'], v['events'], v['data_parallel_rank']];
  else fail('batch is not [ts, events, …]');
  const tsNum = typeof ts === 'number' ? ts : typeof ts === 'bigint' ? Number(ts) : fail('ts is not a number');
  if (!Array.isArray(events)) fail('events is not an array');
  const out: KvEvent[] = [];
  let skipped = 0;
  for (const e of events) {
    const d = event(e);
    if (d === null) skipped++;
    else out.push(d);
  }
  return { batch: { ts: tsNum, events: out, dataParallelRank: intOrNull(rank, 'data_parallel_rank') }, skipped };
}

/** Decode one payload frame. */
export function decodeBatch(payload: Uint8Array, limits: DecodeLimits = {}): DecodeResult {
  const maxBytes = limits.maxPayloadBytes ?? 16 * 1024 * 1024;
  if (payload.length > maxBytes) return { ok: false, error: `payload of ${payload.length} bytes exceeds ${maxBytes}` };
  try {
    const { batch: b, skipped } = batch(decoderFor(limits.maxArrayLength ?? 1 << 20).decode(payload));
    return { ok: true, batch: b, skipped };
  } catch (e) {
    return { ok: false, error: e instanceof Malformed ? e.message : `not msgpack: ${e instanceof Error ? e.message : String(e)}` };
  }
}
