// kvfleet's own Router as a benchmark policy: the same route() the ext_proc body phase
// calls and the finish() Envoy's access log leads to (src/router), over a fleet file
// generated for the simulated fleet (one model, one endpoint per replica).
//   request  the workload request rendered as chat messages (text.ts), x-session-id =
//            conversation id for multi-turn traffic (what a chat front end sends). Only the
//            text the decision reads is rendered: the fingerprint hashes at most
//            max_blocks × block characters and session inference reads one block past them,
//            so messages stop at (max_blocks + 1) × block characters; promptChars is the whole
//            prompt's. Same fingerprint, same decisions as with the whole text (test:
//            bench-fast-path), and the PII scan of admission reads that prefix only.
//   live     per endpoint: kvfleet's own in-flight count, healthy, and (engineMetrics) the
//            engine's running / waiting / KV usage / KV capacity — what the scrapers read from
//            vLLM's /metrics, exact and fresh here (production reads them every few seconds)
//   fleet    defaults of the fleet file except the facts of the fleet: endpoints, and
//            affinity.prefill_us_per_token = the replicas' prefill cost (configurable)
import { stringify } from 'yaml';
import type { Fleet } from '../../../config/fleet.js';
import { parseFleet } from '../../../config/load.js';
import { DEFAULT_STRATEGY } from '../../../config/names.js';
import { createLearnedState } from '../../../core/learned/learned-state.js';
import { seededRng } from '../../../core/rng.js';
import type { EndpointView, EngineLoad, LiveView, PreciseMatch } from '../../../core/types.js';
import type { RequestInput } from '../../../request/types.js';
import { blockChars } from '../../../core/fingerprint.js';
import { Router, type Routed, type RouteMeta } from '../../../router/router.js';
import type { FleetView, Policy, PolicyEnv, PolicyFactory, RoutedRequest } from '../policy.js';
import { chatMessages } from '../text.js';

export const BENCH_MODEL = 'bench-model';
const NO_HEADERS: ReadonlyMap<string, string> = new Map();

export interface KvfleetPolicyOptions {
  /** Strategy name (default: kvfleet's default strategy). */
  readonly strategy?: string;
  /** Give the core the engines' running/waiting/KV usage (as the scrapers would). Default true. */
  readonly engineMetrics?: boolean;
  /** Send x-session-id for multi-turn conversations. Default true. */
  readonly sessions?: boolean;
  /** Extra `affinity:` keys of the generated fleet file. */
  readonly affinity?: Record<string, unknown>;
  /** Display name. */
  readonly label?: string;
  /** A precise prefix index (the engines' KV events) over the simulated caches, one per run (kv-index-bench.ts). */
  readonly precise?: () => {
    lookup(r: RoutedRequest, view: FleetView, now: number): PreciseMatch;
    routed(endpoint: string, now: number): void;
    /** The request's blocks are cached (or not) on that replica now: the engine has reported them. */
    settled(r: RoutedRequest, endpoint: string): void;
  };
  /** Render the whole prompt text (the slow reference path; default: only what the decision reads). */
  readonly fullText?: boolean;
}

/** The fleet file the virtual benchmark gives kvfleet (also written by live-local). */
export function benchFleetFile(
  endpoints: readonly string[],
  o: {
    strategy: string;
    seed: number;
    prefillUsPerToken: number;
    affinity?: Record<string, unknown> | undefined;
    grpcPort?: number;
    adminPort?: number;
    modelId?: string;
    cluster?: string;
  },
): Record<string, unknown> {
  return {
    version: 1,
    // Virtual runs queue for minutes of simulated time: ends are never given up on.
    server: {
      grpc: { host: '127.0.0.1', port: o.grpcPort ?? 0 },
      admin: { host: '127.0.0.1', port: o.adminPort ?? 0 },
      max_body_bytes: 64 * 1024 * 1024,
      inflight_ttl_seconds: 86_400,
    },
    default_model: BENCH_MODEL,
    models: [
      {
        name: BENCH_MODEL,
        aliases: o.modelId !== undefined && o.modelId !== BENCH_MODEL ? [o.modelId] : [],
        cluster: o.cluster ?? 'pool-bench',
        model_id: o.modelId ?? BENCH_MODEL,
        engine: 'vllm',
        type: 'chat',
        endpoints: [...endpoints],
        capabilities: { context_length: 1_000_000 },
      },
    ],
    routing: { strategy: o.strategy, seed: o.seed },
    affinity: { prefill_us_per_token: o.prefillUsPerToken, ...(o.affinity ?? {}) },
  };
}

export function buildBenchFleet(endpoints: readonly string[], o: Parameters<typeof benchFleetFile>[1]): Fleet {
  const res = parseFleet(stringify(benchFleetFile(endpoints, o)));
  if (!res.ok) throw new Error(`bench fleet file is invalid:\n  ${res.problems.join('\n  ')}`);
  return res.fleet;
}

/**
 * The live view over the simulated fleet's arrays. endpoint() fills one reused view
 * (the core reads a view at once and keeps nothing), so a 1,000-replica decision
 * allocates nothing here.
 */
class SimLive implements LiveView {
  view: FleetView | undefined;
  private readonly engine = { running: 0, waiting: 0, kvUsage: 0, capacityBlocks: 0 as number | undefined, blockTokens: 0 as number | undefined };
  private readonly out: { inflight: number; healthy: true; stale: false; engine: EngineLoad | undefined } = {
    inflight: 0,
    healthy: true,
    stale: false,
    engine: undefined,
  };

  constructor(
    private readonly replicaOf: ReadonlyMap<string, number>,
    private readonly withEngine: boolean,
  ) {}

  endpoint(address: string): EndpointView | undefined {
    const r = this.replicaOf.get(address);
    const v = this.view;
    if (r === undefined || v === undefined) return undefined;
    const o = this.out;
    o.inflight = v.inflight[r] as number;
    if (this.withEngine) {
      const e = this.engine;
      e.running = v.running[r] as number;
      e.waiting = v.waiting[r] as number;
      e.kvUsage = Math.min(1, (v.kvBlocksInUse[r] as number) / v.cacheBlocks);
      e.capacityBlocks = v.cacheBlocks;
      e.blockTokens = v.blockTokens;
      o.engine = e;
    }
    return o;
  }
}

export function kvfleetFactory(opts: KvfleetPolicyOptions = {}): PolicyFactory {
  const strategy = opts.strategy ?? DEFAULT_STRATEGY;
  const label = opts.label ?? `kvfleet:${strategy}`;
  return {
    name: label,
    create(env: PolicyEnv): Policy {
      const fleet = buildBenchFleet(env.addresses, { strategy, seed: env.seed, prefillUsPerToken: env.prefillUsPerToken, affinity: opts.affinity });
      const replicaOf = new Map(env.addresses.map((a, r) => [a, r]));
      const live = new SimLive(replicaOf, opts.engineMetrics !== false);
      let clock = 0;
      // No endpoints state: the simulation counts in-flight itself and models no failures.
      let current: { r: RoutedRequest; view: FleetView } | undefined;
      const precise = opts.precise?.();
      const kvIndex =
        precise !== undefined
          ? {
              lookup: () => (current !== undefined ? precise.lookup(current.r, current.view, clock) : undefined),
              routed: (_m: unknown, ep: string) => precise.routed(ep, clock),
            }
          : undefined;
      const router = new Router({ fleet: () => fleet, live, state: createLearnedState(fleet, seededRng(env.seed)), now: () => clock, kvIndex });
      const pending = new Map<number, Routed>();
      const sessions = opts.sessions !== false;
      const bc = blockChars(fleet.affinity);
      const textLimit = opts.fullText === true ? Infinity : (fleet.affinity.max_blocks + 1) * bc;
      return {
        name: label,
        pick(r: RoutedRequest, view: FleetView, now: number, out: Int32Array) {
          live.view = view;
          clock = now;
          current = { r, view };
          const messages = chatMessages(r.req.spans, env.charsPerToken, textLimit);
          const chars = r.req.promptTokens * env.charsPerToken;
          const segments = messages.map((m) => ({ role: m.role, text: m.content }));
          const input: RequestInput = {
            api: 'chat',
            model: BENCH_MODEL,
            stream: true,
            segments,
            promptChars: chars,
            hasTools: false,
            jsonMode: false,
            hasImages: false,
            maxOutputTokens: r.req.outputTokens,
            user: undefined,
            body: {},
            bodyChanged: false,
          };
          const meta: RouteMeta = {
            sessionId: sessions && r.req.session >= 0 ? `conv-${r.req.session}` : undefined,
            overrides: { strategy: undefined, models: undefined, priority: 'normal' },
          };
          const routed = router.routeNow(router.admit(String(r.req.id), input, meta));
          pending.set(r.req.id, routed);
          let k = 0;
          for (const a of routed.decision.endpoints) {
            const e = replicaOf.get(a);
            if (e !== undefined && k < out.length) out[k++] = e;
          }
          return k;
        },
        onComplete(r: RoutedRequest, replica: number, now: number, ttftMs: number) {
          precise?.settled(r, env.addresses[replica] as string);
          const routed = pending.get(r.req.id);
          if (routed === undefined) return;
          pending.delete(r.req.id);
          // The end as Envoy's access log reports it (time to first byte = TTFT here).
          clock = now;
          router.finish(routed, {
            status: Number.isNaN(ttftMs) ? 503 : 200,
            served: env.addresses[replica],
            attempts: 1,
            ttfbMs: Number.isNaN(ttftMs) ? undefined : ttftMs,
            headers: NO_HEADERS,
          });
        },
      };
    },
  };
}
