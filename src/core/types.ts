// Plain data the decision core reads and returns. No I/O, no clocks, no sockets.
import type { PromptTail } from './learned/conversation-tails.js';
import type { Fleet, FleetTenant, Model } from '../config/fleet.js';
import type { Domain, PiiAction, PiiDetector, Priority, ScoreDimension } from '../config/names.js';
import type { ResolvedRule } from '../config/policy.js';
import type { Overrides } from '../request/headers.js';
import type { RequestInput } from '../request/types.js';
import type { LearnedState } from './learned/learned-state.js';

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
  /** True when engine metrics are scraped but none is fresh (too old, or none yet): penalise, never read as idle. */
  readonly stale?: boolean | undefined;
  /** Monotonic ms until which the endpoint cools down (429 with retry-after); undefined when not cooling. */
  readonly coolUntil?: number | undefined;
}

/** Live state as the core sees it. Unknown endpoints are healthy with nothing in flight. */
export interface LiveView {
  /** `at`: a reading of clock() to judge the endpoint at (reading many endpoints at one instant); omitted, the view reads its clock itself. */
  endpoint(address: string, at?: number): EndpointView | undefined;
  /** The view's monotonic clock, ms, when it has one: read it once per pass over many endpoints. */
  clock?(): number;
  /**
   * Members of an Envoy cluster learned from discovery (Envoy admin /clusters), or undefined
   * when not known. Read it through core/membership.ts `endpointsOf(model, live)`. The array
   * keeps its identity until the member set changes (safe to memoise on).
   */
  members?(cluster: string): readonly string[] | undefined;
}

/** Who is asking and what the prompt is (core/policy/classify.ts), as the decision needs it. */
export interface RequestPolicy {
  readonly tenant: FleetTenant | undefined;
  /** Index into fleet.policy.classes. */
  readonly dataClass: number;
  /** Policy rules that apply to this request. */
  readonly rules: readonly ResolvedRule<Model>[];
  /** Detectors that fired, and the ones whose values were redacted (names only, never values). */
  readonly detected: readonly PiiDetector[];
  readonly redacted: readonly PiiDetector[];
}

export interface DecisionRequest {
  readonly requestId: string;
  readonly sessionId: string | undefined;
  readonly overrides: Overrides;
  readonly input: RequestInput;
  /** Tenant, data class and rules; undefined: no tenant, the default class, no rules. */
  readonly policy?: RequestPolicy | undefined;
}

/** The policy side of a decision, for x-kvfleet-policy / x-kvfleet-tenant and the explain API. */
export interface PolicySummary {
  readonly tenant: string | undefined;
  readonly dataClass: string;
  readonly detected: readonly PiiDetector[];
  /** The actions the detections took (route_private, redact), in detector order, distinct. */
  readonly actions: readonly PiiAction[];
  readonly rules: readonly string[];
}

export type AffinityKind = 'prefix' | 'session' | 'none';

export interface Affinity {
  readonly kind: AffinityKind;
  /** Matched share of the prompt's blocks (prefix) in 0..1; 1 for a session pin; 0 for none. */
  readonly score: number;
  /** Leading prompt blocks the primary endpoint is believed to hold. */
  readonly matchedBlocks: number;
}

export interface Rejection {
  readonly model: string;
  /** Short code: `no-vision`, `no-tools`, `no-json-mode`, `context-length`, `type:embedding`, `not-in-allow-list`, `no-healthy-endpoint`. */
  readonly reason: string;
}

/** One 0..1 score per dimension (config/names.ts SCORE_DIMENSIONS). */
export type Scores = Readonly<Record<ScoreDimension, number>>;

/** One endpoint of a candidate model as the decision saw it. */
export interface EndpointEstimate {
  readonly address: string;
  readonly healthy: boolean;
  /** Rate-limited (coolUntil in the future): avoided, offered last. */
  readonly cooling: boolean;
  /** Engine metrics too old: treated as unknown and penalised. */
  readonly stale: boolean;
  readonly inflight: number;
  /** Load used by the CHWBL bound: max(in-flight, engine running + waiting) when fresh engine metrics exist. */
  readonly load: number;
  readonly matchedBlocks: number;
  /** Estimated time to first token = queue wait + uncached prefill, ms. */
  readonly waitMs: number;
  readonly prefillMs: number;
  readonly ttftMs: number;
  /** Position in the CHWBL ring walk for this request's key (0 = the key's owner). */
  readonly ringRank: number;
}

/** One candidate model with its scores, in the strategy's rank order. */
export interface CandidateScore {
  readonly model: string;
  readonly scores: Scores;
  /** Weighted sum of the scores (the hybrid score), 0..1. */
  readonly total: number;
  /** The strategy's own score for this candidate, 0..1. */
  readonly strategyScore: number;
  readonly priceUsd: number;
  /** The model's best endpoint and its estimated TTFT. */
  readonly endpoint: string | undefined;
  readonly ttftMs: number | undefined;
}

export interface SessionInfo {
  readonly source: 'x-session-id' | 'user' | 'inferred';
  /** The endpoint the session was pinned to before this decision, if any (and of the chosen model). */
  readonly pinned: string | undefined;
  /** pinned: followed the pin; new: no pin yet; yield-unhealthy / yield-overloaded: pin abandoned, re-pinned. */
  readonly outcome: 'pinned' | 'new' | 'yield-unhealthy' | 'yield-overloaded';
}

/** What committing the decision (and later its outcome) teaches the state. Not rendered. */
export interface LearnPlan {
  /** Salted block keys of the chosen model, recorded in the primary endpoint's prefix index. */
  readonly keys: Float64Array;
  /** Whether the prompt's first block was already known to the index (undefined: shorter than a block). */
  readonly rootSeen: boolean | undefined;
  readonly sessionKey: string | undefined;
  /** affinity.infer_sessions: where the prompt ends, joining the conversation sessionKey. */
  readonly tail: PromptTail | undefined;
  /** Round-robin counters to advance. */
  readonly counters: readonly string[];
  /** exp3: the probability with which the chosen model was drawn. */
  readonly banditProb: number | undefined;
  readonly armCount: number;
  readonly estCostUsd: number;
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
  readonly priority: Priority;
  readonly policy: PolicySummary;
  /** Classified domain, when the strategy (semantic, domain, rules) needed it. */
  readonly domain: Domain | undefined;
  /** Candidates that passed the filters, best first. */
  readonly candidates: readonly CandidateScore[];
  /** Escalation order after the chosen model (candidates only: never a filtered model). */
  readonly fallbackModels: readonly string[];
  /**
   * The chosen model's endpoints as assessed: all of them in pools of up to 32; in bigger
   * pools the primary and fallbacks, then warm, unhealthy and cooling ones (bounded, so the
   * decision ring's memory does not grow with the pool).
   */
  readonly endpointDetails: readonly EndpointEstimate[];
  /** Endpoints the chosen model had at decision time. */
  readonly endpointCount: number;
  readonly session: SessionInfo | undefined;
  readonly prompt: { readonly tokens: number; readonly blocks: number };
  /** CHWBL load bound in effect for this decision. */
  readonly loadBound: number;
  readonly learn: LearnPlan;
}

export interface DecideContext {
  readonly fleet: Fleet;
  readonly live: LiveView;
  /** Bounded learned state: prefix index, session pins, bandit stats, counters, RNG. Read here; written by commitDecision. */
  readonly state: LearnedState;
  /** Monotonic ms (the same clock as EndpointView.coolUntil and session TTLs). */
  readonly now: number;
  /**
   * Room left in a model's or a provider account's rate windows, 0..1 (the lowest of its rpm
   * and tpm), as last known; undefined: no limit, or nothing known yet.
   */
  readonly headroom?: ((scope: 'model' | 'provider', id: string) => number | undefined) | undefined;
  /** Precise prefix matches from the engines' KV events, for models with kv_events (fleet/kv-events/kv-index.ts). */
  readonly precise?: PreciseLookup | undefined;
}

/** What the engines' KV events say one model's endpoints hold of this prompt. */
export interface PreciseMatch {
  /** precise: every endpoint's event stream is usable; partial: some are; fallback: none (approximate index). */
  readonly mode: 'precise' | 'partial' | 'fallback';
  /** Why some or all endpoints use the approximate index (a short code), when not precise. */
  readonly reason?: string | undefined;
  /** Endpoint → share (0..1) of the prompt's tokens held as leading blocks, for endpoints whose stream is usable. */
  readonly shares: ReadonlyMap<string, number>;
}

/** Computed on the request path (tokenize + hash; synchronous), undefined for models without kv_events. */
export type PreciseLookup = (model: Model, input: RequestInput) => PreciseMatch | undefined;
