// GCRA (generic cell rate algorithm): a per-minute limit without a list of timestamps — a
// bucket of `limit` units, refilled continuously at `limit` per window: a burst of `limit` at
// once, then one unit every window / limit; over any interval d at most
// limit + d · limit / window units pass. One number per key: the theoretical arrival time
// (TAT, wall ms).
//   T        = window / limit                 (the emission interval of one unit)
//   base     = max(TAT, now)
//   TAT'     = base + cost · T
//   allowed  ⇔ TAT' − window ≤ now            (at most `limit` units in any window)
//   remaining = ⌊(now + window − TAT') / T⌋    (units still allowed right now)
//   reset     = TAT' − now                     (until the window is empty again, ms)
//   retry-after (denied) = TAT' − window − now
// A correction after the fact (actual tokens − estimated) moves TAT by delta · T.
// src/state/redis-scripts.ts runs the same arithmetic in Lua, atomically; the tests check both
// against each other on a real Redis.

export interface GcraResult {
  readonly allowed: boolean;
  /** The key's TAT after this call (unchanged when denied). */
  readonly tat: number;
  readonly remaining: number;
  /** ms until the window is empty again. */
  readonly resetMs: number;
  /** ms until this cost would be allowed (0 when allowed). */
  readonly retryAfterMs: number;
}

export function gcra(tat: number | undefined, now: number, limit: number, windowMs: number, cost: number): GcraResult {
  const t = windowMs / limit;
  const base = Math.max(tat ?? now, now);
  const next = base + cost * t;
  const allowAt = next - windowMs;
  if (allowAt > now) {
    // A cost larger than the whole limit can never pass: say so with a full window.
    const retry = cost > limit ? windowMs : allowAt - now;
    return { allowed: false, tat: base, remaining: Math.max(0, Math.floor((now + windowMs - base) / t)), resetMs: base - now, retryAfterMs: retry };
  }
  return { allowed: true, tat: next, remaining: Math.max(0, Math.floor((now + windowMs - next) / t)), resetMs: next - now, retryAfterMs: 0 };
}

/** TAT after correcting a past take by `delta` units (negative gives units back). */
export function gcraAdjust(tat: number | undefined, now: number, limit: number, windowMs: number, delta: number): number {
  return Math.max(tat ?? now, now) + (delta * windowMs) / limit;
}

/** What is left right now without taking anything. */
export function gcraPeek(tat: number | undefined, now: number, limit: number, windowMs: number): { remaining: number; resetMs: number } {
  const t = windowMs / limit;
  const base = Math.max(tat ?? now, now);
  return { remaining: Math.max(0, Math.floor((now + windowMs - base) / t)), resetMs: base - now };
}
