// Live per-endpoint state kept by kvfleet, read by the decision through LiveView:
//   in-flight      up at decision, down at the request's end as Envoy's access log
//                  reports it (streamed responses at their last byte; router/request-ends.ts)
//   health         Envoy's view (admin /clusters: outlier ejection, failed health
//                  checks, EDS status) AND kvfleet's own circuit (circuit.ts) AND the
//                  manual switch setHealthy AND reachability: UNREACHABLE_AFTER scrapes in a
//                  row that could not connect (refused, reset, no route) mark the endpoint
//                  unhealthy until a scrape connects again, so a dead replica leaves the
//                  lists within one scrape interval or two, discovery on or off
//   engine load    last scrape (scrapers/) with its age; older than the staleness
//                  limit (or never arrived while scraping is on) → `stale`, no engine
//   cooldown       429 / rate-limit signals → coolUntil
//   membership     per Envoy cluster, from discovery (stable array identity until the
//                  member set changes, so the core may memoise on it)
// Bounded: only endpoints of the current fleet or of discovered clusters have
// entries; `retain` forgets the rest.
import type { EndpointView, EngineLoad, LiveView } from '../core/types.js';
import { Circuit, DEFAULT_CIRCUIT, type CircuitSettings, type CircuitStateName } from './circuit.js';

/** Envoy's health verdict on one host (envoy-admin.ts). */
export interface EnvoyHostHealth {
  readonly healthy: boolean;
  /** Short flags: `failed_outlier_check`, `failed_active_health_check`, `eds:UNHEALTHY`, … */
  readonly flags: readonly string[];
}

interface Scrape {
  staleAfterMs: number;
  engine: EngineLoad | undefined;
  at: number | undefined;
  error: string | undefined;
  failures: number;
  /** Scrapes in a row that could not connect at all. */
  unreachable: number;
}

/** Consecutive connection failures of the metrics scrape after which an endpoint counts as down. */
export const UNREACHABLE_AFTER = 2;

interface Entry {
  inflight: number;
  manual: boolean;
  envoy: EnvoyHostHealth | undefined;
  circuit: Circuit;
  scrape: Scrape | undefined;
  coolUntil: number | undefined;
  coolReason: string | undefined;
  latencyEma: number | undefined;
}

export interface LiveOptions {
  /** Monotonic ms (performance.now in production, a fake in tests). */
  readonly now?: () => number;
  readonly circuit?: CircuitSettings;
}

/** One endpoint as the admin API shows it (GET /fleet). */
export interface EndpointState extends EndpointView {
  readonly address: string;
  readonly circuit: CircuitStateName;
  readonly healthScore: number;
  readonly successes: number;
  readonly failures: number;
  readonly envoy: EnvoyHostHealth | undefined;
  /** ms left of a cooldown, when cooling. */
  readonly coolingMs: number | undefined;
  readonly coolReason: string | undefined;
  readonly latencyEmaMs: number | undefined;
  /** Age of the last good scrape, ms (undefined: none, or scraping off). */
  readonly scrapeAgeMs: number | undefined;
  readonly scrapeError: string | undefined;
  /** Last engine load even when stale (for the operator; the core never sees it when stale). */
  readonly lastEngine: EngineLoad | undefined;
}

export class LiveEndpoints implements LiveView {
  private readonly entries = new Map<string, Entry>();
  private readonly clusters = new Map<string, readonly string[]>();
  private readonly now: () => number;
  private readonly circuitSettings: CircuitSettings;

  constructor(opts: LiveOptions = {}) {
    this.now = opts.now ?? (() => performance.now());
    this.circuitSettings = opts.circuit ?? DEFAULT_CIRCUIT;
  }

  endpoint(address: string, at: number = this.now()): EndpointView | undefined {
    const e = this.entries.get(address);
    if (e === undefined) return undefined;
    return this.view(e, at);
  }

  clock(): number {
    return this.now();
  }

  /** Whether kvfleet keeps live state for `address` (no view built). */
  has(address: string): boolean {
    return this.entries.has(address);
  }

  members(cluster: string): readonly string[] | undefined {
    return this.clusters.get(cluster);
  }

  private view(e: Entry, now: number): EndpointView {
    const healthy = e.manual && (e.envoy?.healthy ?? true) && e.circuit.state(now) !== 'open' && (e.scrape?.unreachable ?? 0) < UNREACHABLE_AFTER;
    const coolUntil = e.coolUntil !== undefined && e.coolUntil > now ? e.coolUntil : undefined;
    const s = e.scrape;
    if (s === undefined) return { inflight: e.inflight, healthy, coolUntil };
    const fresh = s.at !== undefined && s.engine !== undefined && now - s.at <= s.staleAfterMs;
    return fresh
      ? { inflight: e.inflight, healthy, engine: s.engine, stale: false, coolUntil }
      : { inflight: e.inflight, healthy, engine: undefined, stale: true, coolUntil };
  }

  private entry(address: string): Entry {
    let e = this.entries.get(address);
    if (e === undefined) {
      e = {
        inflight: 0,
        manual: true,
        envoy: undefined,
        circuit: new Circuit(this.circuitSettings),
        scrape: undefined,
        coolUntil: undefined,
        coolReason: undefined,
        latencyEma: undefined,
      };
      this.entries.set(address, e);
    }
    return e;
  }

  acquire(address: string): void {
    this.entry(address).inflight++;
  }

  release(address: string): void {
    const e = this.entries.get(address);
    if (e !== undefined && e.inflight > 0) e.inflight--;
  }

  /** Manual switch (tests, operators); ANDed with Envoy's view and the circuit. */
  setHealthy(address: string, healthy: boolean): void {
    this.entry(address).manual = healthy;
  }

  // ── discovery (envoy-admin.ts) ─────────────────────────────────────────────

  /** Replace a cluster's members; keeps the old array (identity) when the set is unchanged. */
  setMembers(cluster: string, addresses: readonly string[]): boolean {
    const prev = this.clusters.get(cluster);
    if (prev !== undefined && prev.length === addresses.length && prev.every((a, i) => a === addresses[i])) return false;
    this.clusters.set(cluster, Object.freeze([...addresses]));
    for (const a of addresses) this.entry(a);
    return true;
  }

  /** Forget clusters not in `keep` (discovery no longer reports them). */
  retainClusters(keep: ReadonlySet<string>): void {
    for (const c of this.clusters.keys()) if (!keep.has(c)) this.clusters.delete(c);
  }

  setEnvoyHealth(address: string, health: EnvoyHostHealth | undefined): void {
    if (health === undefined) {
      const e = this.entries.get(address);
      if (e !== undefined) e.envoy = undefined;
      return;
    }
    this.entry(address).envoy = health;
  }

  // ── engine metrics (scrapers/) ─────────────────────────────────────────────

  /** Scraping is on for `address`: from now on no fresh data means `stale`. */
  watchEngine(address: string, staleAfterMs: number): void {
    const e = this.entry(address);
    if (e.scrape === undefined) e.scrape = { staleAfterMs, engine: undefined, at: undefined, error: undefined, failures: 0, unreachable: 0 };
    else e.scrape.staleAfterMs = staleAfterMs;
  }

  unwatchEngine(address: string): void {
    const e = this.entries.get(address);
    if (e !== undefined) e.scrape = undefined;
  }

  setEngine(address: string, engine: EngineLoad, at: number = this.now()): void {
    const s = this.entries.get(address)?.scrape;
    if (s === undefined) return;
    s.engine = engine;
    s.at = at;
    s.error = undefined;
    s.failures = 0;
    s.unreachable = 0;
  }

  /** A scrape failed; `connect`: it could not connect at all (the replica is down, not just slow or odd). */
  scrapeFailed(address: string, error: string, connect = false): void {
    const s = this.entries.get(address)?.scrape;
    if (s === undefined) return;
    s.error = error;
    s.failures++;
    // An answer of any kind (an HTTP error, a timeout, an odd body) says the process lives.
    s.unreachable = connect ? s.unreachable + 1 : 0;
  }

  // ── outcomes (outcomes.ts) ─────────────────────────────────────────────────

  recordSuccess(address: string, ttfbMs: number | undefined): void {
    const e = this.entry(address);
    e.circuit.success();
    if (ttfbMs !== undefined && Number.isFinite(ttfbMs) && ttfbMs >= 0) {
      const a = this.circuitSettings.alpha;
      e.latencyEma = e.latencyEma === undefined ? ttfbMs : e.latencyEma + a * (ttfbMs - e.latencyEma);
    }
  }

  /** Returns true when this failure opened kvfleet's circuit for the endpoint. */
  recordFailure(address: string): boolean {
    return this.entry(address).circuit.failure(this.now());
  }

  /** Open kvfleet's circuit for `address` (another instance saw it fail). */
  tripCircuit(address: string): void {
    this.entry(address).circuit.trip(this.now());
  }

  /** Cool down until `until` (monotonic ms); a later deadline wins over an earlier one. */
  coolDown(address: string, until: number, reason: string): void {
    const e = this.entry(address);
    if (e.coolUntil === undefined || e.coolUntil < until || e.coolUntil <= this.now()) {
      e.coolUntil = until;
      e.coolReason = reason;
    }
  }

  /** End a cooldown given for `reason` (a replica that was waking is awake); others stand. */
  endCoolDown(address: string, reason: string): void {
    const e = this.entries.get(address);
    if (e === undefined || e.coolReason !== reason) return;
    e.coolUntil = undefined;
    e.coolReason = undefined;
  }

  /** Forget every endpoint not in `keep` nor in a discovered cluster (fleet reload, discovery). */
  retain(keep: ReadonlySet<string>): void {
    const members = new Set<string>();
    for (const list of this.clusters.values()) for (const a of list) members.add(a);
    for (const k of this.entries.keys()) if (!keep.has(k) && !members.has(k)) this.entries.delete(k);
  }

  addresses(): string[] {
    return [...this.entries.keys()];
  }

  snapshot(): EndpointState[] {
    const now = this.now();
    return [...this.entries].map(([address, e]) => {
      const v = this.view(e, now);
      const s = e.scrape;
      return {
        address,
        ...v,
        circuit: e.circuit.state(now),
        healthScore: Math.round(e.circuit.score * 1000) / 1000,
        successes: e.circuit.successes,
        failures: e.circuit.failures,
        envoy: e.envoy,
        coolingMs: v.coolUntil !== undefined ? Math.round(v.coolUntil - now) : undefined,
        coolReason: v.coolUntil !== undefined ? e.coolReason : undefined,
        latencyEmaMs: e.latencyEma !== undefined ? Math.round(e.latencyEma * 10) / 10 : undefined,
        scrapeAgeMs: s?.at !== undefined ? Math.round(now - s.at) : undefined,
        scrapeError: s?.error,
        lastEngine: s?.engine,
      };
    });
  }
}
