// zod schemas of the fleet file's live-state sections (docs/fleet-state.md):
//   discovery:  Envoy admin /clusters as the source of membership and health
//   scrape:     engine metric scraping (defaults for every model)
//   health:     kvfleet's own circuit, latency average and rate-limit cooldowns
//   models[].scrape: per-model overrides (path, port, interval, on/off)
// Every key has a default, so fleet files without these sections stay valid.
import { z } from 'zod';

const ms = (min: number, max: number) => z.number().int().min(min).max(max);

export const discoverySchema = z
  .strictObject({
    /** Envoy admin clusters URL, e.g. http://127.0.0.1:9901/clusters?format=json (loopback admin!). */
    envoy_admin: z
      .url({ protocol: /^https?$/, message: 'must be an http(s) URL such as http://127.0.0.1:9901/clusters?format=json' })
      .refine((u) => new URL(u).pathname.endsWith('/clusters'), { message: 'must point at Envoy admin /clusters (…/clusters?format=json)' })
      .optional(),
    /**
     * Gateway API InferencePool: the gateway's subset hint (envoy.lb.subset_hint) is the member
     * list of every request's pool; no endpoints in the fleet file needed.
     */
    subset_hint: z.boolean().default(false),
    /** Poll period; an ejected endpoint leaves kvfleet's lists within one period. */
    interval_ms: ms(50, 60_000).default(500),
    timeout_ms: ms(10, 30_000).default(1000),
  })
  .refine((d) => d.envoy_admin !== undefined || d.subset_hint, {
    message: 'set envoy_admin (Envoy admin /clusters URL) or subset_hint: true (Gateway API InferencePool)',
  })
  .optional();

const scrapeBase = {
  /** Metrics path on the replica. */
  path: z.string().startsWith('/').optional(),
  /** Metrics port when it is not the serving port (Triton: 8002). */
  port: z.number().int().min(1).max(65535).optional(),
  interval_ms: ms(50, 60_000).optional(),
};

export const scrapeSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    path: z.string().startsWith('/').default('/metrics'),
    interval_ms: ms(50, 60_000).default(250),
    timeout_ms: ms(10, 30_000).default(500),
    /** Engine data older than this is stale: unknown and penalised, never idle. Default 4 × interval, at least 1000. */
    stale_after_ms: ms(100, 600_000).optional(),
    /** Scrapes in flight at once, across every endpoint. */
    concurrency: z.number().int().min(1).max(256).default(16),
    /** Largest /metrics body read, bytes. */
    max_bytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(8 * 1024 * 1024),
  })
  .prefault({});

export const modelScrapeSchema = z.strictObject({ enabled: z.boolean().optional(), ...scrapeBase }).optional();

export const healthSchema = z
  .strictObject({
    /** Consecutive failed outcomes (5xx, connect failures, retried-away attempts) that open kvfleet's circuit. */
    failure_threshold: z.number().int().min(1).max(1000).default(5),
    /** How long an open circuit keeps the endpoint out before one trial request; doubles per re-open. */
    open_ms: ms(100, 600_000).default(5000),
    max_open_ms: ms(100, 3_600_000).default(60_000),
    /** Weight of the newest outcome in the health score and the latency average. */
    ema_alpha: z.number().gt(0).max(1).default(0.2),
    /** Cooldown after a 429 without retry-after. */
    default_cooldown_ms: ms(0, 3_600_000).default(1000),
    /** Cap on any cooldown (retry-after, x-ratelimit-reset-*). */
    max_cooldown_ms: ms(0, 86_400_000).default(300_000),
  })
  .prefault({});

export type DiscoveryConfig = NonNullable<z.infer<typeof discoverySchema>>;
export type ScrapeConfig = z.infer<typeof scrapeSchema>;
export type ModelScrapeConfig = NonNullable<z.infer<typeof modelScrapeSchema>>;
export type HealthConfig = z.infer<typeof healthSchema>;

/** A model needs endpoints unless discovery can supply them or it is hosted (a `host`: the cluster's own LB picks). */
export function checkFleetStateRefs(
  fleet: { discovery?: unknown; models: ReadonlyArray<{ endpoints: readonly string[]; host?: string | undefined }> },
  ctx: z.core.$RefinementCtx,
): void {
  if (fleet.discovery !== undefined) return;
  fleet.models.forEach((m, i) => {
    if (m.endpoints.length === 0 && m.host === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['models', i, 'endpoints'],
        message: 'list at least one ip:port, set discovery.envoy_admin so kvfleet learns the cluster members from Envoy, or set host for a hosted provider',
      });
    }
  });
}
