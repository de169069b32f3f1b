// Per-arm (per model) outcome statistics the bandit strategies read, fed from
// each request's end (Envoy's access log). Bounded: one entry per model name; at most `capacity`
// arms (least recently updated dropped); `retain` forgets removed models.
//   mean     = rewardSum / n                    (epsilon_greedy, ucb1)
//   α, β     = 1 + rewardSum, 1 + (n − rewardSum) (thompson_sampling, fractional successes)
//   exp3     = log-weight, updated only for decisions exp3 made (importance-weighted)
//   latency  = EMA of time to response headers, ms (α = 0.2), for the latency scorer

export interface ArmStats {
  n: number;
  rewardSum: number;
  latencyEmaMs: number | undefined;
  exp3LogWeight: number;
}

const LATENCY_ALPHA = 0.2;

export class BanditStats {
  private readonly arms = new Map<string, ArmStats>();
  private total = 0;
  /** Exploration rate of epsilon_greedy after decay (starts at the configured ε on first use). */
  epsilon: number | undefined;

  constructor(private readonly capacity: number) {}

  arm(name: string): Readonly<ArmStats> | undefined {
    return this.arms.get(name);
  }

  /** Outcomes recorded over all arms. */
  get pulls(): number {
    return this.total;
  }

  private entry(name: string): ArmStats {
    let a = this.arms.get(name);
    if (a === undefined) {
      a = { n: 0, rewardSum: 0, latencyEmaMs: undefined, exp3LogWeight: 0 };
      if (this.arms.size >= this.capacity) {
        const oldest = this.arms.keys().next().value;
        if (oldest !== undefined) this.arms.delete(oldest);
      }
    } else {
      this.arms.delete(name);
    }
    this.arms.set(name, a);
    return a;
  }

  /** One outcome for `name`: reward in 0..1, latency when the response came back. */
  update(name: string, reward: number, latencyMs: number | undefined): void {
    const a = this.entry(name);
    const r = Math.min(1, Math.max(0, reward));
    a.n++;
    a.rewardSum += r;
    this.total++;
    if (latencyMs !== undefined && Number.isFinite(latencyMs) && latencyMs >= 0) {
      a.latencyEmaMs = a.latencyEmaMs === undefined ? latencyMs : a.latencyEmaMs + LATENCY_ALPHA * (latencyMs - a.latencyEmaMs);
    }
  }

  /** Exp3 update: w ← w · exp(γ · (r / p) / K), kept in log space. */
  exp3Update(name: string, reward: number, prob: number, gamma: number, arms: number): void {
    if (!(prob > 0) || arms < 1) return;
    const a = this.entry(name);
    a.exp3LogWeight += (gamma * (Math.min(1, Math.max(0, reward)) / prob)) / arms;
  }

  retain(keep: ReadonlySet<string>): void {
    for (const k of this.arms.keys()) if (!keep.has(k)) this.arms.delete(k);
  }

  snapshot(): Record<string, { n: number; mean: number; latency_ema_ms: number | undefined }> {
    const out: Record<string, { n: number; mean: number; latency_ema_ms: number | undefined }> = {};
    for (const [k, a] of this.arms) out[k] = { n: a.n, mean: a.n > 0 ? a.rewardSum / a.n : 0, latency_ema_ms: a.latencyEmaMs };
    return out;
  }
}
