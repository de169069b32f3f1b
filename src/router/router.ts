// The Router (the Gateway API Inference Extension calls it a Director): the one owner of
// a request from its decision to its outcome. Every caller goes through it: the ext_proc
// phases, POST /v1/route/explain, `kvfleet explain`, the virtual benchmark, warm-up.
//   admit(input, meta)   whether: the data class and PII findings (core/policy/classify.ts),
//                        block / deny rules / the tenant's allowed classes (403), redaction
//   route(admission)     where: decide (pure core) → commit what it teaches the learned state →
//                        hold an in-flight slot on the primary → keep it in the /debug ring
//   explain(input, meta) admit + decide only: nothing recorded, nothing held
//   observe(routed, r)   the response: live endpoint state (circuits, cooldowns; fleet/outcomes)
//                        and learned state (prefix index / session of the endpoint that
//                        served, bandit reward; core/learn.ts); the slot follows the server
//   retain(fleet)        after a fleet reload: forget endpoints and models that left
// Tenants, policy, limits and usage plug in here, around decide().
import type { Fleet, FleetTenant } from '../config/fleet.js';
import { kvError, type KvError } from '../errors.js';
import type { Overrides } from '../request/headers.js';
import { redactInput } from '../request/redact-body.js';
import type { RequestInput } from '../request/types.js';
import { decide } from '../core/decide.js';
import { classify } from '../core/policy/classify.js';
import { commitDecision, learnOutcome } from '../core/learn.js';
import { DecisionRing } from '../core/learned/decision-ring.js';
import { createLearnedState, retainLearned, type LearnedState } from '../core/learned/learned-state.js';
import { fleetEndpoints } from '../core/membership.js';
import type { Decision, LiveView, RequestPolicy } from '../core/types.js';
import type { LiveEndpoints } from '../fleet/live-endpoints.js';
import { applyOutcome, type OutcomeEffects } from '../fleet/outcomes.js';
import { InflightLease } from './lease.js';

/** Who is asking, from the request headers (request/headers.ts RequestMeta, request/identity.ts). */
export interface RouteMeta {
  readonly sessionId: string | undefined;
  readonly overrides: Overrides;
  /** The tenant identity resolved (undefined: the fleet has no tenants, or none applies). */
  readonly tenant?: FleetTenant | undefined;
  /** x-kvfleet-data-class, as sent. */
  readonly dataClass?: string | undefined;
}

/** A request the policy lets through, as it will be routed (redacted when a detector says so). */
export interface Admission {
  readonly requestId: string;
  readonly fleet: Fleet;
  readonly input: RequestInput;
  readonly meta: RouteMeta;
  readonly policy: RequestPolicy;
  /** Monotonic ms when kvfleet started on this request (before the body was parsed, when the caller says). */
  readonly startedAt: number;
  /** The policy refuses the request (403): a `block` detector, a `deny` rule, a class the tenant may not send. */
  readonly refusal: KvError | undefined;
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
  readonly admission: Admission;
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

  /**
   * Whether the request may go anywhere, and as what: its class and PII findings, then
   * 403 policy_denied for a `block` detector, a `deny` rule or a class the tenant may not
   * send; `redact` detectors' values are replaced in the input that will be routed.
   */
  admit(requestId: string, input: RequestInput, meta: RouteMeta, startedAt: number = this.deps.now()): Admission {
    const fleet = this.deps.fleet();
    const policy = fleet.policy;
    let headerClass: number | undefined;
    if (meta.dataClass !== undefined) {
      headerClass = policy.classIndex.get(meta.dataClass);
      if (headerClass === undefined)
        throw kvError('invalid_header', { header: 'x-kvfleet-data-class', problem: `must be one of ${policy.classes.join(', ')}` });
    }
    const tenant = meta.tenant;
    const c = classify(
      input.segments.map((s) => s.text),
      policy,
      tenant,
      headerClass,
    );
    const deny = c.rules.find((r) => r.deny);
    const className = policy.classes[c.dataClass] ?? String(c.dataClass);
    const refusal =
      c.blockedBy !== undefined
        ? kvError('policy_denied', { why: 'detector', detector: c.blockedBy })
        : deny !== undefined
          ? kvError('policy_denied', { why: 'rule', rule: deny.name })
          : tenant !== undefined && (tenant.classMask & (1 << c.dataClass)) === 0
            ? kvError('policy_denied', { why: 'class', dataClass: className, tenant: tenant.id })
            : undefined;
    return {
      requestId,
      fleet,
      meta,
      input: refusal === undefined && c.redact.size > 0 ? redactInput(input, c.redact) : input,
      policy: { tenant, dataClass: c.dataClass, rules: c.rules, detected: c.detected, redacted: [...c.redact] },
      refusal,
      startedAt,
    };
  }

  /** Admit and decide without recording anything (explain). */
  explain(requestId: string, input: RequestInput, meta: RouteMeta, o: RouteOptions = {}): { decision: Decision; decisionUs: number } {
    const started = this.deps.now();
    const a = this.admit(requestId, input, meta);
    if (a.refusal !== undefined) throw a.refusal;
    const decision = this.decide(a, o.view ?? this.deps.live, started);
    return { decision, decisionUs: (this.deps.now() - started) * 1000 };
  }

  /** Decide, commit, and hold the primary's in-flight slot. Throws KvError when no decision is possible. */
  route(a: Admission, o: RouteOptions = {}): Routed {
    if (a.refusal !== undefined) throw a.refusal;
    const fleet = a.fleet;
    const view = o.view ?? this.deps.live;
    const started = this.deps.now();
    const decision = this.decide(a, view, started);
    commitDecision(this.state, decision, view, fleet.affinity, started);
    this.decisions.put(a.requestId, decision);
    const lease = new InflightLease(this.deps.endpoints, decision.endpoints[0] as string);
    const decidedAt = this.deps.now();
    // From the start of the request's processing (body parse, policy) to the decision.
    return { decision, admission: a, fleet, decidedAt, decisionUs: (decidedAt - Math.min(started, a.startedAt)) * 1000, lease };
  }

  /** The response to a routed request: what it teaches about endpoints and models. */
  observe(routed: Routed, r: ResponseReport): Observed {
    const now = this.deps.now();
    const d = routed.decision;
    // A hosted provider's virtual endpoint stands for whichever address Envoy's LB chose.
    const served = d.model.virtualEndpoint && r.served !== undefined ? d.endpoints[0] : r.served;
    if (served !== undefined) routed.lease.moveTo(served);
    const upstreamMs = now - routed.decidedAt;
    const endpoints = this.deps.endpoints;
    const effects =
      endpoints === undefined
        ? undefined
        : applyOutcome(
            endpoints,
            {
              status: r.status,
              served,
              attempts: r.attempts,
              offered: d.endpoints,
              ttfbMs: upstreamMs,
              headers: r.headers,
              now,
              wallNow: Date.now(),
            },
            routed.fleet.file.health,
          );
    learnOutcome(this.state, routed.fleet, this.deps.live, d, { status: r.status, servedEndpoint: served, latencyMs: upstreamMs }, now);
    return { effects, upstreamMs };
  }

  /** After a fleet reload: learned state keeps only what the new fleet still has. */
  retain(fleet: Fleet): void {
    retainLearned(this.state, fleetEndpoints(fleet.models, this.deps.live), new Set(fleet.models.map((m) => m.name)));
  }

  private decide(a: Admission, live: LiveView, now: number): Decision {
    return decide(
      { requestId: a.requestId, sessionId: a.meta.sessionId, overrides: a.meta.overrides, input: a.input, policy: a.policy },
      { fleet: a.fleet, live, state: this.state, now },
    );
  }
}
