// The fleet file schema (zod). Validated once at the edge; the rest of kvfleet
// receives the frozen, typed result (see load.ts). Unknown keys are errors, so a
// typo in the file is reported instead of silently ignored.
import { z } from 'zod';
import { affinitySchema, checkRoutingRefs, routingSchema } from './routing-schema.js';
import { checkFleetStateRefs, discoverySchema, healthSchema, modelScrapeSchema, scrapeSchema } from './live-state-schema.js';
import { BODY_MODES, ENGINES, MODEL_TYPES } from './names.js';
import { checkPolicyRefs, identitySchema, policySchema, tenantsSchema } from './policy-schema.js';
import { endpointAddress } from './endpoint-address.js';
import { kvEventsSchema } from './kv-events-schema.js';
import { modelSleepSchema, SLEEP_ENGINES, trafficSchema } from './sleep-schema.js';
import { budgetSchema, flowControlSchema, meteringSchema, providersSchema, rateLimitSchema, stateSchema } from './usage-schema.js';
import { checkShadowRefs, shadowSchema } from './shadow-schema.js';
import { checkResponseCacheRefs, responseCacheSchema } from './response-cache-schema.js';
import { recordSchema } from './record-schema.js';

const listen = (defaultPort: number) =>
  z.strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(defaultPort),
  });

const modelSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9._:/-]+$/, 'letters, digits and . _ : / - only'),
  aliases: z.array(z.string().min(1)).default([]),
  /** Envoy cluster holding this model's replicas; the route reads it from x-kvfleet-cluster. */
  cluster: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9._-]+$/, 'an Envoy cluster name: letters, digits and . _ - only'),
  /** The name the replicas know the model by; the body's `model` is rewritten to it. */
  model_id: z.string().min(1),
  engine: z.enum(ENGINES).default('vllm'),
  type: z.enum(MODEL_TYPES).default('chat'),
  endpoints: z.array(endpointAddress).default([]),
  /**
   * Upstream host for hosted providers (hybrid fleets): kvfleet sets :authority to it and sends
   * no endpoint list (the cluster's own load balancer picks among the provider's addresses).
   */
  host: z.string().min(1).optional(),
  /** Who runs it, for policy rules and tenants' blocked_providers (default: `self` without host, else the host). */
  provider: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9._:-]+$/)
    .optional(),
  capabilities: z
    .strictObject({
      tools: z.boolean().default(true),
      json_mode: z.boolean().default(true),
      vision: z.boolean().default(false),
      context_length: z.number().int().positive().default(8192),
    })
    .prefault({}),
  priors: z
    .strictObject({
      quality: z.number().min(0).max(1).default(0.5),
      cost_per_1k_input: z.number().min(0).default(0),
      cost_per_1k_output: z.number().min(0).default(0),
      latency_p50_ms: z.number().positive().default(500),
    })
    .prefault({}),
  tags: z.record(z.string(), z.string()).default({}),
  /** Where it runs, for residency rules and tenants' regions. */
  region: z.string().min(1).optional(),
  /** Data classes it may receive (policy.data_classes names); unset: every class. */
  data_classes: z.array(z.string().min(1)).min(1).optional(),
  /** Engine metric scraping overrides for this model's endpoints (fleet-state-schema.ts). */
  scrape: modelScrapeSchema,
  /** Requests and tokens per minute for this model, all tenants together (usage-schema.ts). */
  limits: rateLimitSchema.optional(),
  /** Spending on this model, all tenants together. */
  budget: budgetSchema.optional(),
  /** Idle sleep and wake-on-request through the engine's API (sleep-schema.ts); vllm and sglang only. */
  sleep: modelSleepSchema.optional(),
  /** Precise prefix index from the engines' KV-cache events (kv-events-schema.ts); vllm self-hosted only. */
  kv_events: kvEventsSchema.optional(),
});

export const fleetSchema = z
  .strictObject({
    version: z.literal(1).default(1),
    server: z
      .strictObject({
        grpc: listen(9002).prefault({}),
        admin: listen(9003).prefault({}),
        /** Requests with a larger body get a 413 from kvfleet. */
        max_body_bytes: z
          .number()
          .int()
          .positive()
          .max(64 * 1024 * 1024)
          .default(4 * 1024 * 1024),
        /** Seconds SIGTERM waits for open streams before closing them. */
        drain_seconds: z.number().min(0).max(600).default(10),
        /**
         * Reload the fleet file (and identity.keys_file) when their content changes, checked this
         * often (a ConfigMap update, an edit); 0 = only on SIGHUP. An invalid file keeps the fleet.
         */
        watch_seconds: z.number().min(0).max(3600).default(5),
        /**
         * How the ext_proc filter sends request bodies. auto: as it announces in protocol_config
         * (Envoy 1.40 does), BUFFERED when it announces nothing. buffered / full-duplex: for proxies
         * that announce nothing; an announcement that contradicts the setting is a 500.
         */
        body_mode: z.enum(BODY_MODES).default('auto'),
        /** Full duplex: a request body not complete this many seconds after its headers gets a 408. */
        body_timeout_seconds: z.number().positive().max(3600).default(30),
        /**
         * A routed request whose end (Envoy's access log) has not arrived after this long without
         * news is released from its endpoint's in-flight count. Long streams refresh it with
         * Envoy's periodic entries (access_log_flush_interval in envoy/envoy.yaml: 10 s).
         */
        inflight_ttl_seconds: z.number().positive().max(86_400).default(60),
        /** Routed requests tracked until their end, at most (the oldest is released beyond it). */
        max_pending_requests: z.number().int().min(1).max(10_000_000).default(100_000),
        /** Full duplex: bytes of request bodies held at once, all requests together; past it, 503. */
        max_held_body_bytes: z
          .number()
          .int()
          .positive()
          .max(16 * 1024 * 1024 * 1024)
          .default(256 * 1024 * 1024),
      })
      .prefault({}),
    /** The `static` strategy's model; wins ties when a strategy chooses for `auto`. */
    default_model: z.string().min(1).optional(),
    models: z.array(modelSchema).min(1, 'at least one model is required'),
    /** Strategy, weights, rules, domain map, bandit parameters (routing-schema.ts). */
    routing: routingSchema,
    /** Fingerprint blocks, prefix index, session pins, CHWBL load bound, TTFT estimate (routing-schema.ts). */
    affinity: affinitySchema,
    /** Envoy admin discovery, engine scraping, kvfleet's own health rules (fleet-state-schema.ts). */
    discovery: discoverySchema,
    scrape: scrapeSchema,
    health: healthSchema,
    /** Data classes, PII detection, rules (policy-schema.ts). */
    policy: policySchema,
    /** Where a request's tenant comes from (policy-schema.ts). */
    identity: identitySchema,
    /** Per-tenant models, classes, regions, providers, priority, strategy, limits, budget (policy-schema.ts). */
    tenants: tenantsSchema,
    /** Provider accounts (models[].provider): their rate limits and budgets (usage-schema.ts). */
    providers: providersSchema,
    /** Where usage, limits, session pins, cooldowns and circuits live: memory or redis. */
    state: stateSchema,
    /** Priority lanes when a pool is saturated. */
    flow_control: flowControlSchema,
    /** Which requests' token usage kvfleet reads from their responses. */
    metering: meteringSchema,
    /** Idle/active classification and the longest stats window (sleep-schema.ts). */
    traffic: trafficSchema,
    /** Shadow traffic: a sampled share of a model's requests mirrored to candidate models (shadow-schema.ts). */
    shadow: shadowSchema,
    /** Exact-match cache of deterministic non-streamed requests (response-cache-schema.ts). */
    response_cache: responseCacheSchema,
    /** Recording of requests to a JSON Lines file for `kvfleet replay` (record-schema.ts). */
    record: recordSchema,
  })
  // Runs even when other parts of the file are invalid (zod's `when`), so `kvfleet validate`
  // reports every problem at once: the value then holds the parsed sections and the raw
  // invalid ones, so each cross-check reads only sections that parse on their own.
  .superRefine((fleet, ctx) => crossCheck(fleet, ctx), { when: () => true });

/** The fleet as a cross-check sees it: any section may still be raw, unparsed input. */
interface LooseFleet {
  readonly models?: unknown;
  readonly default_model?: unknown;
  readonly routing?: unknown;
  readonly policy?: unknown;
  readonly identity?: unknown;
  readonly tenants?: unknown;
  readonly discovery?: unknown;
  readonly providers?: unknown;
  readonly shadow?: unknown;
  readonly response_cache?: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const parses = <S extends z.ZodType>(schema: S, v: unknown): v is z.output<S> => schema.safeParse(v).success;

/** Names, aliases and endpoints unique; default_model names a model; references of routing, policy and live state resolve. */
function crossCheck(fleet: LooseFleet, ctx: z.core.$RefinementCtx): void {
  const seen = new Map<string, string>();
  const models = Array.isArray(fleet.models) ? fleet.models : [];
  models.forEach((m: unknown, i) => {
    if (!isRecord(m)) return;
    const names: Array<[unknown, (string | number)[]]> = [[m['name'], ['models', i, 'name']]];
    if (Array.isArray(m['aliases'])) m['aliases'].forEach((a: unknown, j) => names.push([a, ['models', i, 'aliases', j]]));
    for (const [n, path] of names) {
      if (typeof n !== 'string') continue;
      if (n === 'auto') {
        ctx.addIssue({ code: 'custom', path, message: '"auto" is reserved: it resolves to default_model' });
        continue;
      }
      const prev = seen.get(n);
      if (prev !== undefined) {
        ctx.addIssue({ code: 'custom', path, message: `"${n}" is already used by ${prev}` });
      } else {
        seen.set(n, `models[${i}]`);
      }
    }
    if (m['sleep'] !== undefined) {
      const engine = typeof m['engine'] === 'string' ? m['engine'] : 'vllm';
      if (m['host'] !== undefined || !SLEEP_ENGINES.some((e) => e === engine)) {
        ctx.addIssue({
          code: 'custom',
          path: ['models', i, 'sleep'],
          message: `sleep needs a self-hosted model on engine ${SLEEP_ENGINES.join(' or ')} (this one is ${m['host'] !== undefined ? 'hosted' : engine})`,
        });
      }
    }
    if (m['kv_events'] !== undefined && (m['host'] !== undefined || (m['engine'] ?? 'vllm') !== 'vllm')) {
      ctx.addIssue({ code: 'custom', path: ['models', i, 'kv_events'], message: 'kv_events needs a self-hosted model on engine vllm' });
    }
    const eps = new Set<unknown>();
    if (Array.isArray(m['endpoints'])) {
      m['endpoints'].forEach((e: unknown, j) => {
        if (typeof e === 'string' && eps.has(e)) ctx.addIssue({ code: 'custom', path: ['models', i, 'endpoints', j], message: `duplicate endpoint ${e}` });
        eps.add(e);
      });
    }
  });
  if (isRecord(fleet.providers)) {
    const providers = new Set(models.map((m: unknown) => (isRecord(m) ? (m['provider'] ?? (m['host'] === undefined ? 'self' : m['host'])) : undefined)));
    for (const p of Object.keys(fleet.providers)) {
      if (!providers.has(p)) ctx.addIssue({ code: 'custom', path: ['providers', p], message: `no model has provider "${p}"` });
    }
  }
  const dm = fleet.default_model;
  if (typeof dm === 'string' && models.length > 0 && !models.some((m: unknown) => isRecord(m) && m['name'] === dm)) {
    ctx.addIssue({ code: 'custom', path: ['default_model'], message: `"${dm}" is not the name of a model in models[]` });
  }
  const names = new Set(seen.keys());
  if (parses(routingSchema, fleet.routing)) checkRoutingRefs(fleet.routing, names, ctx);
  const modelsOk = parses(z.array(modelSchema), fleet.models);
  if (modelsOk && parses(policySchema, fleet.policy) && parses(identitySchema, fleet.identity) && parses(tenantsSchema, fleet.tenants)) {
    checkPolicyRefs({ policy: fleet.policy, identity: fleet.identity, tenants: fleet.tenants, models: fleet.models }, names, ctx);
  }
  if (modelsOk && parses(discoverySchema, fleet.discovery)) checkFleetStateRefs({ discovery: fleet.discovery, models: fleet.models }, ctx);
  if (modelsOk && parses(shadowSchema, fleet.shadow)) {
    const resolve = new Map<string, string>();
    for (const m of fleet.models) for (const n of [m.name, ...m.aliases]) resolve.set(n, m.name);
    checkShadowRefs(fleet.shadow, resolve, ctx);
  }
  checkResponseCacheRefs(fleet.response_cache, names, ctx);
}

export type FleetFile = z.infer<typeof fleetSchema>;
export type ModelFile = FleetFile['models'][number];
