// The Router (the Gateway API Inference Extension calls it a Director): the one owner of
// a request from its decision to its outcome. Every caller goes through it: the ext_proc
// phases, POST /v1/route/explain, `kvfleet explain`, the virtual benchmark, warm-up.
//   route(input, meta)   decide (pure core) → commit what it teaches the learned state →
//                        hold an in-flight slot on the primary → keep it in the /debug ring
//   explain(input, meta) decide only: nothing recorded, nothing held
//   observe(routed, r)   the response: live endpoint state (circuits, cooldowns; fleet/outcomes)
//                        and learned state (prefix index / session of the endpoint that
//                        served, bandit reward; core/learn.ts); the slot follows the server
//   retain(fleet)        after a fleet reload: forget endpoints and models that left
// Tenants, policy, limits and usage plug in here, around decide().
import type { Fleet } from '../config/fleet.js';
import type { Overrides } from '../request/headers.js';
import type { RequestInput } from '../request/types.js';
import { decide } from '../core/decide.js';
import { commitDecision, learnOutcome } from '../core/learn.js';
import { DecisionRing } from '../core/learned/decision-ring.js';
import { createLearnedState, retainLearned, type LearnedState } from '../core/learned/learned-state.js';
import { fleetEndpoints } from '../core/membership.js';
import type { Decision, LiveView } from '../core/types.js';
import type { LiveEndpoints } from '../fleet/live-endpoints.js';
import { applyOutcome, type OutcomeEffects } from '../fleet/outcomes.js';
import { InflightLease } from './lease.js';

/** Who is asking, from the request headers (request/headers.ts RequestMeta has these). */
export interface RouteMeta {
  readonly sessionId: string | undefined;
  readonly overrides: Overrides;
}

export interface RouterDeps {
  readonly fleet: () => Fleet;
  /** What the decision reads about endpoints. */
  readonly live: LiveView;
  /** The writable live state (in-flight counts, circuits, cooldowns); absent: nothing is held or learned about endpoints. */
  readonly endpoints?: LiveEndpoints | undefined;
  /** Learned state; a fresh one for the initial fleet when absent. */
  readonly state?: LearnedState | undefined;
  /** Monotonic milliseconds. */
  readonly now: () => number;
}

export interface RouteOptions {
  /** The live view for this request (e.g. narrowed to the proxy's subset hint). */
  readonly view?: LiveView | undefined;
}

export interface Routed {
  readonly decision: Decision;
  /** The fleet the decision was made on (a reload does not change an answer in flight). */
  readonly fleet: Fleet;
  /** Monotonic ms when the decision was made, and how long it took (µs). */
  readonly decidedAt: number;
  readonly decisionUs: number;
  readonly lease: InflightLease;
}

/** What Envoy reported about the response. */
export interface ResponseReport {
  readonly status: number | undefined;
  /** The endpoint that actually served (after retries). */
  readonly served: string | undefined;
  readonly attempts: number | undefined;
  readonly headers: ReadonlyMap<string, string>;
}

export interface Observed {
  readonly effects: OutcomeEffects | undefined;
  /** Decision → response headers, ms. */
  readonly upstreamMs: number;
}

export class Router {
  readonly state: LearnedState;
  /** The last routing.decision_ring decisions, by request id (GET /debug/decisions/{id}). */
  readonly decisions: DecisionRing<Decision>;

  constructor(private readonly deps: RouterDeps) {
    const fleet = deps.fleet();
    this.state = deps.state ?? createLearnedState(fleet);
    this.decisions = new DecisionRing(fleet.routing.decision_ring);
  }

  fleet(): Fleet {
    return this.deps.fleet();
  }

  get live(): LiveView {
    return this.deps.live;
  }

  now(): number {
    return this.deps.now();
  }

  /** Decide without recording anything (explain). */
  explain(requestId: string, input: RequestInput, meta: RouteMeta, o: RouteOptions = {}): { decision: Decision; decisionUs: number } {
    const started = this.deps.now();
    const decision = this.decide(requestId, input, meta, this.deps.fleet(), o.view ?? this.deps.live, started);
    return { decision, decisionUs: (this.deps.now() - started) * 1000 };
  }

  /** Decide, commit, and hold the primary's in-flight slot. Throws KvError when no decision is possible. */
  route(requestId: string, input: RequestInput, meta: RouteMeta, o: RouteOptions = {}): Routed {
    const fleet = this.deps.fleet();
    const view = o.view ?? this.deps.live;
    const started = this.deps.now();
    const decision = this.decide(requestId, input, meta, fleet, view, started);
    commitDecision(this.state, decision, view, fleet.affinity, started);
    this.decisions.put(requestId, decision);
    const lease = new InflightLease(this.deps.endpoints, decision.endpoints[0] as string);
    const decidedAt = this.deps.now();
    return { decision, fleet, decidedAt, decisionUs: (decidedAt - started) * 1000, lease };
  }

  /** The response to a routed request: what it teaches about endpoints and models. */
  observe(routed: Routed, r: ResponseReport): Observed {
    const now = this.deps.now();
    const d = routed.decision;
    if (r.served !== undefined) routed.lease.moveTo(r.served);
    const upstreamMs = now - routed.decidedAt;
    const endpoints = this.deps.endpoints;
    const effects =
      endpoints === undefined
        ? undefined
        : applyOutcome(
            endpoints,
            {
              status: r.status,
              served: r.served,
              attempts: r.attempts,
              offered: d.endpoints,
              ttfbMs: upstreamMs,
              headers: r.headers,
              now,
              wallNow: Date.now(),
            },
            routed.fleet.file.health,
          );
    learnOutcome(this.state, routed.fleet, this.deps.live, d, { status: r.status, servedEndpoint: r.served, latencyMs: upstreamMs }, now);
    return { effects, upstreamMs };
  }

  /** After a fleet reload: learned state keeps only what the new fleet still has. */
  retain(fleet: Fleet): void {
    retainLearned(this.state, fleetEndpoints(fleet.models, this.deps.live), new Set(fleet.models.map((m) => m.name)));
  }

  private decide(requestId: string, input: RequestInput, meta: RouteMeta, fleet: Fleet, live: LiveView, now: number): Decision {
    return decide({ requestId, sessionId: meta.sessionId, overrides: meta.overrides, input }, { fleet, live, state: this.state, now });
  }
}
