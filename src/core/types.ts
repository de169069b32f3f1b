// Plain data the decision core reads and returns. No I/O, no clocks, no sockets.
import type { Model, Fleet } from '../fleet/fleet.js';
import type { Overrides } from '../request/headers.js';
import type { RequestInput } from '../request/types.js';

/** Engine-reported load of one endpoint (scraped off the request path). */
export interface EngineLoad {
  readonly running: number;
  readonly waiting: number;
  /** KV cache usage, 0..1. */
  readonly kvUsage: number;
  /** KV capacity in blocks and the block size in tokens, when the engine reports them. */
  readonly capacityBlocks: number | undefined;
  readonly blockTokens: number | undefined;
}

/** What the core may know about one endpoint right now (a snapshot). */
export interface EndpointView {
  /** Requests kvfleet has sent there that have not completed. */
  readonly inflight: number;
  /** False when Envoy ejected it, its health check fails, or kvfleet's own circuit is open. */
  readonly healthy: boolean;
  /** Fresh engine metrics; undefined when never scraped or stale (stale ≠ idle). */
  readonly engine?: EngineLoad | undefined;
  /** True when engine metrics exist but are older than the staleness limit: penalise, never read as idle. */
  readonly stale?: boolean | undefined;
  /** Monotonic ms until which the endpoint cools down (429 with retry-after); undefined when not cooling. */
  readonly coolUntil?: number | undefined;
}

/** Live state as the core sees it. Unknown endpoints are healthy with nothing in flight. */
export interface LiveView {
  endpoint(address: string): EndpointView | undefined;
}

export interface DecisionRequest {
  readonly requestId: string;
  readonly sessionId: string | undefined;
  readonly overrides: Overrides;
  readonly input: RequestInput;
}

export type AffinityKind = 'prefix' | 'session' | 'none';

export interface Affinity {
  readonly kind: AffinityKind;
  /** Matched share of the prompt (prefix) in 0..1; 1 for a session pin. */
  readonly score: number;
}

export interface Rejection {
  readonly model: string;
  readonly reason: string;
}

export interface Decision {
  readonly requestId: string;
  readonly model: Model;
  /** Primary endpoint first, then fallbacks, all `ip:port`. Never empty. */
  readonly endpoints: readonly string[];
  readonly strategy: string;
  /** 0..1, the chosen candidate's score under the strategy. */
  readonly score: number;
  readonly affinity: Affinity;
  /** Short codes, in order of importance: `prefix-hit`, `load-ok`, `alias:auto`. */
  readonly reasons: readonly string[];
  readonly rejected: readonly Rejection[];
}

export interface DecideContext {
  readonly fleet: Fleet;
  readonly live: LiveView;
  /** Mutable per-process counters owned by the caller (round-robin positions). */
  readonly counters: Map<string, number>;
}
