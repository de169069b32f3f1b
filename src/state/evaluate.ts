// The all-or-nothing evaluation of a usage plan over plain numbers (rate TATs, budget
// totals): the memory store runs it directly; the Redis store runs the same rules in Lua
// (redis-scripts.ts). Budgets: refused when already spent ≥ limit (a request may overshoot by
// at most its own estimate); allowed otherwise, and charged.
import { gcra } from '../core/limits/gcra.js';
import { RATE_WINDOW_MS, type AdmitOutcome, type CheckOutcome, type UsagePlan } from '../core/limits/plan.js';

export interface Evaluation extends AdmitOutcome {
  /** The values to write when allowed (key → new value). */
  readonly writes: ReadonlyMap<string, number>;
}

export function evaluatePlan(plan: UsagePlan, read: (key: string) => number | undefined, now: number): Evaluation {
  const outcomes: CheckOutcome[] = [];
  const writes = new Map<string, number>();
  for (const c of plan.checks) {
    if (c.kind === 'rate') {
      const r = gcra(read(c.key), now, c.limit, RATE_WINDOW_MS, c.cost);
      outcomes.push({ check: c, allowed: r.allowed, remaining: r.remaining, resetMs: r.resetMs, retryAfterMs: r.retryAfterMs });
      writes.set(c.key, r.tat);
    } else {
      const spent = read(c.key) ?? 0;
      const exhausted = spent >= c.limit;
      const resetMs = Math.max(0, c.resetAt - now);
      const allowed = !(exhausted && c.enforce);
      const after = allowed ? spent + c.cost : spent;
      outcomes.push({ check: c, allowed, remaining: Math.max(0, c.limit - after), resetMs, retryAfterMs: allowed ? 0 : resetMs });
      writes.set(c.key, after);
    }
  }
  const allowed = outcomes.every((o) => o.allowed);
  return { allowed, outcomes, unavailable: false, writes: allowed ? writes : new Map() };
}
