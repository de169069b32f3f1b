// zod schemas of the fleet file's `routing:` and `affinity:` sections. Every key
// has a default, so a fleet file without these sections stays valid. Names that
// refer to models (static_model, rules[].model, domains, model_weights, cascade)
// are checked against models[] by checkRoutingRefs (called from schema.ts).
import { z } from 'zod';
import { API_KINDS, DEFAULT_STRATEGY, DEFAULT_WEIGHTS, DOMAINS, PRIORITIES, SCORE_DIMENSIONS, STRATEGY_NAMES, type ScoreDimension } from './names.js';

const unit = z.number().min(0).max(1);
const nonNeg = z.number().min(0);

/** Weights of the multi-objective score (hybrid_score); applied outside the scorers, normalised by their sum. */
const weightFields = {} as Record<ScoreDimension, z.ZodDefault<z.ZodNumber>>;
for (const d of SCORE_DIMENSIONS) weightFields[d] = nonNeg.default(DEFAULT_WEIGHTS[d]);
// All zero is the problem only when every weight is valid (a negative one is reported by itself).
const weightsSchema = z.strictObject(weightFields).refine((w) => SCORE_DIMENSIONS.some((d) => w[d] > 0), {
  message: 'at least one weight must be positive',
  when: (payload) => payload.issues.length === 0,
});

const ruleSchema = z.strictObject({
  name: z.string().min(1),
  /** Every given condition must hold (AND); an empty `when` always matches. */
  when: z
    .strictObject({
      domain: z.array(z.enum(DOMAINS)).min(1).optional(),
      api: z.array(z.enum(API_KINDS)).min(1).optional(),
      priority: z.array(z.enum(PRIORITIES)).min(1).optional(),
      min_prompt_tokens: z.number().int().min(0).optional(),
      max_prompt_tokens: z.number().int().min(0).optional(),
      tools: z.boolean().optional(),
      json_mode: z.boolean().optional(),
      images: z.boolean().optional(),
      session: z.boolean().optional(),
    })
    .prefault({}),
  model: z.string().min(1),
});

const banditSchema = z
  .strictObject({
    /** epsilon_greedy: exploration probability ε, multiplied by epsilon_decay after each outcome, floored at epsilon_min. */
    epsilon: unit.default(0.1),
    epsilon_decay: z.number().gt(0).max(1).default(1),
    epsilon_min: unit.default(0.01),
    /** ucb1: exploration constant c in mean + c·sqrt(ln N / n). */
    ucb_c: nonNeg.default(Math.SQRT2),
    /** exp3: exploration share γ. */
    exp3_gamma: z.number().gt(0).max(1).default(0.1),
    /** Reward = success · (1 − latency_weight·min(1, ms/latency_target_ms) − cost_weight·min(1, usd/cost_ref_usd)). */
    latency_target_ms: z.number().positive().default(2000),
    latency_weight: unit.default(0.5),
    cost_weight: unit.default(0.2),
  })
  .prefault({});

export const routingSchema = z
  .strictObject({
    /** Strategy when the request has no x-kvfleet-strategy header. */
    strategy: z.enum(STRATEGY_NAMES).default(DEFAULT_STRATEGY),
    weights: weightsSchema.prefault({}),
    /** Scorer references: latency score = 1/(1 + ms/latency_ref_ms), cost score = 1/(1 + usd/cost_ref_usd). */
    latency_ref_ms: z.number().positive().default(1000),
    cost_ref_usd: z.number().positive().default(0.01),
    /** `static`: the model it always picks (default: default_model, else the first model). */
    static_model: z.string().min(1).optional(),
    /** `weighted`: relative traffic share per model name (missing models get 1). */
    model_weights: z.record(z.string(), nonNeg).default({}),
    /**
     * Model fallback order: when the chosen model has no usable endpoint (all unhealthy or
     * cooling), the decision moves to the next model in this list that passes the capability
     * filters and policy; none → 503 no_compliant_endpoint.
     */
    fallback: z.array(z.string().min(1)).optional(),
    /** `cheap_cascade`: explicit escalation order (default: by price, then quality). */
    cascade: z.array(z.string().min(1)).optional(),
    /** `rules`: first matching rule whose model passed the filters wins. */
    rules: z.array(ruleSchema).default([]),
    /** `domain`: classified domain → model (keys: coding, math, creative, medical, legal, scientific, translation, summarization, general). */
    domains: z.partialRecord(z.enum(DOMAINS), z.string().min(1)).default({}),
    bandit: banditSchema,
    /** How many recent decisions GET /debug/decisions/{id} can find. */
    decision_ring: z.number().int().min(1).max(1_000_000).default(1024),
    /** Seed of the routing RNG (weighted, random, bandits); unset = seeded from the clock at start. */
    seed: z.number().int().optional(),
  })
  .prefault({});

export const affinitySchema = z
  .strictObject({
    /** Tokens per fingerprint block, and the characters-per-token estimate: block = block_tokens × chars_per_token chars. */
    block_tokens: z.number().int().min(1).max(4096).default(64),
    chars_per_token: z.number().min(1).max(64).default(4),
    /** Blocks of a prompt considered (hashing and matching stop there). */
    max_blocks: z.number().int().min(1).max(65536).default(256),
    /** Prefix-index capacity per endpoint, in blocks, when the engine does not report its KV capacity. */
    index_capacity_blocks: z.number().int().min(1).max(10_000_000).default(8192),
    /** Endpoints the prefix index tracks at most (least recently routed forgotten first). */
    index_max_endpoints: z.number().int().min(1).max(100_000).default(4096),
    /** Session pins (x-session-id, and the body's `user` when session_from_user). */
    session_ttl_s: z
      .number()
      .positive()
      .max(7 * 86400)
      .default(1800),
    session_from_user: z.boolean().default(false),
    /** Sessions without ids: a prompt that extends a recent prompt whole is that conversation's next turn. */
    infer_sessions: z.boolean().default(true),
    session_capacity: z.number().int().min(1).max(10_000_000).default(100_000),
    /** CHWBL: an endpoint accepts a new key while load + 1 ≤ ceil(load_bound · (total + 1) / healthy endpoints). */
    load_bound: z.number().min(1).max(100).default(1.25),
    /**
     * Scale the CHWBL slack by how often prompt starts recur: effective bound =
     * 1 + (load_bound − 1) · reuse, reuse = EWMA share of recent requests whose first block
     * was already in the prefix index. Traffic that never repeats a prefix gains nothing from
     * placing first-seen prompts at their ring home, so it gets the tightest balance (bound 1).
     */
    adaptive_bound: z.boolean().default(true),
    virtual_nodes: z.number().int().min(1).max(1000).default(100),
    /** TTFT estimate: prefill_us_per_token · uncached tokens + queue wait. */
    prefill_us_per_token: nonNeg.default(100),
    /**
     * Queue wait per request in flight / running on the endpoint, and per request waiting in
     * its engine queue. Engines batch continuously: a running request slows a new one a little
     * (10 ms), a queued one delays it a lot (200 ms). 10 was chosen from the virtual-time
     * benchmark (docs/benchmarks.md): 30 gave away full-prompt hits to avoid one extra request
     * in flight (hit rate 88% of the ceiling); 5 over-packed hot replicas (max/mean > 1.3).
     */
    wait_ms_per_request: nonNeg.default(10),
    wait_ms_per_queued: nonNeg.default(200),
    /** KV usage at or above kv_full_threshold adds kv_full_penalty_ms (preemption risk). */
    kv_full_threshold: unit.default(0.95),
    kv_full_penalty_ms: nonNeg.default(500),
    /** Stale engine metrics: unknown, never idle; adds this much to the estimate. */
    stale_penalty_ms: nonNeg.default(100),
  })
  .prefault({});

export type RoutingConfig = z.infer<typeof routingSchema>;
export type AffinityConfig = z.infer<typeof affinitySchema>;
export type RoutingRule = RoutingConfig['rules'][number];
export type ScoreWeights = RoutingConfig['weights'];

interface RefContext {
  addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void;
}

/** Model names in `routing:` must name models (or aliases) of models[]. */
export function checkRoutingRefs(routing: RoutingConfig, names: ReadonlySet<string>, ctx: RefContext): void {
  const check = (name: string, path: (string | number)[]) => {
    if (!names.has(name)) ctx.addIssue({ code: 'custom', path: ['routing', ...path], message: `"${name}" is not a model name or alias in models[]` });
  };
  if (routing.static_model !== undefined) check(routing.static_model, ['static_model']);
  for (const k of Object.keys(routing.model_weights)) check(k, ['model_weights', k]);
  routing.cascade?.forEach((n, i) => check(n, ['cascade', i]));
  routing.fallback?.forEach((n, i) => check(n, ['fallback', i]));
  routing.rules.forEach((r, i) => check(r.model, ['rules', i, 'model']));
  for (const [d, n] of Object.entries(routing.domains)) if (n !== undefined) check(n, ['domains', d]);
}
