// How often prompt starts recur: an exponentially weighted share of recent requests
// whose first block was already in the prefix index (a known root).
//   rate ← rate + α · (seen − rate),   seen ∈ {0, 1},   α = 1 / window
// Starts at 1 (assume sharing until traffic shows otherwise). decide() scales the CHWBL
// slack by it (affinity.adaptive_bound); prompts shorter than one block are not counted.

export class ReuseRate {
  private value = 1;
  private readonly alpha: number;

  constructor(window = 512) {
    this.alpha = 1 / Math.max(1, window);
  }

  observe(seen: boolean): void {
    this.value += this.alpha * ((seen ? 1 : 0) - this.value);
  }

  get rate(): number {
    return this.value;
  }
}
