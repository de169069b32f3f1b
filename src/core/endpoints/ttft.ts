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
import type { AffinityConfig } from '../../config/routing-schema.js';
import type { EngineLoad } from '../types.js';

/** Estimated queueing delay before the prefill starts, ms. */
export function waitMsOf(inflight: number, engine: EngineLoad | undefined, stale: boolean, waitScale: number, a: AffinityConfig): number {
  let wait = a.wait_ms_per_request * Math.max(inflight, engine?.running ?? 0);
  if (engine !== undefined) {
    wait += a.wait_ms_per_queued * engine.waiting;
    if (engine.kvUsage >= a.kv_full_threshold) wait += a.kv_full_penalty_ms;
  }
  if (stale) wait += a.stale_penalty_ms;
  return wait * waitScale;
}

/** Prefill time of the tokens not already cached, ms. */
export function prefillMsOf(promptTokens: number, matchedBlocks: number, blockTokens: number, a: AffinityConfig): number {
  return (a.prefill_us_per_token * Math.max(0, promptTokens - matchedBlocks * blockTokens)) / 1000;
}
