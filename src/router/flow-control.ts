// Priority lanes when a pool is saturated (flow_control): instead of piling more requests
// into engines that are already queueing, kvfleet holds them — it simply delays its ext_proc
// answer — in per-pool lanes, and sends them as room appears:
//   order      high before normal before low; within a lane, tenants take turns (fair), each
//              tenant's requests in arrival order
//   room       core/limits/saturation.ts: some usable endpoint below the queue / KV limits (for
//              low, below the share of them that is not kept for high and normal);
//              checked when a request ends (Envoy's access log) and every 20 ms while anything waits
//   waiting    at most flow_control.max_queue_ms: then high and normal are sent anyway, low is
//              shed (429 overloaded, retry-after); past flow_control.max_queued held in all,
//              the lowest priority is shed first (a newcomer that is the lowest is refused)
//   leaving    a client that goes away leaves its lane (its exchange aborts the wait)
// The held request is decided again when released (the fleet changed meanwhile).
import type { Priority } from '../config/names.js';
import type { FlowControlConfig } from '../config/usage-schema.js';
import { kvError, type KvError } from '../errors.js';

const LANES: readonly Priority[] = ['high', 'normal', 'low'];

interface Waiter {
  readonly tenant: string;
  readonly priority: Priority;
  readonly since: number;
  resolve(): void;
  reject(e: KvError): void;
}

/** One pool's lanes: priority → tenant → FIFO. */
type Lanes = Map<Priority, Map<string, Waiter[]>>;

export interface FlowDeps {
  readonly config: () => FlowControlConfig;
  /** Monotonic ms. */
  readonly now: () => number;
  /** Whether the pool can take another request of this priority now. */
  readonly saturated: (pool: string, priority: Priority) => boolean;
  readonly onShed?: (priority: Priority) => void;
}

export class FlowControl {
  private readonly pools = new Map<string, Lanes>();
  private held = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: FlowDeps) {}

  get waiting(): number {
    return this.held;
  }

  /**
   * Wait for room in `pool`: resolves when the request may go (room, or max_queue_ms for high
   * and normal), rejects with 429 overloaded when it is shed. `signal` aborts the wait.
   */
  wait(pool: string, tenant: string, priority: Priority, signal?: AbortSignal): Promise<void> {
    const cfg = this.deps.config();
    if (this.held >= cfg.max_queued && !this.shedLowerThan(priority)) return Promise.reject(shed(priority));
    return new Promise<void>((resolve, reject) => {
      const lanes = this.lanes(pool);
      const lane = lanes.get(priority) as Map<string, Waiter[]>;
      let q = lane.get(tenant);
      if (q === undefined) lane.set(tenant, (q = []));
      const w: Waiter = { tenant, priority, since: this.deps.now(), resolve, reject };
      q.push(w);
      this.held++;
      signal?.addEventListener('abort', () => this.remove(pool, w) && reject(kvError('overloaded', { what: 'holding the request when its client left' })), {
        once: true,
      });
      this.arm();
    });
  }

  /** Room may have appeared (a request ended): release what fits. */
  kick(): void {
    if (this.held > 0) this.pump();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private pump(): void {
    const cfg = this.deps.config();
    const now = this.deps.now();
    for (const [pool, lanes] of this.pools) {
      // Past max_queue_ms: high and normal go anyway, low is shed.
      for (const p of LANES) {
        for (const q of (lanes.get(p) as Map<string, Waiter[]>).values()) {
          while (q.length > 0 && now - (q[0] as Waiter).since >= cfg.max_queue_ms) {
            const w = q.shift() as Waiter;
            this.held--;
            if (p === 'low') {
              this.deps.onShed?.(p);
              w.reject(shed(p));
            } else w.resolve();
          }
        }
      }
      // The highest lane with a waiter that fits (a low one may not, where a high one does).
      const w = this.next(lanes, (p) => !this.deps.saturated(pool, p));
      if (w !== undefined) {
        this.held--;
        // One per pool and tick: the released request is routed (and counted in flight) before
        // the pool is checked again.
        w.resolve();
      }
    }
    if (this.held === 0) this.stop();
  }

  /** The next waiter: the highest lane with anyone that `fits`; tenants take turns within it. */
  private next(lanes: Lanes, fits: (p: Priority) => boolean): Waiter | undefined {
    for (const p of LANES) {
      if (!fits(p)) continue;
      const lane = lanes.get(p) as Map<string, Waiter[]>;
      for (const [tenant, q] of lane) {
        if (q.length === 0) continue;
        const w = q.shift() as Waiter;
        // This tenant goes to the back of the lane.
        lane.delete(tenant);
        if (q.length > 0) lane.set(tenant, q);
        return w;
      }
    }
    return undefined;
  }

  /** Make room by shedding the newest request of a lower priority than `p`; false when there is none. */
  private shedLowerThan(p: Priority): boolean {
    const rank = LANES.indexOf(p);
    for (let i = LANES.length - 1; i > rank; i--) {
      const lower = LANES[i] as Priority;
      for (const lanes of this.pools.values()) {
        for (const q of (lanes.get(lower) as Map<string, Waiter[]>).values()) {
          const w = q.pop();
          if (w === undefined) continue;
          this.held--;
          this.deps.onShed?.(lower);
          w.reject(shed(lower));
          return true;
        }
      }
    }
    return false;
  }

  private remove(pool: string, w: Waiter): boolean {
    const q = this.pools.get(pool)?.get(w.priority)?.get(w.tenant);
    const i = q?.indexOf(w) ?? -1;
    if (q === undefined || i < 0) return false;
    q.splice(i, 1);
    this.held--;
    return true;
  }

  private lanes(pool: string): Lanes {
    let l = this.pools.get(pool);
    if (l === undefined) this.pools.set(pool, (l = new Map(LANES.map((p) => [p, new Map<string, Waiter[]>()]))));
    return l;
  }

  private arm(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.pump(), 20);
    this.timer.unref();
  }
}

function shed(p: Priority): KvError {
  return kvError('overloaded', { what: `shedding ${p}-priority requests (the model's pool is saturated)` }, 1);
}
