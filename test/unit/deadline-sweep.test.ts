// src/extproc/deadline-sweep.ts: the one timer behind every full-duplex body deadline.
// A fake clock and explicit sweeps (and vitest's fake timers for the short-deadline path):
// which deadlines fire, once, and when the shared interval runs.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineSweep } from '../../src/extproc/deadline-sweep.js';

describe('DeadlineSweep', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires a deadline on the first sweep at or after it, once', () => {
    let t = 0;
    const s = new DeadlineSweep(100, () => t);
    const fired: string[] = [];
    const a = {};
    const b = {};
    s.add(a, 30_000, () => fired.push('a'));
    t = 10_000;
    s.add(b, 30_000, () => fired.push('b'));
    expect(s.ticking).toBe(true);
    t = 29_999;
    s.sweep();
    expect(fired).toEqual([]);
    t = 30_000;
    s.sweep();
    expect(fired).toEqual(['a']);
    t = 39_999;
    s.sweep();
    expect(fired).toEqual(['a']);
    t = 40_050;
    s.sweep();
    t = 100_000;
    s.sweep();
    expect(fired).toEqual(['a', 'b']);
    expect(s.size).toBe(0);
    expect(s.ticking).toBe(false);
  });

  it('a cancelled deadline never fires; re-adding a key replaces its deadline', () => {
    let t = 0;
    const s = new DeadlineSweep(100, () => t);
    const fired: string[] = [];
    const a = {};
    s.add(a, 5_000, () => fired.push('first'));
    s.add(a, 8_000, () => fired.push('second'));
    expect(s.size).toBe(1);
    t = 6_000;
    s.sweep();
    expect(fired).toEqual([]);
    s.cancel(a);
    t = 9_000;
    s.sweep();
    expect(fired).toEqual([]);
    expect(s.ticking).toBe(false);
  });

  it('keeps the interval while deadlines wait and stops it when a sweep finds none', () => {
    let t = 0;
    const s = new DeadlineSweep(100, () => t);
    const a = {};
    s.add(a, 5_000, () => undefined);
    s.cancel(a);
    // Cancelling leaves the interval to the next sweep: no timer churn per request.
    expect(s.ticking).toBe(true);
    s.add({}, 5_000, () => undefined);
    t = 1_000;
    s.sweep();
    expect(s.ticking).toBe(true);
    s.clear();
    expect(s.ticking).toBe(false);
    expect(s.size).toBe(0);
  });

  it('gives a deadline shorter than ten ticks its own timer', () => {
    vi.useFakeTimers();
    const s = new DeadlineSweep(100, () => 0);
    const fired: string[] = [];
    const a = {};
    const b = {};
    s.add(a, 500, () => fired.push('a'));
    s.add(b, 500, () => fired.push('b'));
    expect(s.ticking).toBe(false);
    s.cancel(b);
    vi.advanceTimersByTime(499);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['a']);
    expect(s.size).toBe(0);
  });
});
