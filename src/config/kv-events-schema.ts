// models[].kv_events: opt-in precise prefix index from the engines' own KV-cache events
// (vLLM `--kv-events-config`, docs/kv-events.md). kvfleet subscribes to every replica's ZMQ PUB
// socket, hashes each prompt the way the engine does (the engine's tokenizer.json, its chat
// template, block size and PYTHONHASHSEED, `--prefix-caching-hash-algo sha256_cbor`) and scores
// prefix affinity from the blocks the replica reports holding; when a replica's stream is not
// trustworthy (not connected, a sequence gap, silent while busy) the approximate index is used
// for it and the decision says so (fleet/kv-events/kv-index.ts).
import { z } from 'zod';
import { endpointAddress } from './endpoint-address.js';

const zmqAddress = z.string().regex(/^(tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}|ipc:\/\/.+)$/, 'must be tcp://host:port or ipc://path');

export const kvEventsSchema = z.strictObject({
  /** The engine's tokenizer.json (a local file; relative paths are relative to the fleet file). */
  tokenizer: z.string().min(1),
  /** A jinja chat template file; default: tokenizer_config.json's `chat_template` beside the tokenizer. */
  chat_template: z.string().min(1).optional(),
  /** The engine's KV block size (vLLM --block-size). */
  block_size: z.number().int().min(1).max(4096).default(16),
  /** The engines' PYTHONHASHSEED (vLLM seeds block hashes with it; unset there means random). */
  hash_seed: z.string().default('0'),
  /** The engine's PUB port on each replica's host (KVEventsConfig.endpoint, default tcp://*:5557). */
  port: z.number().int().min(1).max(65535).default(5557),
  /** The engine's replay (ROUTER) port on each replica's host, when replay_endpoint is set. */
  replay_port: z.number().int().min(1).max(65535).optional(),
  /** Per replica (`ip:port` as in endpoints) PUB address, overriding `port`. */
  endpoints: z.record(endpointAddress, zmqAddress).default({}),
  /** Per replica replay address, overriding `replay_port`. */
  replay_endpoints: z.record(endpointAddress, zmqAddress).default({}),
  /** KVEventsConfig.topic (a prefix match; vLLM's default is ""). */
  topic: z.string().default(''),
  /** A replica sent work this long ago that has published nothing since is treated as silent (fallback). */
  max_silence_ms: z.number().int().min(100).max(600_000).default(10_000),
  /**
   * A prompt kvfleet routed counts as held by its replica for this long before the engine reports
   * storing it (prefill takes time; a burst sharing a new prefix would otherwise scatter). 0 = off.
   */
  pending_ms: z.number().int().min(0).max(600_000).default(2_000),
  /** Blocks remembered per replica (beyond it the oldest are forgotten). */
  max_blocks_per_replica: z.number().int().min(1).max(100_000_000).default(1_000_000),
  /** Prompt blocks tokenized and hashed per request (the rest of a longer prompt is not matched; tokenizing costs ≈ 3 µs a token here). */
  max_blocks: z.number().int().min(1).max(65_536).default(256),
});

export type KvEventsConfig = z.infer<typeof kvEventsSchema>;
