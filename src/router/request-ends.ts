// What happens after kvfleet has answered: the end of each routed request, learned from
// Envoy's access log service (src/accesslog/) — never from the ext_proc stream, which kvfleet
// lets go of once it has routed (a kvfleet restart never cuts a response).
//   attempt   (router upstream_log) one try on one endpoint → its circuit, cooldown, latency
//   end       the request is over (a stream at its last byte): its in-flight slot is released;
//             the endpoint that served learns the prompt (prefix index, session pin) and the
//             model's bandit arm its reward; one report line. When no per-attempt entries
//             have arrived lately, the endpoints' health is inferred from the end alone
//             (served status, attempts > 1 → the earlier offered endpoints failed).
//   periodic  a long stream is still running: its slot stays (and after a kvfleet restart,
//             the slot is taken again on the endpoint that serves it)
// A routed request whose end never comes (kvfleet was down, the log service unreachable)
// is released after server.inflight_ttl_seconds without news (pending.ts).
// Metered requests (a budget or a token limit counts them) also wait for the meter's reading
// of their response (extproc/meter/): the usage replaces the reservation made at admission
// (usage store settle); a reading that never comes leaves the reservation charged.
import type { Fleet } from '../config/fleet.js';
import { learnOutcome } from '../core/learn.js';
import type { LearnedState } from '../core/learned/learned-state.js';
import type { LiveView } from '../core/types.js';
import type { LiveEndpoints } from '../fleet/live-endpoints.js';
import { applyAttempt, applyOutcome, type OutcomeEffects } from '../fleet/outcomes.js';
import type { AccessLogEvent } from './log-event.js';
import { InflightLease } from './lease.js';
import { PendingTable } from './pending.js';
import type { RequestReport } from './report.js';
import type { Routed } from './routed.js';
import { costUsd, type TokenUsage } from '../core/limits/cost.js';
import type { MeterReading } from '../core/limits/meter-reading.js';
import type { UsageStore } from '../state/usage-store.js';

/** What ended a routed request (from the access log, or a benchmark's simulation). */
export interface RequestEnd {
  /** 0 when no response came. */
  readonly status: number;
  readonly served: string | undefined;
  readonly attempts: number | undefined;
  /** Request start → first upstream byte, ms. */
  readonly ttfbMs: number | undefined;
  /** Request start → last byte to the client, ms. */
  readonly durationMs?: number | undefined;
  readonly headers: ReadonlyMap<string, string>;
}

interface Tracked {
  readonly routed: Routed | undefined;
  readonly lease: InflightLease;
}

export interface RequestEndsDeps {
  readonly state: LearnedState;
  readonly live: LiveView;
  readonly endpoints: LiveEndpoints | undefined;
  readonly fleet: () => Fleet;
  readonly now: () => number;
  readonly report?: ((r: RequestReport) => void) | undefined;
  readonly onOutcome?: ((e: OutcomeEffects) => void) | undefined;
  readonly usage: UsageStore;
  readonly wallNow: () => number;
  /** This process's prefix of decision keys (`<instance>-<seq>`). */
  readonly instance: string;
  /** A metered request's usage is known (metrics). */
  readonly onUsage?: ((routed: Routed, actual: TokenUsage, usd: number, reported: boolean) => void) | undefined;
}

/** Another owner of some requests' outcomes (RequestEnds.observer). */
export interface EndsObserver {
  event(e: AccessLogEvent): boolean;
  metered(key: string, r: MeterReading): boolean;
}

/** The fleet file's endpoints, per fleet (a reload makes a new one). */
const LISTED = new WeakMap<Fleet, ReadonlySet<string>>();

/** Per-attempt entries seen within this window: ends do not infer endpoint health themselves. */
const PER_ATTEMPT_WINDOW_MS = 60_000;

export class RequestEnds {
  private readonly pending: PendingTable<Tracked>;
  /** Metered requests awaiting the meter's reading of their response. */
  private readonly metering: PendingTable<Routed>;
  private perAttemptAt = -Infinity;
  /**
   * Hands an entry of a request another instance routed to that instance (shared state);
   * false: keep it here. Envoy streams its access log to one instance, whichever routed.
   */
  forward: ((owner: string, e: AccessLogEvent) => boolean) | undefined;
  /**
   * Sees every event and meter reading first (shadow traffic, router/shadow/): true = a request
   * it owns (a shadow), which the Router then leaves alone; false = carry on (it only watched).
   */
  observer: EndsObserver | undefined;

  constructor(
    private readonly deps: RequestEndsDeps,
    capacity: number,
    ttlMs: number,
  ) {
    this.pending = new PendingTable<Tracked>(capacity, ttlMs, (t) => this.drop(t));
    this.metering = new PendingTable<Routed>(capacity, ttlMs, () => undefined);
  }

  /** Requests routed and not ended yet. */
  get inflight(): number {
    return this.pending.size;
  }

  track(key: string, routed: Routed): void {
    const now = this.deps.now();
    this.pending.add(key, { routed, lease: routed.lease }, now);
    if (routed.plan?.meter === true) this.metering.add(key, routed, now);
  }

  /** The meter's reading of a metered response: settle its usage against the reservation. */
  metered(key: string, r: MeterReading): void {
    if (this.observer?.metered(key, r) === true) return;
    const routed = this.metering.take(key);
    const plan = routed?.plan;
    if (routed === undefined || plan === undefined) return;
    // No usage reported (not asked for, or the stream was cut): the prompt as estimated, one
    // token per generated chunk.
    const actual: TokenUsage = r.usage ?? { promptTokens: plan.estimate.promptTokens, completionTokens: r.chunks, cachedTokens: 0 };
    const usd = costUsd(routed.decision.model, actual);
    this.deps.usage.settle({ plan, actual, actualUsd: usd, wallNow: this.deps.wallNow() });
    this.deps.onUsage?.(routed, actual, usd, r.usage !== undefined);
  }

  /** One access log event. */
  handle(e: AccessLogEvent): void {
    const owner = e.key?.split('-')[0];
    if (owner !== undefined && owner !== this.deps.instance && e.kind !== 'other' && this.forward?.(owner, e) === true) return;
    if (this.observer?.event(e) === true) return;
    const now = this.deps.now();
    this.pending.expire(now);
    if (e.kind === 'attempt') {
      this.perAttemptAt = now;
      if (e.served !== undefined && this.deps.endpoints !== undefined && this.known(e.served)) {
        this.effects(
          applyAttempt(
            this.deps.endpoints,
            { endpoint: e.served, status: e.status, ttfbMs: e.ttfbMs, headers: e.headers, now, wallNow: Date.now() },
            this.deps.fleet().file.health,
          ),
        );
      }
      return;
    }
    if (e.kind === 'periodic') {
      if (e.key === undefined) return;
      this.metering.touch(e.key, now);
      const t = this.pending.touch(e.key, now);
      // The slot follows the endpoint that serves (a retry moved the request).
      if (t !== undefined) {
        if (e.served !== undefined && this.known(e.served)) t.lease.moveTo(e.served);
        return;
      }
      // Decided before a restart: take the slot again on the endpoint serving it.
      if (e.served !== undefined && this.known(e.served))
        this.pending.add(e.key, { routed: undefined, lease: new InflightLease(this.deps.endpoints, e.served) }, now);
      return;
    }
    if (e.kind !== 'end') return;
    const t = e.key !== undefined ? this.pending.take(e.key) : undefined;
    if (t?.routed !== undefined) this.finish(t.routed, e);
    else {
      t?.lease.release();
      // Routed before a restart (or by another kvfleet): the endpoints still teach something.
      if (e.key !== undefined && e.served !== undefined) this.health(e, e.offered, now);
    }
  }

  /** Stop tracking `key` (false when it was not tracked). */
  take(key: string): boolean {
    return this.pending.take(key) !== undefined;
  }

  /** A routed request ended: release its slot, learn, report. */
  finish(routed: Routed, end: RequestEnd): void {
    const now = this.deps.now();
    const d = routed.decision;
    // A hosted provider's virtual endpoint stands for whichever address its cluster chose.
    const served = d.model.virtualEndpoint && end.served !== undefined ? d.endpoints[0] : end.served;
    if (served !== undefined) routed.lease.moveTo(served);
    routed.lease.release();
    this.health({ ...end, served }, d.endpoints, now);
    const status = end.status > 0 ? end.status : undefined;
    learnOutcome(this.deps.state, routed.fleet, this.deps.live, d, { status, servedEndpoint: served, latencyMs: end.ttfbMs }, now);
    this.report(routed, { status: end.status, servedEndpoint: end.served, upstreamMs: end.ttfbMs, totalMs: end.durationMs });
  }

  /** Release what never ended, forget readings that never came (their reservation stays charged). */
  expire(): void {
    const now = this.deps.now();
    this.pending.expire(now);
    this.metering.expire(now);
  }

  private health(end: RequestEnd, offered: readonly string[], now: number): void {
    const live = this.deps.endpoints;
    if (live === undefined || now - this.perAttemptAt <= PER_ATTEMPT_WINDOW_MS) return;
    const served = end.served !== undefined && this.known(end.served) ? end.served : undefined;
    this.effects(
      applyOutcome(
        live,
        { status: end.status, served, attempts: end.attempts, offered, ttfbMs: end.ttfbMs, headers: end.headers, now, wallNow: Date.now() },
        this.deps.fleet().file.health,
      ),
    );
  }

  /** Only endpoints of the fleet (listed or discovered) get live state: bounded. */
  private known(address: string): boolean {
    if (this.deps.endpoints !== undefined ? this.deps.endpoints.has(address) : this.deps.live.endpoint(address) !== undefined) return true;
    const fleet = this.deps.fleet();
    let listed = LISTED.get(fleet);
    if (listed === undefined) LISTED.set(fleet, (listed = new Set(fleet.models.flatMap((m) => m.endpoints))));
    return listed.has(address);
  }

  private effects(e: OutcomeEffects): void {
    if (e.failed.length > 0 || e.cooled !== undefined || e.circuitsOpened.length > 0) this.deps.onOutcome?.(e);
  }

  /** An entry left without an end (expired, or pushed out by capacity): release, report without outcome. */
  private drop(t: Tracked): void {
    t.lease.release();
    if (t.routed !== undefined) this.report(t.routed, { status: undefined, servedEndpoint: undefined, upstreamMs: undefined, totalMs: undefined });
  }

  private report(
    routed: Routed,
    o: { status: number | undefined; servedEndpoint: string | undefined; upstreamMs: number | undefined; totalMs: number | undefined },
  ): void {
    const a = routed.admission;
    this.deps.report?.({
      requestId: a.requestId,
      api: a.input.api,
      decision: routed.decision,
      tenant: a.policy.tenant?.id,
      admission: a,
      error: undefined,
      decisionUs: routed.decisionUs,
      status: o.status,
      servedEndpoint: o.servedEndpoint,
      upstreamMs: o.upstreamMs,
      stream: a.input.stream,
      key: routed.key,
      totalMs: o.totalMs,
      metered: routed.plan?.meter === true,
    });
  }
}
