// What the Router last heard about the rate windows of models and provider accounts (from
// every admission's verdict, whichever backend), for the decision to prefer a model with room
// (core/decide.ts). A GCRA window refills at `limit` per minute, so the room known `t` ms ago
// has grown by t · limit / 60 s since. Bounded: one entry per model / provider account and unit
// of the fleet file.
import { RATE_WINDOW_MS, type AdmitOutcome } from '../core/limits/plan.js';

interface Seen {
  readonly remaining: number;
  readonly limit: number;
  readonly at: number;
}

export class HeadroomCache {
  private readonly seen = new Map<string, Seen>();

  record(out: AdmitOutcome, wallNow: number): void {
    for (const o of out.outcomes) {
      const c = o.check;
      if (c.kind !== 'rate' || c.scope === 'tenant') continue;
      this.seen.set(`${c.scope}:${c.id}:${c.unit}`, { remaining: o.remaining, limit: c.limit, at: wallNow });
    }
  }

  /** 0..1: the lowest share left of the scope's windows now; undefined when nothing is known. */
  get(scope: 'model' | 'provider', id: string, wallNow: number): number | undefined {
    let low: number | undefined;
    for (const unit of ['requests', 'tokens']) {
      const s = this.seen.get(`${scope}:${id}:${unit}`);
      if (s === undefined) continue;
      // Whole units: a window with less than one left is spent.
      const now = Math.floor(Math.min(s.limit, s.remaining + ((wallNow - s.at) * s.limit) / RATE_WINDOW_MS));
      const share = now / s.limit;
      low = low === undefined ? share : Math.min(low, share);
    }
    return low;
  }
}
