// Shadow traffic (fleet file `shadow:`; README "Shadow traffic"): a sampled share of the
// requests routed to a model is also sent to candidate models, by Envoy's request mirroring,
// and the outcomes of both sides are compared per (model, candidate) pair.
//   mirror(routed)   the primary's pass: one draw against sample_rate; each candidate the
//                    policy lets see the request gets a slot; the request gets a one-time token
//                    (122 random bits) that its mirrored copies carry back through Envoy's
//                    listener, and a meter (its token usage is read like a metered request's)
//   claim(token, n)  a copy arrives (ext_proc again): slot n of that token, once; unknown,
//                    expired or already used → undefined (the copy is refused, never routed)
//   route(claim, …)  the copy goes to its candidate: decided like a request naming it (the
//                    primary's tenant, data class and rules; no session: a shadow never moves a
//                    conversation's pin), its prefix learned on the candidate's replica, an
//                    in-flight slot held there until its end. Not counted in the tenant's
//                    usage, limits or budget, never held by flow control, not in the decision
//                    metrics or the /debug ring: its cost is reported as the shadow's.
//   event / metered  Envoy's access log and the meter (RequestEnds.observer): ends (status, time
//                    to the first byte, to the last byte) and token usage of the primaries and
//                    their shadows, per pair. A shadow's own entries stay here; a primary's go
//                    on to the Router as usual.
// A token whose copies do not all arrive within CLAIM_TTL_MS counts its missing slots as lost
// (Envoy dropped the copy, or it reached another kvfleet instance, which refuses it).
import { randomUUID } from 'node:crypto';
import type { Fleet, Model } from '../../config/fleet.js';
import { kvError, isKvError } from '../../errors.js';
import { costUsd } from '../../core/limits/cost.js';
import type { MeterReading } from '../../core/limits/meter-reading.js';
import { indexCapacity } from '../../core/learn.js';
import { selectShadows, shadowRules } from '../../core/shadow/select.js';
import type { LiveView } from '../../core/types.js';
import type { RequestInput } from '../../request/types.js';
import type { AccessLogEvent } from '../log-event.js';
import { InflightLease, type InflightCounter } from '../lease.js';
import { PendingTable } from '../pending.js';
import type { EndsObserver } from '../request-ends.js';
import type { Admission, Routed } from '../routed.js';
import type { Router } from '../router.js';
import { PairStats, type PairSummary, type RoleOutcome } from './pair-stats.js';

/** How long a token waits for its copies (Envoy sends them as the primary goes upstream: milliseconds). */
export const CLAIM_TTL_MS = 30_000;
/** Tokens awaiting their copies, at most (the oldest count as lost beyond). */
export const MAX_TOKENS = 10_000;

export type ShadowRole = 'primary' | 'shadow';
export type ShadowResult = 'mirrored' | 'skipped_policy' | 'skipped_asleep' | 'lost';

/** Where shadow outcomes go besides the report: metrics and one log line per shadow (shadow-metrics.ts). */
export interface ShadowSink {
  selected(model: string, candidate: string, result: ShadowResult): void;
  outcome(model: string, candidate: string, role: ShadowRole, o: RoleOutcome): void;
  tokens(model: string, candidate: string, role: ShadowRole, completionTokens: number, usd: number): void;
  /** A shadow ended (or kvfleet refused to route it: no endpoint). Identifiers and numbers only. */
  ended(line: ShadowLine): void;
}

export interface ShadowLine {
  readonly requestId: string;
  readonly model: string;
  readonly candidate: string;
  readonly endpoint: string | undefined;
  readonly status: number;
  readonly ttfbMs: number | undefined;
  readonly totalMs: number | undefined;
  readonly error: string | undefined;
}

export interface ShadowDeps {
  readonly router: Router;
  /** In-flight counts of the candidates' endpoints (live state); absent: nothing is held. */
  readonly endpoints?: InflightCounter | undefined;
  readonly now: () => number;
  /** Uniform in [0, 1) (default Math.random). */
  readonly random?: (() => number) | undefined;
  readonly sink?: ShadowSink | undefined;
  /** A model put to sleep (fleet `models[].sleep`): its copies are skipped, never a reason to wake it. */
  readonly asleep?: ((model: string) => boolean) | undefined;
}

/** What the primary's mutation carries: the token and how many copies Envoy makes (slots 1..n). */
export interface MirrorPlan {
  readonly token: string;
  readonly slots: number;
}

/** One copy, recognised: which primary it shadows and for which candidate. */
export interface ShadowClaim {
  readonly primary: Routed;
  readonly candidate: Model;
  readonly slot: number;
  readonly pair: PairStats;
}

interface Mirrored {
  readonly primary: Routed;
  readonly candidates: readonly Model[];
  readonly pairs: readonly PairStats[];
  readonly claimed: boolean[];
}

/** A request whose outcome shadow traffic waits for (a mirrored primary, or a shadow). */
interface Watched {
  readonly role: ShadowRole;
  readonly pairs: readonly PairStats[];
  /** The model that served it (prices its tokens). */
  readonly model: Model;
  readonly promptTokens: number;
  /** A shadow's in-flight slot on its candidate's endpoint. */
  readonly lease: InflightLease | undefined;
  readonly requestId: string;
  ended: boolean;
  metered: boolean;
}

const pairKey = (model: string, candidate: string) => `${model}\u0000${candidate}`;

export class ShadowTraffic implements EndsObserver {
  private readonly tokens: PendingTable<Mirrored>;
  private readonly watched: PendingTable<Watched>;
  private readonly pairs = new Map<string, PairStats>();
  private pairsOf: Fleet | undefined;
  private seq = 0;

  constructor(private readonly deps: ShadowDeps) {
    const server = deps.router.fleet().server;
    this.tokens = new PendingTable<Mirrored>(MAX_TOKENS, CLAIM_TTL_MS, (m) => this.lose(m));
    this.watched = new PendingTable<Watched>(server.max_pending_requests, server.inflight_ttl_seconds * 1000, (w) => w.lease?.release());
  }

  /** The primary's pass: which copies to make (undefined: none — not sampled, no rule, or the policy refused every candidate). */
  mirror(routed: Routed): MirrorPlan | undefined {
    const fleet = routed.fleet;
    const d = routed.decision;
    const sel = selectShadows(fleet, d.model, routed.admission.policy, (this.deps.random ?? Math.random)());
    if (sel === undefined) return undefined;
    const sink = this.deps.sink;
    for (const c of sel.rule.candidates) this.pair(fleet, d.model, c).sampled++;
    for (const r of sel.refused) {
      this.pair(fleet, d.model, r.model).skippedPolicy++;
      sink?.selected(d.model.name, r.model.name, 'skipped_policy');
    }
    const asleep = this.deps.asleep;
    const mirror = asleep === undefined ? sel.mirror : sel.mirror.filter((c) => !asleep(c.name));
    for (const c of sel.mirror) {
      if (mirror.includes(c)) continue;
      this.pair(fleet, d.model, c).skippedAsleep++;
      sink?.selected(d.model.name, c.name, 'skipped_asleep');
    }
    if (mirror.length === 0) return undefined;
    const pairs = mirror.map((c) => {
      const p = this.pair(fleet, d.model, c);
      p.mirrored++;
      sink?.selected(d.model.name, c.name, 'mirrored');
      return p;
    });
    const now = this.deps.now();
    // 122 random bits (randomUUID draws from a cached pool: ~1.5 µs, randomBytes(16) ~10 µs here).
    const token = randomUUID().replaceAll('-', '');
    this.tokens.add(token, { primary: routed, candidates: mirror, pairs, claimed: mirror.map(() => false) }, now);
    this.watch(routed.key, {
      role: 'primary',
      pairs,
      model: d.model,
      promptTokens: d.prompt.tokens,
      lease: undefined,
      requestId: routed.admission.requestId,
      ended: false,
      metered: false,
    });
    return { token, slots: mirror.length };
  }

  /** A copy arrived: its slot, once. */
  claim(token: string, slotText: string | undefined): ShadowClaim | undefined {
    const slot = slotText !== undefined && /^[1-9]$/.test(slotText) ? Number(slotText) : 0;
    const m = this.tokens.touch(token, this.deps.now());
    if (m === undefined || slot < 1 || slot > m.candidates.length || m.claimed[slot - 1] === true) return undefined;
    m.claimed[slot - 1] = true;
    if (m.claimed.every(Boolean)) this.tokens.take(token);
    return { primary: m.primary, candidate: m.candidates[slot - 1] as Model, slot, pair: m.pairs[slot - 1] as PairStats };
  }

  /**
   * Route a copy to its candidate (the parsed copy of the primary's body, already redacted when the
   * primary was). Throws a KvError when the candidate cannot take it now (recorded as the shadow's
   * outcome: the client of a switch would have seen it).
   */
  route(claim: ShadowClaim, input: RequestInput, view: LiveView): Routed {
    const { primary: p, candidate: c } = claim;
    const router = this.deps.router;
    const started = this.deps.now();
    try {
      const pa = p.admission;
      const a: Admission = {
        requestId: pa.requestId,
        fleet: p.fleet,
        // The body goes out re-serialised with the candidate's model_id, whatever it says now.
        input: { ...input, model: c.name, bodyChanged: true },
        meta: {
          sessionId: undefined,
          overrides: { strategy: pa.meta.overrides.strategy, models: undefined, priority: p.decision.priority },
          tenant: pa.policy.tenant,
        },
        policy: pa.policy,
        refusal: undefined,
        startedAt: started,
      };
      const d = router.decideAdmitted(a, view);
      // The candidate had no usable endpoint and the decision fell back to another model: no shadow.
      if (d.model !== c) throw kvError('no_healthy_endpoint', { model: c.name });
      const endpoint = d.endpoints[0] as string;
      // What the candidate's replica now holds: later shadows of the conversation find it there.
      router.state.index.record(endpoint, d.learn.keys, d.learn.keys.length, indexCapacity(view.endpoint(endpoint), p.fleet.affinity));
      const lease = new InflightLease(this.deps.endpoints, endpoint);
      const key = `${router.instance}-s${(++this.seq).toString(36)}`;
      const decidedAt = this.deps.now();
      this.watch(key, {
        role: 'shadow',
        pairs: [claim.pair],
        model: c,
        promptTokens: d.prompt.tokens,
        lease,
        requestId: pa.requestId,
        ended: false,
        metered: false,
      });
      return { key, decision: d, admission: a, fleet: p.fleet, decidedAt, decisionUs: (decidedAt - started) * 1000, lease, plan: undefined, usage: undefined };
    } catch (e) {
      const status = isKvError(e) ? e.status : 500;
      this.record(claim.pair, 'shadow', { status, ttfbMs: undefined, totalMs: undefined });
      this.deps.sink?.ended({
        requestId: p.admission.requestId,
        model: p.decision.model.name,
        candidate: c.name,
        endpoint: undefined,
        status,
        ttfbMs: undefined,
        totalMs: undefined,
        error: isKvError(e) ? e.code : 'internal',
      });
      throw e;
    }
  }

  /** Envoy's access log (RequestEnds.observer): true for a shadow's own entries. */
  event(e: AccessLogEvent): boolean {
    if (e.key === undefined || (e.kind !== 'end' && e.kind !== 'periodic')) return false;
    const now = this.deps.now();
    if (e.kind === 'periodic') {
      const w = this.watched.touch(e.key, now);
      if (w?.lease !== undefined && e.served !== undefined && this.deps.router.live.endpoint(e.served) !== undefined) w.lease.moveTo(e.served);
      return w?.role === 'shadow';
    }
    const w = this.watched.touch(e.key, now);
    if (w === undefined) return false;
    const o: RoleOutcome = { status: e.status, ttfbMs: e.ttfbMs, totalMs: e.durationMs };
    for (const p of w.pairs) this.record(p, w.role, o);
    w.ended = true;
    if (w.role === 'shadow') {
      w.lease?.release();
      const p = w.pairs[0];
      if (p !== undefined)
        this.deps.sink?.ended({
          requestId: w.requestId,
          model: p.model,
          candidate: p.candidate,
          endpoint: e.served,
          status: e.status,
          ttfbMs: e.ttfbMs,
          totalMs: e.durationMs,
          error: undefined,
        });
    }
    if (w.metered || e.status === 0 || e.status >= 400) this.watched.take(e.key);
    return w.role === 'shadow';
  }

  /** The meter's reading of a response (RequestEnds.observer): completion tokens and cost per pair; true for a shadow's. */
  metered(key: string, r: MeterReading): boolean {
    const w = this.watched.touch(key, this.deps.now());
    if (w === undefined) return false;
    const completion = r.usage?.completionTokens ?? (r.streamed ? r.chunks : undefined);
    if (completion !== undefined) {
      const usd = costUsd(w.model, r.usage ?? { promptTokens: w.promptTokens, completionTokens: completion });
      for (const p of w.pairs) {
        p[w.role].tokens(completion, usd);
        this.deps.sink?.tokens(p.model, p.candidate, w.role, completion, usd);
      }
    }
    w.metered = true;
    if (w.ended) this.watched.take(key);
    return w.role === 'shadow';
  }

  /** GET /shadow/report: every pair of the current fleet's rules, in the file's order. */
  report(): { pairs: PairSummary[] } {
    const fleet = this.deps.router.fleet();
    const out: PairSummary[] = [];
    for (const rule of shadowRules(fleet).values()) for (const c of rule.candidates) out.push(this.pair(fleet, rule.model, c).summary());
    return { pairs: out };
  }

  /** Tokens whose copies never came, and outcomes that never came. */
  expire(): void {
    const now = this.deps.now();
    this.tokens.expire(now);
    this.watched.expire(now);
  }

  /** Requests whose outcome is awaited (primaries and shadows), for tests and /metrics. */
  get watching(): number {
    return this.watched.size;
  }

  private watch(key: string, w: Watched): void {
    this.watched.add(key, w, this.deps.now());
  }

  private record(p: PairStats, role: ShadowRole, o: RoleOutcome): void {
    p[role].outcome(o);
    this.deps.sink?.outcome(p.model, p.candidate, role, o);
  }

  private lose(m: Mirrored): void {
    m.candidates.forEach((c, i) => {
      if (m.claimed[i] === true) return;
      const p = m.pairs[i];
      if (p !== undefined) p.lost++;
      this.deps.sink?.selected(m.primary.decision.model.name, c.name, 'lost');
    });
  }

  /** The pair's stats (created on first use; a new fleet drops pairs it no longer has and updates rates). */
  private pair(fleet: Fleet, model: Model, candidate: Model): PairStats {
    if (this.pairsOf !== fleet) this.retain(fleet);
    const k = pairKey(model.name, candidate.name);
    let p = this.pairs.get(k);
    if (p === undefined) {
      p = new PairStats(model.name, candidate.name, shadowRules(fleet).get(model)?.sampleRate ?? 0);
      this.pairs.set(k, p);
    }
    return p;
  }

  private retain(fleet: Fleet): void {
    this.pairsOf = fleet;
    const keep = new Map<string, number>();
    for (const r of shadowRules(fleet).values()) for (const c of r.candidates) keep.set(pairKey(r.model.name, c.name), r.sampleRate);
    for (const [k, p] of this.pairs) {
      const rate = keep.get(k);
      if (rate === undefined) this.pairs.delete(k);
      else p.sampleRate = rate;
    }
  }
}
