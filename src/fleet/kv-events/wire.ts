// vLLM KV-cache events on the wire (vllm/distributed/kv_events.py; sources in docs/kv-events.md).
// ZMQ PUB multipart message: [topic (UTF-8, "" by default), seq (8 bytes, big-endian unsigned,
// 0,1,2,… per publisher), payload (msgpack KVEventBatch)].
// KVEventBatch = msgspec Struct, array_like: [ts: float64, events: [event…], data_parallel_rank: int|nil]
// event (tag = class name), current vLLM (map form, since vLLM PR 42892):
//   {"type":"BlockStored", "block_hashes":[h…], "parent_block_hash":h|nil, "token_ids":[int…],
//    "block_size":int, "lora_id":int|nil, "medium":str|nil, "lora_name":str|nil,
//    ["extra_keys":[tuple|nil…]], ["group_idx":int], ["kv_cache_spec_kind":str], ["kv_cache_spec_sliding_window":int]}
//   {"type":"BlockRemoved", "block_hashes":[h…], "medium":str|nil, ["group_idx":int]}
//   {"type":"AllBlocksCleared"}
//   ([…] = omitted while it holds its default, nil — msgspec omit_defaults)
// earlier vLLM (array form): the same fields in the same order after the tag,
//   ["BlockStored", hashes, parent, tokens, block_size, lora_id, medium, lora_name, …]; the oldest
//   releases stop after lora_id (BlockStored) and after hashes (BlockRemoved).
// h = unsigned int (low 64 bits of the digest) or 32-byte bin, see block-hash.ts.
// encodeBatch writes what msgspec writes for the current form, byte for byte (test fixtures).
import { Encoder } from '@msgpack/msgpack';
import type { ExternalBlockHash } from './block-hash.js';

export interface BlockStored {
  readonly type: 'BlockStored';
  readonly blockHashes: readonly ExternalBlockHash[];
  readonly parentBlockHash: ExternalBlockHash | null;
  readonly tokenIds: readonly number[];
  readonly blockSize: number;
  readonly loraId: number | null;
  readonly medium: string | null;
  readonly loraName: string | null;
  /** Decoded as found (msgpack values); one entry per block hash. */
  readonly extraKeys?: readonly unknown[] | null;
  readonly groupIdx?: number | null;
  readonly kvCacheSpecKind?: string | null;
  readonly kvCacheSpecSlidingWindow?: number | null;
}

export interface BlockRemoved {
  readonly type: 'BlockRemoved';
  readonly blockHashes: readonly ExternalBlockHash[];
  readonly medium: string | null;
  readonly groupIdx?: number | null;
}

export interface AllBlocksCleared {
  readonly type: 'AllBlocksCleared';
}

export type KvEvent = BlockStored | BlockRemoved | AllBlocksCleared;

export interface KvEventBatch {
  /** Seconds since the epoch (the engine's time.time()). */
  readonly ts: number;
  readonly events: readonly KvEvent[];
  readonly dataParallelRank: number | null;
}

export type EventForm = 'map' | 'array';

/** The 8-byte big-endian sequence frame. */
export function encodeSeq(seq: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(seq));
  return b;
}

/** The sequence number of a frame; null unless it is 8 bytes holding a safe integer (-1 = replay end). */
export function decodeSeq(frame: Uint8Array): number | null {
  if (frame.length !== 8) return null;
  const v = Buffer.from(frame.buffer, frame.byteOffset, 8).readBigInt64BE();
  return v >= -1n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null;
}

const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });

/** Integers the way msgspec writes them: shortest form (a bigint above 2^53 is uint64 anyway). */
function wireHash(h: ExternalBlockHash): number | bigint | Uint8Array {
  return typeof h === 'bigint' && h <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(h) : h;
}

function orNull<T>(v: T | null | undefined): T | null {
  return v ?? null;
}

function eventAsMap(e: KvEvent): Record<string, unknown> {
  if (e.type === 'AllBlocksCleared') return { type: e.type };
  if (e.type === 'BlockRemoved') {
    return { type: e.type, block_hashes: e.blockHashes.map(wireHash), medium: e.medium, group_idx: e.groupIdx ?? undefined };
  }
  return {
    type: e.type,
    block_hashes: e.blockHashes.map(wireHash),
    parent_block_hash: e.parentBlockHash === null ? null : wireHash(e.parentBlockHash),
    token_ids: e.tokenIds,
    block_size: e.blockSize,
    lora_id: e.loraId,
    medium: e.medium,
    lora_name: e.loraName,
    extra_keys: e.extraKeys ?? undefined,
    group_idx: e.groupIdx ?? undefined,
    kv_cache_spec_kind: e.kvCacheSpecKind ?? undefined,
    kv_cache_spec_sliding_window: e.kvCacheSpecSlidingWindow ?? undefined,
  };
}

function eventAsArray(e: KvEvent): unknown[] {
  if (e.type === 'AllBlocksCleared') return [e.type];
  if (e.type === 'BlockRemoved') return [e.type, e.blockHashes.map(wireHash), e.medium, orNull(e.groupIdx)];
  return [
    e.type,
    e.blockHashes.map(wireHash),
    e.parentBlockHash === null ? null : wireHash(e.parentBlockHash),
    e.tokenIds,
    e.blockSize,
    e.loraId,
    e.medium,
    e.loraName,
    orNull(e.extraKeys),
    orNull(e.groupIdx),
    orNull(e.kvCacheSpecKind),
    orNull(e.kvCacheSpecSlidingWindow),
  ];
}

/** msgpack payload of a batch; `form` picks the event encoding (current vLLM: map). */
export function encodeBatch(batch: KvEventBatch, form: EventForm = 'map'): Uint8Array {
  const events = encoder.encode(batch.events.map((e) => (form === 'map' ? eventAsMap(e) : eventAsArray(e))));
  const rank = encoder.encode(batch.dataParallelRank);
  // ts is a Python float: always float64 (0xcb), even when it holds a whole number.
  const out = new Uint8Array(1 + 9 + events.length + rank.length);
  out[0] = 0x93;
  out[1] = 0xcb;
  new DataView(out.buffer).setFloat64(2, batch.ts);
  out.set(events, 10);
  out.set(rank, 10 + events.length);
  return out;
}
