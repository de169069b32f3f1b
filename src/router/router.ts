// The Router (the Gateway API Inference Extension calls it a Director): the one owner of
// a request from its decision to its outcome. Every caller goes through it: the ext_proc
// phases, POST /v1/route/explain, `kvfleet explain`, the access log service, the virtual
// benchmark, warm-up.
//   admit(input, meta)   whether: the data class and PII findings (core/policy/classify.ts),
//                        block / deny rules / the tenant's allowed classes (403), redaction
//   route(admission)     where: decide (pure core) → commit what it teaches the learned state →
//                        hold an in-flight slot on the primary → keep it in the /debug ring →
//                        track it under a decision key until its end (request-ends.ts)
//   explain(input, meta) admit + decide only: nothing recorded, nothing held
//   ended(event)         Envoy's access log: the end of a request, one upstream attempt, a long
//                        stream still running (request-ends.ts)
//   retain(fleet)        after a fleet reload: forget endpoints and models that left
// Tenants, policy, limits and usage plug in here, around decide().
import type { Fleet, Model } from '../config/fleet.js';
import type { ModelTraffic } from '../fleet/model-traffic.js';
import { kvError } from '../errors.js';
import { redactInput } from '../core/policy/redact-input.js';
import type { RequestInput } from '../request/types.js';
import { decide } from '../core/decide.js';
import { classify } from '../core/policy/classify.js';
import { commitDecision } from '../core/learn.js';
import { DecisionRing } from '../core/learned/decision-ring.js';
import { createLearnedState, retainLearned, type LearnedState } from '../core/learned/learned-state.js';
import type { Decision, LiveView, PreciseLookup } from '../core/types.js';
import { randomBytes } from 'node:crypto';
import { deserializeEvent, serializeEvent, type AccessLogEvent } from './log-event.js';
import type { LiveEndpoints } from '../fleet/live-endpoints.js';
import type { OutcomeEffects } from '../fleet/outcomes.js';
import { InflightLease } from './lease.js';
import type { RequestReport } from './report.js';
import { RequestEnds, type RequestEnd } from './request-ends.js';
import type { Admission, RouteMeta, Routed } from './routed.js';

export type { Admission, RouteMeta, Routed } from './routed.js';
import { planUsage, type AdmitOutcome, type BudgetCheck, type UsagePlan } from '../core/limits/plan.js';
import type { TokenUsage } from '../core/limits/cost.js';
import type { MeterReading } from '../core/limits/meter-reading.js';
import type { Signal, Signals } from '../state/signals.js';
import { FlowControl } from './flow-control.js';
import { HeadroomCache } from './headroom.js';
import { poolSaturated } from '../core/limits/saturation.js';
import { endpointsOf, fleetEndpoints } from '../core/membership.js';
import type { Priority } from '../config/names.js';
import { MemoryUsageStore } from '../state/memory-usage.js';
import type { UsageStore } from '../state/usage-store.js';
import { isPromise, andThen } from './maybe-async.js';
import { denial, downgradable } from './usage-gate.js';

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
  /** One line per routed request, at its end (or when its end is given up on). */
  readonly report?: ((r: RequestReport) => void) | undefined;
  /** What an outcome taught about endpoints (failures, cooldowns, circuits): metrics and logs. */
  readonly onOutcome?: ((e: OutcomeEffects) => void) | undefined;
  /** Budgets, rate windows and usage (default: this process's memory). */
  readonly usage?: UsageStore | undefined;
  /** Wall-clock ms (budget windows are UTC days and months). */
  readonly wallNow?: (() => number) | undefined;
  /** A metered request's usage is known (metrics). */
  readonly onUsage?: ((routed: Routed, actual: TokenUsage, usd: number, reported: boolean) => void) | undefined;
  /** Flow control shed a request of this priority (metrics). */
  readonly onShed?: ((priority: Priority) => void) | undefined;
  /** A budget crossed its alert_at share in this window (told once per window and instance). */
  readonly onBudgetAlert?: ((c: BudgetCheck, spentShare: number) => void) | undefined;
  /** Requests per model, in flight per model (GET /models/stats; the sleep controller). */
  readonly traffic?: ModelTraffic | undefined;
  /** Sleeping models: a request waits for its model to wake (fleet/sleep-controller.ts). */
  readonly wake?: ModelWake | undefined;
  /** Precise prefix index from KV events (fleet/kv-events/kv-index.ts): read by decide(), told where requests went. */
  readonly kvIndex?: { readonly lookup: PreciseLookup; routed(model: Model, endpoint: string, input: RequestInput): void } | undefined;
}

/** What the Router needs of the sleep controller. */
export interface ModelWake {
  /** true: the model is awake; else resolves when it is, rejects with 503 model_waking. */
  ready(model: Model, signal?: () => AbortSignal): true | Promise<void>;
  /** How long `ready` may hold a request for `model` (ms). */
  holdMs(model: Model): number;
  /** Another instance put a model to sleep or woke it. */
  adopt(model: string, state: 'sleeping' | 'awake'): void;
}

export interface RouteOptions {
  /** The live view for this request (e.g. narrowed to the proxy's subset hint). */
  readonly view?: LiveView | undefined;
  /** Aborts a wait in flow control or for a waking model (the client went away); made when a wait needs it. */
  readonly signal?: (() => AbortSignal) | undefined;
  /** Flow control or a waking model holds the request up to `ms` (BUFFERED mode extends Envoy's message timer). */
  readonly onHold?: ((ms: number) => void) | undefined;
  /** Released by flow control: route now, do not wait again. */
  readonly released?: boolean | undefined;
  /** Its model woke for it: route now. */
  readonly woken?: boolean | undefined;
}

export class Router {
  readonly state: LearnedState;
  /** The last routing.decision_ring decisions, by request id (GET /debug/decisions/{id}). */
  readonly decisions: DecisionRing<Decision>;
  /** Routed requests until their end (Envoy's access log). */
  readonly ends: RequestEnds;
  /** This process's prefix of decision keys. */
  readonly instance = randomBytes(4).toString('hex');
  /** Budgets, rate windows, usage. */
  readonly usage: UsageStore;
  /** Priority lanes for saturated pools (flow_control). */
  readonly flow: FlowControl;
  private seq = 0;
  private signals: Signals | undefined;
  private readonly alerted = new Set<string>();
  private readonly headroom = new HeadroomCache();
  private readonly touched = new Map<string, number>();

  constructor(private readonly deps: RouterDeps) {
    const fleet = deps.fleet();
    this.state = deps.state ?? createLearnedState(fleet);
    this.usage = deps.usage ?? new MemoryUsageStore(deps.wallNow);
    this.decisions = new DecisionRing(fleet.routing.decision_ring);
    this.flow = new FlowControl({
      config: () => this.deps.fleet().usage.flowControl,
      now: deps.now,
      saturated: (pool, priority) => this.saturated(pool, priority),
      onShed: deps.onShed,
    });
    this.ends = new RequestEnds(
      {
        state: this.state,
        live: deps.live,
        endpoints: deps.endpoints,
        fleet: deps.fleet,
        now: deps.now,
        report: deps.report,
        onOutcome: (e) => this.outcome(e),
        usage: this.usage,
        instance: this.instance,
        wallNow: () => this.wallNow(),
        onUsage: deps.onUsage,
      },
      fleet.server.max_pending_requests,
      fleet.server.inflight_ttl_seconds * 1000,
    );
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

  /** Decide an admitted request without recording anything (shadow traffic decides its copies with it: router/shadow/). */
  decideAdmitted(a: Admission, view: LiveView = this.deps.live): Decision {
    return this.decide(a, view, this.deps.now());
  }

  /**
   * Decide, check and charge the usage limits (a promise only when the store is Redis), then
   * commit and hold the primary's in-flight slot. Throws (or rejects with) a KvError when no
   * decision is possible or a limit refuses; a refused request teaches nothing.
   */
  route(a: Admission, o: RouteOptions = {}): Routed | Promise<Routed> {
    if (a.refusal !== undefined) throw a.refusal;
    const view = o.view ?? this.deps.live;
    const started = this.deps.now();
    const decision = this.decide(a, view, started);
    const wake = this.deps.wake;
    if (wake !== undefined && o.woken !== true) {
      // A sleeping model: held until it is awake (one wake for every request), then decided again.
      const ready = wake.ready(decision.model, o.signal);
      if (ready !== true) {
        o.onHold?.(wake.holdMs(decision.model));
        return ready.then(() => this.route(a, { ...o, woken: true }));
      }
    }
    if (o.released !== true && a.fleet.usage.flowControl.enabled && this.saturated(decision.model.cluster, decision.priority, view)) {
      o.onHold?.(a.fleet.usage.flowControl.max_queue_ms);
      const tenant = a.policy.tenant?.id ?? '';
      return this.flow.wait(decision.model.cluster, tenant, decision.priority, o.signal?.()).then(() => this.route(a, { ...o, released: true }));
    }
    const plan = this.plan(a, decision);
    if (plan === undefined || plan.checks.length === 0) return this.commit(a, decision, view, started, plan, undefined);
    return andThen(this.usage.admit(plan), (out) => this.admitted(a, decision, view, started, plan, out));
  }

  /** route(), for callers that cannot wait (benchmarks over the memory store): throws when routing would wait. */
  routeNow(a: Admission, o: RouteOptions = {}): Routed {
    const r = this.route(a, o);
    if (isPromise(r)) throw new Error('routing waits on the usage store or flow control: use route()');
    return r;
  }

  /** The store's verdict: commit, downgrade (an exhausted budget that asks for it) or refuse. */
  private admitted(a: Admission, decision: Decision, view: LiveView, started: number, plan: UsagePlan, out: AdmitOutcome): Routed | Promise<Routed> {
    const onUnavailable = a.fleet.usage.state.on_unavailable;
    this.headroom.record(out, this.wallNow());
    if (!out.allowed && !out.unavailable && downgradable(out)) {
      // The cheapest model the tenant and the policy allow: `auto` under cost_first.
      const cheaper: Admission = {
        ...a,
        input: { ...a.input, model: 'auto' },
        meta: { ...a.meta, overrides: { ...a.meta.overrides, strategy: 'cost_first' } },
      };
      const d = this.decide(cheaper, view, started);
      const downgraded: Decision = { ...d, reasons: [...d.reasons, `budget-downgrade:${d.model.name}`] };
      const p = this.plan(a, downgraded, true) ?? plan;
      return andThen(this.usage.admit(p), (o2) => {
        const refused = denial(o2, onUnavailable);
        if (refused !== undefined) throw refused;
        return this.commit(a, downgraded, view, started, p, o2);
      });
    }
    const refused = denial(out, onUnavailable);
    if (refused !== undefined) throw refused;
    return this.commit(a, decision, view, started, plan, out);
  }

  /** What this request spends against which limits (undefined when the fleet meters and limits nothing). */
  private plan(a: Admission, d: Decision, downgraded = false): UsagePlan | undefined {
    const fleet = a.fleet;
    if (!fleet.usage.limited && fleet.usage.metering.mode !== 'all') return undefined;
    return planUsage({
      fleet,
      model: d.model,
      tenant: a.policy.tenant,
      promptTokens: d.prompt.tokens,
      maxOutputTokens: a.input.maxOutputTokens,
      wallNow: this.wallNow(),
      downgraded,
    });
  }

  private commit(a: Admission, decision: Decision, view: LiveView, started: number, plan: UsagePlan | undefined, usage: AdmitOutcome | undefined): Routed {
    const fleet = a.fleet;
    if (usage !== undefined) this.alerts(usage);
    commitDecision(this.state, decision, view, fleet.affinity, started);
    if (decision.endpoints[0] !== undefined) this.deps.kvIndex?.routed(decision.model, decision.endpoints[0], a.input);
    this.decisions.put(a.requestId, decision, this.wallNow());
    const lease = new InflightLease(this.deps.endpoints, decision.endpoints[0] as string, this.deps.traffic?.begin(decision.model.name));
    this.touch(decision.model.name);
    const decidedAt = this.deps.now();
    const key = `${this.instance}-${(++this.seq).toString(36)}`;
    // From the start of the request's processing (body parse, policy) to the decision.
    const routed: Routed = {
      key,
      decision,
      admission: a,
      fleet,
      decidedAt,
      decisionUs: (decidedAt - Math.min(started, a.startedAt)) * 1000,
      lease,
      plan,
      usage,
    };
    this.ends.track(key, routed);
    return routed;
  }

  /** Tell the other instances `model` has traffic (at most once a second each): their idle clocks restart. */
  private touch(model: string): void {
    const sig = this.signals;
    if (sig === undefined) return;
    const wall = this.wallNow();
    if (wall - (this.touched.get(model) ?? 0) < 1000) return;
    this.touched.set(model, wall);
    sig.publish({ t: 'touch', model });
  }

  /** Budgets past their alert_at share: told once per window (the key names the window). */
  private alerts(out: AdmitOutcome): void {
    for (const o of out.outcomes) {
      const c = o.check;
      if (c.kind !== 'budget' || this.alerted.has(c.key)) continue;
      const share = 1 - o.remaining / c.limit;
      if (share < c.alertAt) continue;
      if (this.alerted.size >= 10_000) this.alerted.clear();
      this.alerted.add(c.key);
      this.deps.onBudgetAlert?.(c, share);
    }
  }

  private wallNow(): number {
    return this.deps.wallNow?.() ?? Date.now();
  }

  /** An access log event from Envoy (request-ends.ts). */
  ended(e: AccessLogEvent): void {
    this.ends.handle(e);
    // A request ended: a held one may fit now.
    if (e.kind === 'end') this.flow.kick();
  }

  /** Whether every usable endpoint of the pool is over flow_control.saturation (for this priority). */
  private saturated(pool: string, priority: Priority, view: LiveView = this.deps.live): boolean {
    const fleet = this.deps.fleet();
    const model = fleet.models.find((m) => m.cluster === pool);
    if (model === undefined) return false;
    const fc = fleet.usage.flowControl;
    return poolSaturated(endpointsOf(model, view), view, fc.saturation, this.deps.now(), priority === 'low' ? 1 - fc.sheddable_reserve : 1);
  }

  /**
   * Share with the other kvfleet instances on the same backend (state/signals.ts): session
   * pins, cooldowns and circuits opened go out and come in; access log entries of requests
   * another instance routed go to it.
   */
  share(signals: Signals): void {
    if (!signals.shared) return;
    this.signals = signals;
    this.state.sessions.onPin = (session, endpoint, ttlMs) => signals.publish({ t: 'pin', session, endpoint, ttlMs });
    this.ends.forward = (owner, event) => {
      signals.publish({ t: 'end', owner, event: serializeEvent(event) });
      return true;
    };
    signals.subscribe((s, sentWall) => this.apply(s, sentWall));
    const capacity = this.deps.fleet().affinity.session_capacity;
    void signals.loadPins(capacity).then(
      (pins) => {
        const now = this.deps.now();
        for (const p of pins) this.state.sessions.adopt(p.session, p.endpoint, now, p.ttlMs);
      },
      () => undefined,
    );
  }

  private apply(s: Signal, sentWall: number): void {
    const now = this.deps.now();
    const late = Math.max(0, Date.now() - sentWall);
    const live = this.deps.endpoints;
    if (s.t === 'pin') this.state.sessions.adopt(s.session, s.endpoint, now, s.ttlMs - late);
    else if (s.t === 'cool') live?.coolDown(s.address, now + s.ms - late, s.reason);
    else if (s.t === 'open') live?.tripCircuit(s.address);
    else if (s.t === 'touch') this.deps.traffic?.touch(s.model, sentWall);
    else if (s.t === 'sleep') {
      if (s.state === 'sleeping' || s.state === 'awake') this.deps.wake?.adopt(s.model, s.state);
    } else if (s.owner !== this.instance) {
      return;
    } else if (s.t === 'meter') {
      const u = s.usage;
      const usage = u === null ? undefined : { promptTokens: u.promptTokens, completionTokens: u.completionTokens, cachedTokens: u.cachedTokens };
      this.ends.metered(s.key, { usage, chunks: s.chunks, streamed: s.streamed, complete: s.complete });
    } else {
      const e = deserializeEvent(s.event);
      if (e !== undefined) this.ends.handle(e);
    }
  }

  /** What an outcome taught: metrics and logs (deps), and the other instances. */
  private outcome(e: OutcomeEffects): void {
    this.deps.onOutcome?.(e);
    const sig = this.signals;
    if (sig === undefined) return;
    if (e.cooled !== undefined) sig.publish({ t: 'cool', address: e.cooled.address, ms: e.cooled.ms, reason: e.cooled.reason });
    for (const address of e.circuitsOpened) sig.publish({ t: 'open', address });
  }

  /** The meter's reading of a metered response (extproc/meter/): settled here, or by the instance that routed it. */
  metered(key: string, reading: MeterReading): void {
    const owner = key.split('-')[0];
    const sig = this.signals;
    if (sig !== undefined && owner !== undefined && owner !== this.instance) {
      const u = reading.usage;
      sig.publish({
        t: 'meter',
        owner,
        key,
        usage: u === undefined ? null : { promptTokens: u.promptTokens, completionTokens: u.completionTokens, cachedTokens: u.cachedTokens },
        chunks: reading.chunks,
        streamed: reading.streamed,
        complete: reading.complete,
      });
      return;
    }
    this.ends.metered(key, reading);
  }

  /**
   * A request routed after its client went away (it waited on limits or flow control): it
   * never leaves Envoy. Its slot is freed, its token reservation given back (the request
   * itself stays counted).
   */
  abandon(routed: Routed): void {
    if (!this.ends.take(routed.key)) return;
    routed.lease.release();
    if (routed.plan !== undefined)
      this.usage.settle({ plan: routed.plan, actual: { promptTokens: 0, completionTokens: 0 }, actualUsd: 0, wallNow: this.wallNow() });
  }

  /** A routed request ended (the virtual benchmark reports ends itself). */
  finish(routed: Routed, end: RequestEnd): void {
    if (this.ends.take(routed.key)) this.ends.finish(routed, end);
  }

  /** After a fleet reload: learned state keeps only what the new fleet still has. */
  retain(fleet: Fleet): void {
    retainLearned(this.state, fleetEndpoints(fleet.models, this.deps.live), new Set(fleet.models.map((m) => m.name)));
  }

  private decide(a: Admission, live: LiveView, now: number): Decision {
    const headroom = a.fleet.usage.limited ? (scope: 'model' | 'provider', id: string) => this.headroom.get(scope, id, this.wallNow()) : undefined;
    return decide(
      { requestId: a.requestId, sessionId: a.meta.sessionId, overrides: a.meta.overrides, input: a.input, policy: a.policy },
      { fleet: a.fleet, live, state: this.state, now, headroom, precise: this.deps.kvIndex?.lookup },
    );
  }
}
