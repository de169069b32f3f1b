// Deterministic random draws for fault injection.
// draw_n = first 32 bits of sha256("<seed>:<stream>:<n>") / 2^32, n = 0, 1, 2, … (node:crypto, no hand-rolled PRNG).
import { createHash } from 'node:crypto';

export class SeededRandom {
  private n = 0;

  constructor(
    private readonly seed: number,
    private readonly stream: number,
  ) {}

  /** Next uniform number in [0, 1). */
  next(): number {
    const digest = createHash('sha256').update(`${this.seed}:${this.stream}:${this.n++}`).digest();
    return digest.readUInt32BE(0) / 2 ** 32;
  }

  /** Restart the sequence from the beginning. */
  reset(): void {
    this.n = 0;
  }
}
