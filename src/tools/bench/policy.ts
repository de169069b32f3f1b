// What a routing policy sees in the virtual-time benchmark, and what it must answer.
// The same interface wraps the baselines (policies/*.ts) and kvfleet's own decide()
// (policies/kvfleet.ts), so every policy runs on the same replica model and workload.
import type { BenchRequest } from './workload.js';

/** A request as a policy sees it: the workload request plus its replica-side block keys. */
export interface RoutedRequest {
  readonly req: BenchRequest;
  /** Chained keys of the prompt's full blocks of `FleetView.blockTokens` tokens. */
  readonly keys: Float64Array;
}

/** Read-only view of the simulated fleet at decision time. Index = replica. */
export interface FleetView {
  readonly n: number;
  /** Requests routed to the replica and not completed (what a router counts itself). */
  readonly inflight: Int32Array;
  /** Engine-side: running and waiting (what a metrics scrape would report, exact here). */
  readonly running: Int32Array;
  readonly waiting: Int32Array;
  /** Replica KV blocks held by running requests, and the cache capacity in blocks. */
  readonly kvBlocksInUse: Int32Array;
  readonly cacheBlocks: number;
  readonly blockTokens: number;
  readonly maxConcurrency: number;
  /** `ip:port` of each replica (synthetic in virtual mode). */
  readonly addresses: readonly string[];
  /** Each replica's prefix cache, read-only: what its KV events would report (kv-index-bench.ts). */
  readonly caches?: ReadonlyArray<{ has(key: number): boolean }>;
}

export interface Policy {
  readonly name: string;
  /**
   * Primary replica first, then fallbacks, written to `out`; returns how many were written
   * (≥ 1). The simulation sends the request to out[0] (no failures are modelled, so the
   * fallbacks are never used).
   */
  pick(r: RoutedRequest, fleet: FleetView, now: number, out: Int32Array): number;
  /** The request routed to `replica` completed (first token at ttftMs after arrival). */
  onComplete?(r: RoutedRequest, replica: number, now: number, ttftMs: number): void;
}

export interface PolicyEnv {
  readonly replicas: number;
  readonly seed: number;
  readonly addresses: readonly string[];
  readonly blockTokens: number;
  readonly cacheBlocks: number;
  readonly maxConcurrency: number;
  readonly prefillUsPerToken: number;
  readonly charsPerToken: number;
}

/** Builds a fresh policy (fresh learned state) for one run. */
export interface PolicyFactory {
  readonly name: string;
  create(env: PolicyEnv): Policy;
}
