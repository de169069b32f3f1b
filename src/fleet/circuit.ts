// kvfleet's own per-endpoint circuit and health score, fed by outcomes seen in the
// request's end and its attempts as Envoy's access log reports them (retried-away ones included).
//   closed    → `failure_threshold` consecutive failures → open for `open_ms`
//   open      → after open_ms: half-open (usable again, one outcome decides)
//   half-open → success: closed (open time reset); failure: open again, open time doubled
//               (capped at max_open_ms)
// The health score is an exponential moving average of success (1) / failure (0):
// informative only (metrics, /fleet), the circuit is what makes an endpoint unhealthy.
export interface CircuitSettings {
  readonly failureThreshold: number;
  readonly openMs: number;
  readonly maxOpenMs: number;
  /** Weight of the newest outcome in the health score and latency EMA. */
  readonly alpha: number;
}

export const DEFAULT_CIRCUIT: CircuitSettings = { failureThreshold: 5, openMs: 5000, maxOpenMs: 60_000, alpha: 0.2 };

export type CircuitStateName = 'closed' | 'open' | 'half_open';

export class Circuit {
  private consecutive = 0;
  private openUntil: number | undefined;
  private nextOpenMs: number;
  private trial = false;
  score = 1;
  successes = 0;
  failures = 0;

  constructor(private readonly s: CircuitSettings) {
    this.nextOpenMs = s.openMs;
  }

  /** Another kvfleet instance opened its circuit for this endpoint: open here too (unless already open). */
  trip(now: number): void {
    if (this.state(now) === 'open') return;
    this.openUntil = now + this.nextOpenMs;
    this.consecutive = 0;
  }

  state(now: number): CircuitStateName {
    if (this.openUntil === undefined) return 'closed';
    return now < this.openUntil ? 'open' : 'half_open';
  }

  /** Monotonic ms when an open circuit half-opens (undefined when closed). */
  get reopensAt(): number | undefined {
    return this.openUntil;
  }

  success(): void {
    this.successes++;
    this.score += this.s.alpha * (1 - this.score);
    this.consecutive = 0;
    this.openUntil = undefined;
    this.trial = false;
    this.nextOpenMs = this.s.openMs;
  }

  /** Returns true when this failure opened (or re-opened) the circuit. */
  failure(now: number): boolean {
    this.failures++;
    this.score += this.s.alpha * (0 - this.score);
    this.consecutive++;
    const st = this.state(now);
    if (st === 'open') return false;
    if (st === 'half_open' || this.trial || this.consecutive >= this.s.failureThreshold) {
      this.openUntil = now + this.nextOpenMs;
      this.trial = true;
      this.nextOpenMs = Math.min(this.s.maxOpenMs, this.nextOpenMs * 2);
      return true;
    }
    return false;
  }
}
