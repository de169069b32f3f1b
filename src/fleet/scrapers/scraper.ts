// Scrapes each endpoint's engine metrics on its own interval, off the request path.
//   - one scrape per endpoint at a time; the next is due `interval` after the last start
//   - at most `concurrency` scrapes in flight across all endpoints (the rest wait for one to end)
//   - one timer, armed for the earliest due scrape (no polling: an idle kvfleet wakes only
//     to scrape); scrapes due within COALESCE_MS of it start together
//   - each scrape has a timeout and a body size cap (http-text.ts, keep-alive connections)
//   - a failed scrape keeps the previous data, which then ages into `stale`
// Results go to LiveEndpoints (setEngine / scrapeFailed); staleness is judged there
// at read time, so a hung replica turns stale even while its scrape is stuck.
import type { LiveEndpoints } from '../live-endpoints.js';
import { EXTRACTORS, type ScrapedEngine } from './engines.js';
import { BodyTooLarge, getText, ScrapeTimeout } from './http-text.js';
import { parsePromText } from './prom-text.js';

export interface ScrapeTarget {
  readonly address: string;
  readonly engine: ScrapedEngine;
  readonly url: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly staleAfterMs: number;
}

export type ScrapeOutcome = 'ok' | 'http_error' | 'timeout' | 'network_error' | 'unrecognised' | 'too_large';

export interface ScraperOptions {
  readonly concurrency: number;
  readonly maxBytes: number;
  readonly now?: () => number;
  readonly onScrape?: (t: ScrapeTarget, outcome: ScrapeOutcome, ms: number) => void;
}

/** Scrapes due this soon after the timer fires start with it (fewer wake-ups, same cadence). */
const COALESCE_MS = 5;

interface Slot {
  target: ScrapeTarget;
  nextAt: number;
  busy: boolean;
}

export class Scraper {
  private readonly slots = new Map<string, Slot>();
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (monotonic ms); Infinity when none is armed. */
  private timerAt = Infinity;
  private running = false;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly now: () => number;

  constructor(
    private readonly live: LiveEndpoints,
    private readonly opts: ScraperOptions,
  ) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** Replace the target set: new endpoints are watched (stale until their first scrape), gone ones forgotten. */
  setTargets(targets: readonly ScrapeTarget[]): void {
    const next = new Map(targets.map((t) => [t.address, t]));
    for (const [address] of this.slots) {
      if (!next.has(address)) {
        this.slots.delete(address);
        this.live.unwatchEngine(address);
      }
    }
    const now = this.now();
    for (const t of next.values()) {
      const slot = this.slots.get(t.address);
      if (slot === undefined) this.slots.set(t.address, { target: t, nextAt: now, busy: false });
      else slot.target = t;
      this.live.watchEngine(t.address, t.staleAfterMs);
    }
    this.plan();
  }

  targets(): ScrapeTarget[] {
    return [...this.slots.values()].map((s) => s.target);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.disarm();
    await Promise.allSettled([...this.pending]);
  }

  /** Start every due scrape the concurrency limit allows (oldest due first), then arm the timer for the next. */
  tick(): void {
    const now = this.now();
    const due = [...this.slots.values()].filter((s) => !s.busy && s.nextAt <= now + COALESCE_MS).sort((a, b) => a.nextAt - b.nextAt);
    for (const slot of due) {
      if (this.active >= this.opts.concurrency) break;
      slot.busy = true;
      this.active++;
      const started = now;
      const p = this.scrape(slot.target).finally(() => {
        this.active--;
        slot.busy = false;
        const t = this.now();
        slot.nextAt = Math.max(started + slot.target.intervalMs, t);
        this.pending.delete(p);
        this.plan();
      });
      this.pending.add(p);
    }
    this.plan();
  }

  /** Arm the one timer for the earliest scrape that can start (none while every slot is busy or the limit is reached: a scrape's end re-plans). */
  private plan(): void {
    if (!this.running) return;
    let next = Infinity;
    if (this.active < this.opts.concurrency) for (const s of this.slots.values()) if (!s.busy && s.nextAt < next) next = s.nextAt;
    if (next === this.timerAt) return;
    this.disarm();
    if (next === Infinity) return;
    this.timerAt = next;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        this.tick();
      },
      Math.max(0, next - this.now()),
    );
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /** One scrape of one target (also used directly by tests). */
  async scrape(t: ScrapeTarget): Promise<ScrapeOutcome> {
    const started = this.now();
    let outcome: ScrapeOutcome;
    try {
      const res = await getText(t.url, t.timeoutMs, this.opts.maxBytes);
      if (!res.ok) {
        this.live.scrapeFailed(t.address, `HTTP ${res.status}`);
        outcome = 'http_error';
      } else {
        const ex = EXTRACTORS[t.engine];
        const { samples } = parsePromText(res.text, (n) => ex.names.has(n));
        const load = ex.extract(samples);
        if (load === undefined) {
          this.live.scrapeFailed(t.address, `no ${t.engine} load metrics in the scrape`);
          outcome = 'unrecognised';
        } else {
          this.live.setEngine(t.address, load, this.now());
          outcome = 'ok';
        }
      }
    } catch (e) {
      if (e instanceof BodyTooLarge) {
        outcome = 'too_large';
        this.live.scrapeFailed(t.address, e.message);
      } else if (e instanceof ScrapeTimeout) {
        outcome = 'timeout';
        this.live.scrapeFailed(t.address, e.message);
      } else {
        outcome = 'network_error';
        const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e;
        const message = cause instanceof Error ? cause.message : String(cause);
        this.live.scrapeFailed(t.address, message.slice(0, 200), isConnectFailure(cause));
      }
    }
    this.opts.onScrape?.(t, outcome, this.now() - started);
    return outcome;
  }
}

/** Errors that mean nothing listens there (or the host is gone), as opposed to a slow or odd answer. */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

function isConnectFailure(e: unknown): boolean {
  const code = e !== null && typeof e === 'object' && 'code' in e ? e.code : undefined;
  return typeof code === 'string' && CONNECT_CODES.has(code);
}
