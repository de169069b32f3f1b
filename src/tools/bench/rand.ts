// Seeded draws for the benchmark workloads, on top of the project's routing RNG
// (src/core/rng.ts, sfc32). Every workload owns one stream, so a seed fixes the
// whole request sequence regardless of the policy under test.
import { seededRng, type Rng } from '../../core/rng.js';

export type { Rng };

export function rngFor(seed: number, stream: number): Rng {
  // Distinct streams from one seed: mix the stream id into the 32-bit seed.
  return seededRng(((seed >>> 0) ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0);
}

/** Exponential draw with the given mean. */
export function exponential(rng: Rng, mean: number): number {
  return -mean * Math.log(1 - rng.next());
}

/** Uniform integer in [0, n). */
export function intBelow(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(rng.next() * n));
}

/**
 * Zipf(s) over ranks 0..n-1: P(k) ∝ 1 / (k + 1)^s. Draws by binary search over
 * the cumulative table (O(log n), no allocation per draw). s = 0 is uniform.
 */
export class Zipf {
  private readonly cdf: Float64Array;

  constructor(
    readonly n: number,
    readonly s: number,
  ) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError('Zipf: n must be an integer >= 1');
    this.cdf = new Float64Array(n);
    let total = 0;
    for (let k = 0; k < n; k++) {
      total += 1 / Math.pow(k + 1, s);
      this.cdf[k] = total;
    }
    for (let k = 0; k < n; k++) this.cdf[k] = (this.cdf[k] as number) / total;
  }

  /** Probability of rank k. */
  p(k: number): number {
    return (this.cdf[k] as number) - (k > 0 ? (this.cdf[k - 1] as number) : 0);
  }

  draw(rng: Rng): number {
    const u = rng.next();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
