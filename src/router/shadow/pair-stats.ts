// The outcomes of one shadow pair (a model and one of its candidates), summarised for
// GET /shadow/report. Per role (the primary requests that were mirrored, and their shadows):
//   count, errors      outcomes seen, and those with status 0 (no response) or ≥ 400
//   ttfb / total ms    p50 and p90 over the last WINDOW successful outcomes (time to the first
//                      upstream byte, time to the last byte; Envoy's access log)
//   tokens_mean        completion tokens per response (the meter's reading: the usage the
//                      engine reported, else the chunks of a stream), over every reading
//   cost_usd           tokens × the model's priors, summed
// Counts since kvfleet started (or since the pair appeared in the fleet file); bounded memory:
// two rings of WINDOW numbers per role. null for a statistic without samples.
export const WINDOW = 1024;

/** Fixed-size ring of the most recent values. */
class Ring {
  private readonly values = new Float64Array(WINDOW);
  private size = 0;
  private next = 0;

  push(v: number): void {
    this.values[this.next] = v;
    this.next = (this.next + 1) % WINDOW;
    if (this.size < WINDOW) this.size++;
  }

  /** Nearest-rank quantile (q in 0..1), or null when empty. */
  quantile(q: number): number | null {
    if (this.size === 0) return null;
    const sorted = this.values.slice(0, this.size).sort();
    const rank = Math.min(this.size - 1, Math.max(0, Math.ceil(q * this.size) - 1));
    return sorted[rank] ?? null;
  }
}

export interface RoleSummary {
  readonly count: number;
  readonly errors: number;
  readonly ttfb_ms_p50: number | null;
  readonly ttfb_ms_p90: number | null;
  readonly total_ms_p50: number | null;
  readonly total_ms_p90: number | null;
  readonly tokens_mean: number | null;
  readonly cost_usd: number;
}

/** One finished request as the access log (or kvfleet's own refusal of a shadow) reports it. */
export interface RoleOutcome {
  /** 0: no response came (reset, connect failure). */
  readonly status: number;
  readonly ttfbMs: number | undefined;
  readonly totalMs: number | undefined;
}

export const isError = (status: number): boolean => status === 0 || status >= 400;

const round1 = (v: number | null): number | null => (v === null ? null : Math.round(v * 10) / 10);

export class RoleStats {
  private count = 0;
  private errors = 0;
  private readonly ttfb = new Ring();
  private readonly total = new Ring();
  private tokenSum = 0;
  private tokenReadings = 0;
  private cost = 0;

  outcome(o: RoleOutcome): void {
    this.count++;
    if (isError(o.status)) {
      this.errors++;
      return;
    }
    if (o.ttfbMs !== undefined) this.ttfb.push(o.ttfbMs);
    if (o.totalMs !== undefined) this.total.push(o.totalMs);
  }

  tokens(completionTokens: number, usd: number): void {
    this.tokenSum += completionTokens;
    this.tokenReadings++;
    this.cost += usd;
  }

  summary(): RoleSummary {
    return {
      count: this.count,
      errors: this.errors,
      ttfb_ms_p50: round1(this.ttfb.quantile(0.5)),
      ttfb_ms_p90: round1(this.ttfb.quantile(0.9)),
      total_ms_p50: round1(this.total.quantile(0.5)),
      total_ms_p90: round1(this.total.quantile(0.9)),
      tokens_mean: this.tokenReadings === 0 ? null : round1(this.tokenSum / this.tokenReadings),
      cost_usd: Math.round(this.cost * 1e6) / 1e6,
    };
  }
}

export interface PairSummary {
  readonly model: string;
  readonly candidate: string;
  readonly sample_rate: number;
  /** Requests to `model` drawn under the sample rate. */
  readonly sampled: number;
  /** …that Envoy was asked to mirror to `candidate`. */
  readonly mirrored: number;
  /** …that the policy kept from `candidate` (never sent). */
  readonly skipped_policy: number;
  /** …not sent because `candidate` was asleep (idle sleep): a copy never wakes a model. */
  readonly skipped_asleep: number;
  /** Mirrored, but the copy never reached kvfleet (Envoy dropped it, or it reached another kvfleet instance). */
  readonly lost: number;
  readonly primary: RoleSummary;
  readonly shadow: RoleSummary;
}

export class PairStats {
  sampleRate: number;
  sampled = 0;
  mirrored = 0;
  skippedPolicy = 0;
  skippedAsleep = 0;
  lost = 0;
  readonly primary = new RoleStats();
  readonly shadow = new RoleStats();

  constructor(
    readonly model: string,
    readonly candidate: string,
    sampleRate: number,
  ) {
    this.sampleRate = sampleRate;
  }

  summary(): PairSummary {
    return {
      model: this.model,
      candidate: this.candidate,
      sample_rate: this.sampleRate,
      sampled: this.sampled,
      mirrored: this.mirrored,
      skipped_policy: this.skippedPolicy,
      skipped_asleep: this.skippedAsleep,
      lost: this.lost,
      primary: this.primary.summary(),
      shadow: this.shadow.summary(),
    };
  }
}
