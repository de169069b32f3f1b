// zod schemas of what the fleet file says about usage: rate limits and budgets (tenants,
// models, provider accounts), the shared state backend several kvfleet instances use, flow
// control (priority lanes when a pool is saturated) and metering. Every key has a default or
// is optional, so a fleet file without them stays valid and nothing is limited.
import { z } from 'zod';

const positiveInt = z.number().int().positive();

/** Per-minute limits (sliding, GCRA): requests and tokens (prompt + completion). */
export const rateLimitSchema = z
  .strictObject({
    rpm: positiveInt.optional(),
    tpm: positiveInt.optional(),
  })
  .refine((l) => l.rpm !== undefined || l.tpm !== undefined, { message: 'set rpm, tpm or both' });

/** Spending limits over UTC calendar windows. */
export const budgetSchema = z
  .strictObject({
    daily_usd: z.number().positive().optional(),
    monthly_usd: z.number().positive().optional(),
    daily_tokens: positiveInt.optional(),
    monthly_tokens: positiveInt.optional(),
    /** Fraction of a limit at which kvfleet logs and counts an alert (once per window). */
    alert_at: z.number().min(0).max(1).default(0.8),
    /** block: 429 budget_exceeded until the window resets; downgrade: the cheapest model allowed. */
    on_exhausted: z.enum(['block', 'downgrade']).default('block'),
  })
  .refine((b) => b.daily_usd !== undefined || b.monthly_usd !== undefined || b.daily_tokens !== undefined || b.monthly_tokens !== undefined, {
    message: 'set at least one of daily_usd, monthly_usd, daily_tokens, monthly_tokens',
  });

/** A provider account (models[].provider names it): its published limits, and a budget. */
export const providerSchema = z.strictObject({
  limits: rateLimitSchema.optional(),
  budget: budgetSchema.optional(),
});
export const providersSchema = z.record(z.string().regex(/^[A-Za-z0-9._:-]+$/), providerSchema).default({});

export const stateSchema = z
  .strictObject({
    /** memory: this process only (default); redis: shared by every kvfleet on the same Redis. */
    backend: z.enum(['memory', 'redis']).default('memory'),
    redis: z
      .strictObject({
        url: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL'),
        /** Every key starts with `<key_prefix>:` (several fleets may share one Redis). */
        key_prefix: z
          .string()
          .regex(/^[A-Za-z0-9._-]+$/)
          .default('kvfleet'),
        /** A command slower than this counts as Redis unavailable for that request. */
        command_timeout_ms: positiveInt.max(10_000).default(100),
        connect_timeout_ms: positiveInt.max(60_000).default(1000),
      })
      .optional(),
    /** Budgets and rate limits while the backend is unreachable: let requests through, or refuse (503). */
    on_unavailable: z.enum(['fail_open', 'fail_closed']).default('fail_open'),
  })
  .prefault({})
  .refine((s) => s.backend !== 'redis' || s.redis !== undefined, { message: 'backend redis needs redis.url', path: ['redis'] });

export const flowControlSchema = z
  .strictObject({
    /** Hold requests for a saturated pool in per-priority queues instead of sending them. */
    enabled: z.boolean().default(false),
    /** The longest a request waits; then it is sent anyway (high, normal) or shed (low). */
    max_queue_ms: positiveInt.max(600_000).default(5000),
    /** Requests held at once, all pools together; past it the lowest priority is shed. */
    max_queued: positiveInt.max(1_000_000).default(10_000),
    /**
     * Share of the saturation limits kept for high and normal requests: a low (sheddable)
     * request counts an endpoint as over at (1 − this) of them, so there is room when a high
     * one comes.
     */
    sheddable_reserve: z.number().min(0).max(0.9).default(0.5),
    /** A pool is saturated when every usable endpoint is over one of these. */
    saturation: z
      .strictObject({
        /** Engine queue (scraped `waiting`) per endpoint. */
        waiting: z.number().min(0).default(4),
        /** Engine KV cache usage, 0..1. */
        kv_usage: z.number().min(0).max(1).default(0.95),
        /** kvfleet's own in-flight count per endpoint (when no engine metrics). */
        inflight: positiveInt.default(64),
      })
      .prefault({}),
  })
  .prefault({});

export const meteringSchema = z
  .strictObject({
    /** needed: only requests with a budget or a token limit to account; all: every routed request. */
    mode: z.enum(['needed', 'all']).default('needed'),
    /** Completion tokens reserved when a request sets no max_tokens. */
    default_max_tokens: positiveInt.max(1_000_000).default(1024),
  })
  .prefault({});

export type RateLimitConfig = z.infer<typeof rateLimitSchema>;
export type BudgetConfig = z.infer<typeof budgetSchema>;
export type StateConfig = z.infer<typeof stateSchema>;
export type FlowControlConfig = z.infer<typeof flowControlSchema>;
export type MeteringConfig = z.infer<typeof meteringSchema>;
