// Estimated time to first token of a request on one endpoint: the overlap-vs-load
// trade-off (cf. NVIDIA Dynamo's KV router cost), in milliseconds.
//   uncached  = max(0, promptTokens − matchedBlocks · blockTokens)
//   prefill   = prefill_us_per_token · uncached / 1000
//   wait      = waitScale · (wait_ms_per_request · max(inflight, running)
//                            + wait_ms_per_queued · waiting
//                            + kv_full_penalty_ms   if kvUsage ≥ kv_full_threshold
//                            + stale_penalty_ms     if engine metrics are stale)
//   ttft      = wait + prefill
// waitScale comes from the request priority (priority.ts): high 1.5, normal 1, low 0.5.
// A warm replica saves prefill; a swamped one adds wait: whichever is faster wins.
import type { AffinityConfig } from '../../fleet/routing-schema.js';
import type { EngineLoad } from '../types.js';

export interface TtftInput {
  readonly promptTokens: number;
  readonly matchedBlocks: number;
  readonly blockTokens: number;
  readonly inflight: number;
  /** Fresh engine metrics, or undefined (never scraped, or stale). */
  readonly engine: EngineLoad | undefined;
  readonly stale: boolean;
  readonly waitScale: number;
}

export function estimateTtft(i: TtftInput, a: AffinityConfig): { waitMs: number; prefillMs: number; ttftMs: number } {
  const uncached = Math.max(0, i.promptTokens - i.matchedBlocks * i.blockTokens);
  const prefillMs = (a.prefill_us_per_token * uncached) / 1000;
  let wait = a.wait_ms_per_request * Math.max(i.inflight, i.engine?.running ?? 0);
  if (i.engine !== undefined) {
    wait += a.wait_ms_per_queued * i.engine.waiting;
    if (i.engine.kvUsage >= a.kv_full_threshold) wait += a.kv_full_penalty_ms;
  }
  if (i.stale) wait += a.stale_penalty_ms;
  const waitMs = wait * i.waitScale;
  return { waitMs, prefillMs, ttftMs: waitMs + prefillMs };
}
