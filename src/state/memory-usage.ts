// The usage store of one process (state.backend: memory). Rate TATs and budget totals in a
// Map; keys of past budget windows are dropped as their window ends (checked once a minute).
import { gcraAdjust } from '../core/limits/gcra.js';
import { RATE_WINDOW_MS, type AdmitOutcome, type UsagePlan } from '../core/limits/plan.js';
import { windowEnd, windowId, type BudgetWindow } from '../core/limits/windows.js';
import { evaluatePlan } from './evaluate.js';
import { usageKey, type Settlement, type UsageStore, type WindowUsage } from './usage-store.js';

interface Counters {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  usd: number;
}

const WINDOWS: readonly BudgetWindow[] = ['day', 'month'];

export class MemoryUsageStore implements UsageStore {
  readonly backend = 'memory';
  private readonly values = new Map<string, number>();
  /** Budget and usage keys → wall ms after which they are dropped. */
  private readonly expiry = new Map<string, number>();
  private readonly usageByKey = new Map<string, Counters>();
  private lastSweep = 0;

  constructor(private readonly wallNow: () => number = Date.now) {}

  up(): boolean {
    return true;
  }

  admit(plan: UsagePlan): AdmitOutcome {
    const now = this.wallNow();
    this.sweep(now);
    const e = evaluatePlan(plan, (k) => this.values.get(k), now);
    if (!e.allowed) return e;
    for (const [k, v] of e.writes) this.values.set(k, v);
    for (const c of plan.checks) if (c.kind === 'budget') this.expiry.set(c.key, c.resetAt);
    if (plan.meter && plan.tenant !== undefined) for (const w of WINDOWS) this.counters(plan.tenant, w, now).requests++;
    return { allowed: true, outcomes: e.outcomes, unavailable: false };
  }

  settle(s: Settlement): void {
    const now = this.wallNow();
    const estTokens = s.plan.estimate.promptTokens + s.plan.estimate.completionTokens;
    const tokens = s.actual.promptTokens + s.actual.completionTokens;
    for (const c of s.plan.checks) {
      if (c.kind === 'rate') {
        if (c.unit === 'tokens') this.values.set(c.key, gcraAdjust(this.values.get(c.key), now, c.limit, RATE_WINDOW_MS, tokens - estTokens));
      } else if (this.values.has(c.key)) {
        this.values.set(c.key, Math.max(0, (this.values.get(c.key) ?? 0) + (c.unit === 'usd' ? s.actualUsd - s.plan.estimateUsd : tokens - estTokens)));
      }
    }
    if (s.plan.tenant === undefined) return;
    for (const w of WINDOWS) {
      const u = this.counters(s.plan.tenant, w, s.wallNow);
      u.promptTokens += s.actual.promptTokens;
      u.completionTokens += s.actual.completionTokens;
      u.cachedTokens += s.actual.cachedTokens ?? 0;
      u.usd += s.actualUsd;
    }
  }

  peek(keys: readonly string[]): Promise<ReadonlyMap<string, number>> {
    const out = new Map<string, number>();
    for (const k of keys) {
      const v = this.values.get(k);
      if (v !== undefined) out.set(k, v);
    }
    return Promise.resolve(out);
  }

  usage(tenant: string, wallNow: number): Promise<readonly WindowUsage[]> {
    return Promise.resolve(
      WINDOWS.map((w) => {
        const c = this.usageByKey.get(usageKey(tenant, windowId(w, wallNow)));
        return {
          window: w,
          id: windowId(w, wallNow),
          requests: c?.requests ?? 0,
          promptTokens: c?.promptTokens ?? 0,
          completionTokens: c?.completionTokens ?? 0,
          cachedTokens: c?.cachedTokens ?? 0,
          usd: c?.usd ?? 0,
        };
      }),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private counters(tenant: string, w: BudgetWindow, wallNow: number): Counters {
    const key = usageKey(tenant, windowId(w, wallNow));
    let c = this.usageByKey.get(key);
    if (c === undefined) {
      c = { requests: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, usd: 0 };
      this.usageByKey.set(key, c);
      this.expiry.set(key, windowEnd(w, wallNow));
    }
    return c;
  }

  /** Drop budget and usage keys of windows that have ended, and rate keys long idle. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [k, at] of this.expiry) {
      if (at <= now) {
        this.expiry.delete(k);
        this.values.delete(k);
        this.usageByKey.delete(k);
      }
    }
    for (const [k, v] of this.values) if (k.startsWith('rate:') && v < now - RATE_WINDOW_MS) this.values.delete(k);
  }
}
