// FIFO admission like vLLM's scheduler: at most `maxRunning` requests run; the rest wait in order.
// The waiting queue is bounded (`maxWaiting`); acquire() on a full queue fails at once.

interface Waiter {
  grant: () => void;
}

export type AcquireResult = 'acquired' | 'queue-full' | 'aborted';

export class AdmissionQueue {
  private runningCount = 0;
  private maxRunningSeen = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    readonly maxRunning: number,
    readonly maxWaiting: number,
  ) {}

  get running(): number {
    return this.runningCount;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  get peakRunning(): number {
    return this.maxRunningSeen;
  }

  resetPeak(): void {
    this.maxRunningSeen = this.runningCount;
  }

  /** Take a running slot, waiting in FIFO order; resolves 'aborted' if `signal` fires while waiting. */
  acquire(signal: AbortSignal): Promise<AcquireResult> {
    if (signal.aborted) return Promise.resolve('aborted');
    if (this.runningCount < this.maxRunning && this.waiters.length === 0) {
      this.take();
      return Promise.resolve('acquired');
    }
    if (this.waiters.length >= this.maxWaiting) return Promise.resolve('queue-full');
    return new Promise((resolve) => {
      const waiter: Waiter = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          this.take();
          resolve('acquired');
        },
      };
      const onAbort = (): void => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        resolve('aborted');
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Give a slot back; the oldest waiter (if any) takes it. */
  release(): void {
    if (this.runningCount > 0) this.runningCount--;
    while (this.runningCount < this.maxRunning) {
      const next = this.waiters.shift();
      if (next === undefined) break;
      next.grant();
    }
  }

  private take(): void {
    this.runningCount++;
    if (this.runningCount > this.maxRunningSeen) this.maxRunningSeen = this.runningCount;
  }
}
