// The usage store shared by several kvfleet instances (state.backend: redis): Redis 7 or
// Valkey through ioredis. One Lua script per admission (redis-scripts.ts: check and charge
// every limit of the request atomically, one round trip) and one per settlement (fire and
// forget). Keys are `<key_prefix>:<key>` and expire: rate windows a second after they empty,
// budget totals a day after their window, usage counters with their window.
// Unavailable Redis (down, unreachable, slower than command_timeout_ms): admit() answers
// `unavailable` at once — ioredis does not queue commands while disconnected — and the gate
// applies state.on_unavailable; ioredis reconnects by itself (backoff up to 2 s).
import { Redis } from 'ioredis';
import { RATE_WINDOW_MS, type AdmitOutcome, type CheckOutcome, type UsagePlan } from '../core/limits/plan.js';
import { windowEnd, windowId, type BudgetWindow } from '../core/limits/windows.js';
import { ADMIT_LUA, SETTLE_LUA } from './redis-scripts.js';
import { usageKey, type Settlement, type UsageStore, type WindowUsage } from './usage-store.js';

export interface RedisOptions {
  readonly url: string;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Called when the connection goes up or down (metrics, one log line per change). */
  readonly onStatus?: ((up: boolean, error?: string) => void) | undefined;
}

type ScriptRedis = Redis & {
  kvAdmit(numKeys: number, ...args: Array<string | number>): Promise<string[]>;
  kvSettle(numKeys: number, ...args: Array<string | number>): Promise<number>;
};

const WINDOWS: readonly BudgetWindow[] = ['day', 'month'];
const UNAVAILABLE: AdmitOutcome = Object.freeze({ allowed: false, outcomes: [], unavailable: true });
/** Share of a limit that must stay after a request for it to be admitted without waiting on Redis. */
export const FAST_MARGIN = 0.1;

/** A Redis client set up the way kvfleet uses it: no offline queue, bounded commands, reconnecting. */
export function connectRedis(o: RedisOptions): Redis {
  const client = new Redis(o.url, {
    keyPrefix: `${o.keyPrefix}:`,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: o.commandTimeoutMs,
    connectTimeout: o.connectTimeoutMs,
    retryStrategy: (times) => Math.min(2000, 50 * 2 ** Math.min(times, 6)),
    lazyConnect: false,
  });
  let up: boolean | undefined;
  const report = (next: boolean, error?: string) => {
    if (up === next) return;
    up = next;
    o.onStatus?.(next, error);
  };
  client.on('ready', () => report(true));
  client.on('error', (e: Error) => report(false, e.message));
  client.on('end', () => report(false, 'connection closed'));
  client.on('close', () => report(false, 'connection closed'));
  return client;
}

export class RedisUsageStore implements UsageStore {
  readonly backend = 'redis';
  private readonly client: ScriptRedis;
  /** Per check key: what Redis last said was left, and when (wall ms). Bounded by the fleet's keys × windows. */
  private readonly heard = new Map<string, { remaining: number; at: number }>();

  constructor(
    o: RedisOptions,
    private readonly wallNow: () => number = Date.now,
  ) {
    const client = connectRedis(o);
    client.defineCommand('kvAdmit', { lua: ADMIT_LUA });
    client.defineCommand('kvSettle', { lua: SETTLE_LUA });
    this.client = client as ScriptRedis;
  }

  up(): boolean {
    return this.client.status === 'ready';
  }

  admit(plan: UsagePlan): AdmitOutcome | Promise<AdmitOutcome> {
    if (!this.up()) return UNAVAILABLE;
    const now = this.wallNow();
    const usage = plan.meter && plan.tenant !== undefined ? WINDOWS.map((w) => usageKey(plan.tenant as string, windowId(w, now))) : [];
    // Far from every limit (as this instance last heard), admit now and charge in the background.
    const fast = this.fromHeadroom(plan, now);
    const args: Array<string | number> = [
      ...plan.checks.map((c) => c.key),
      ...usage,
      now,
      plan.checks.length,
      usage.length,
      windowEnd('month', now),
      fast !== undefined ? '1' : '0',
    ];
    for (const c of plan.checks) {
      args.push(c.kind === 'rate' ? 'r' : 'b', c.limit, c.kind === 'rate' ? RATE_WINDOW_MS : c.resetAt, c.cost, c.kind === 'budget' && !c.enforce ? '0' : '1');
    }
    const reply = this.client.kvAdmit(plan.checks.length + usage.length, ...args).then(
      (r) => {
        const outcomes: CheckOutcome[] = plan.checks.map((check, i) => ({
          check,
          allowed: r[1 + i * 4] === '1',
          remaining: Number(r[2 + i * 4]),
          resetMs: Number(r[3 + i * 4]),
          retryAfterMs: Number(r[4 + i * 4]),
        }));
        this.remember(outcomes, now);
        return { allowed: r[0] === '1', outcomes, unavailable: false };
      },
      () => UNAVAILABLE,
    );
    if (fast === undefined) return reply;
    void reply;
    return fast;
  }

  /**
   * Admit without waiting when every check keeps at least FAST_MARGIN of its limit (and twice
   * this request's cost) after this request, by what this instance last heard from Redis — a
   * GCRA window refilled since. The charge still goes to Redis (forced), and its reply refreshes
   * what is heard. Near a limit, every request waits for the atomic check: that is where several
   * instances must not overshoot.
   */
  private fromHeadroom(plan: UsagePlan, now: number): AdmitOutcome | undefined {
    const outcomes: CheckOutcome[] = [];
    for (const c of plan.checks) {
      const h = this.heard.get(c.key);
      if (h === undefined) return undefined;
      const left = c.kind === 'rate' ? Math.min(c.limit, h.remaining + ((now - h.at) * c.limit) / RATE_WINDOW_MS) : h.remaining;
      if (left - c.cost < Math.max(c.limit * FAST_MARGIN, 2 * c.cost)) return undefined;
      const resetMs = c.kind === 'rate' ? ((c.limit - (left - c.cost)) * RATE_WINDOW_MS) / c.limit : Math.max(0, c.resetAt - now);
      outcomes.push({ check: c, allowed: true, remaining: left - c.cost, resetMs, retryAfterMs: 0 });
    }
    this.remember(outcomes, now);
    return { allowed: true, outcomes, unavailable: false };
  }

  private remember(outcomes: readonly CheckOutcome[], now: number): void {
    // Budget keys change with their window: never more than a few thousand alive.
    if (this.heard.size > 10_000) this.heard.clear();
    for (const o of outcomes) this.heard.set(o.check.key, { remaining: o.remaining, at: now });
  }

  settle(s: Settlement): void {
    if (!this.up()) return;
    const keys: string[] = [];
    const args: Array<string | number> = [this.wallNow()];
    const estTokens = s.plan.estimate.promptTokens + s.plan.estimate.completionTokens;
    const tokens = s.actual.promptTokens + s.actual.completionTokens;
    for (const c of s.plan.checks) {
      if (c.kind === 'rate' && c.unit === 'tokens') {
        keys.push(c.key);
        args.push('r', c.limit, RATE_WINDOW_MS, tokens - estTokens, '', '');
      } else if (c.kind === 'budget') {
        keys.push(c.key);
        args.push('b', c.unit === 'usd' ? s.actualUsd - s.plan.estimateUsd : tokens - estTokens, '', '', '', '');
      }
    }
    if (s.plan.tenant !== undefined) {
      for (const w of WINDOWS) {
        keys.push(usageKey(s.plan.tenant, windowId(w, s.wallNow)));
        args.push('u', s.actual.promptTokens, s.actual.completionTokens, s.actual.cachedTokens ?? 0, s.actualUsd, windowEnd(w, s.wallNow));
      }
    }
    if (keys.length === 0) return;
    this.client.kvSettle(keys.length, ...keys, ...args).catch(() => undefined);
  }

  async peek(keys: readonly string[]): Promise<ReadonlyMap<string, number>> {
    const out = new Map<string, number>();
    if (keys.length === 0) return out;
    const values = await this.client.mget(...keys);
    keys.forEach((k, i) => {
      const v = values[i];
      if (v !== null && v !== undefined) out.set(k, Number(v));
    });
    return out;
  }

  async usage(tenant: string, wallNow: number): Promise<readonly WindowUsage[]> {
    return Promise.all(
      WINDOWS.map(async (w) => {
        const id = windowId(w, wallNow);
        const h = await this.client.hgetall(usageKey(tenant, id));
        const n = (f: string) => Number(h[f] ?? 0);
        return {
          window: w,
          id,
          requests: n('requests'),
          promptTokens: n('prompt_tokens'),
          completionTokens: n('completion_tokens'),
          cachedTokens: n('cached_tokens'),
          usd: n('usd'),
        };
      }),
    );
  }

  async close(): Promise<void> {
    this.client.disconnect();
    return Promise.resolve();
  }
}
