// One timer for many deadlines: the full-duplex body deadline of every open ext_proc stream
// (server.body_timeout_seconds, 30 s by default). A setTimeout per stream, made at the request
// headers and cleared a few milliseconds later when the body completes, costs a timer object
// and two timer-list updates on every request; here a stream is one Map entry and one interval,
// started when the first deadline is added and stopped by the first sweep that finds none,
// checks them all every `tickMs`. A deadline fires on the first sweep at or after it: at most
// `tickMs` late (100 ms on 30 s). A deadline shorter than 10 ticks gets its own setTimeout,
// so a short body timeout stays as precise as before.
import { performance } from 'node:perf_hooks';

interface Due {
  readonly at: number;
  readonly fire: () => void;
}

export class DeadlineSweep {
  private readonly due = new Map<object, Due>();
  private readonly own = new Map<object, NodeJS.Timeout>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tickMs = 100,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** `fire` runs once, about `ms` from now, unless `key` is cancelled first (re-adding a key replaces its deadline). */
  add(key: object, ms: number, fire: () => void): void {
    this.cancel(key);
    if (ms < 10 * this.tickMs) {
      this.own.set(
        key,
        setTimeout(() => {
          this.own.delete(key);
          fire();
        }, ms),
      );
      return;
    }
    this.due.set(key, { at: this.now() + ms, fire });
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(), this.tickMs);
      this.timer.unref();
    }
  }

  cancel(key: object): void {
    this.due.delete(key);
    const t = this.own.get(key);
    if (t !== undefined) {
      clearTimeout(t);
      this.own.delete(key);
    }
  }

  /** The shared interval is running (tests). */
  get ticking(): boolean {
    return this.timer !== undefined;
  }

  /** Deadlines waiting (tests). */
  get size(): number {
    return this.due.size + this.own.size;
  }

  /** Fires what is due; stops the interval when nothing is left. */
  sweep(): void {
    const t = this.now();
    for (const [key, d] of this.due) {
      if (d.at > t) continue;
      this.due.delete(key);
      d.fire();
    }
    if (this.due.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Drops every deadline and the timer (the server closed). */
  clear(): void {
    for (const t of this.own.values()) clearTimeout(t);
    this.own.clear();
    this.due.clear();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
