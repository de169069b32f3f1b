// Traffic per model, as this kvfleet instance sees it: requests per second over any window up
// to traffic.max_window_seconds (a ring of per-second counts), the last request's time, and the
// requests in flight (taken at the decision, given back at the request's end). Feeds
// GET /models/stats, /models/idle, /models/active, the model metrics and the sleep controller.
// Requests routed by other instances reach it as `touch` (state/signals.ts): they refresh the
// last request time, not the counts.
//   rate(w) = Σ counts of the last w whole seconds / w

interface ModelCounts {
  /** counts[s % size] holds second s when stamps[s % size] === s. */
  counts: Uint32Array;
  stamps: Float64Array;
  total: number;
  /** Wall-clock ms of the last request (here or at another instance); undefined: none yet. */
  lastWall: number | undefined;
  inflight: number;
}

export interface ModelTrafficStats {
  readonly requestsInWindow: number;
  readonly requestsPerSecond: number;
  readonly total: number;
  readonly lastWall: number | undefined;
  readonly inflight: number;
}

export class ModelTraffic {
  private readonly models = new Map<string, ModelCounts>();
  /** Wall ms when this instance started counting: a model never asked for has been idle since. */
  readonly since: number;

  constructor(
    private readonly wallNow: () => number,
    private size = 3600,
  ) {
    this.since = wallNow();
  }

  /** A request was routed to `model` here: counted, and in flight until `done`. */
  begin(model: string): () => void {
    const c = this.entry(model);
    const wall = this.wallNow();
    const s = Math.floor(wall / 1000);
    const k = s % this.size;
    if (c.stamps[k] !== s) {
      c.stamps[k] = s;
      c.counts[k] = 0;
    }
    c.counts[k] = (c.counts[k] ?? 0) + 1;
    c.total++;
    c.lastWall = wall;
    c.inflight++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      c.inflight--;
    };
  }

  /** Another instance routed a request to `model` at `wall`. */
  touch(model: string, wall: number): void {
    const c = this.entry(model);
    if (c.lastWall === undefined || wall > c.lastWall) c.lastWall = wall;
  }

  /** Milliseconds since the model's last request (or since this instance started counting). */
  idleMs(model: string): number {
    return Math.max(0, this.wallNow() - (this.models.get(model)?.lastWall ?? this.since));
  }

  inflight(model: string): number {
    return this.models.get(model)?.inflight ?? 0;
  }

  stats(model: string, windowSeconds: number): ModelTrafficStats {
    const c = this.models.get(model);
    const w = Math.max(1, Math.min(Math.floor(windowSeconds), this.size));
    if (c === undefined) return { requestsInWindow: 0, requestsPerSecond: 0, total: 0, lastWall: undefined, inflight: 0 };
    const now = Math.floor(this.wallNow() / 1000);
    let n = 0;
    for (let s = now - w + 1; s <= now; s++) {
      const k = s % this.size;
      if (c.stamps[k] === s) n += c.counts[k] ?? 0;
    }
    return { requestsInWindow: n, requestsPerSecond: n / w, total: c.total, lastWall: c.lastWall, inflight: c.inflight };
  }

  /** After a reload: forget models that left; a new max window starts the counts over. */
  retain(models: ReadonlySet<string>, maxWindowSeconds: number): void {
    for (const name of this.models.keys()) if (!models.has(name)) this.models.delete(name);
    if (maxWindowSeconds !== this.size) {
      this.size = maxWindowSeconds;
      // In place: requests in flight hold their entry (`begin`'s closure).
      for (const c of this.models.values()) {
        c.counts = new Uint32Array(this.size);
        c.stamps = new Float64Array(this.size).fill(-1);
      }
    }
  }

  private entry(model: string): ModelCounts {
    let c = this.models.get(model);
    if (c === undefined) {
      c = { counts: new Uint32Array(this.size), stamps: new Float64Array(this.size).fill(-1), total: 0, lastWall: undefined, inflight: 0 };
      this.models.set(model, c);
    }
    return c;
  }
}
