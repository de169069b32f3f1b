// The decision logger's buffering: lines leave within 100 ms, and an idle process keeps no timer.
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/obs/logger.js';

describe('logger', () => {
  it('arms its flush timer with the first line after a flush and holds none while idle', async () => {
    vi.useFakeTimers();
    try {
      const log = createLogger('info');
      expect(vi.getTimerCount()).toBe(0);
      log.info({ test: 'logger' }, 'first');
      log.info({ test: 'logger' }, 'second');
      expect(vi.getTimerCount()).toBe(1); // one timer for every line of the next 100 ms
      await vi.advanceTimersByTimeAsync(100);
      expect(vi.getTimerCount()).toBe(0);
      log.info({ test: 'logger' }, 'third');
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(100);
    } finally {
      vi.useRealTimers();
    }
  });
});
