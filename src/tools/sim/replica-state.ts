// Mutable state of one simulated replica: faults, prefix cache, admission queue, metrics, counters.
// Everything here is bounded: the cache LRU by cacheBlocks, the queue by maxWaiting, and the
// received-model tally by MAX_MODEL_NAMES distinct names (the rest are counted under "_other").
import { PrefixCache } from './prefix-cache.js';
import type { SimKvEvents } from './kv-events-sim.js';
import { AdmissionQueue } from './admission-queue.js';
import { ReplicaMetrics } from './replica-metrics.js';
import { SeededRandom } from './seeded-random.js';
import { faultsJson } from './fault-patch.js';
import type { FaultSettings, SimOptions } from './options.js';
import { SleepMode, type SleepPhase } from './sleep-mode.js';

const MAX_MODEL_NAMES = 64;
const MAX_MODEL_NAME_CHARS = 200;
const REQUEST_LOG = 64;

/** One inference request as a replica (or a provider stand-in) received it. */
export interface LoggedRequest {
  readonly path: string;
  /** An Authorization header came with it. */
  readonly authorization: boolean;
  /** It passed the key check (always true without --require-key). */
  readonly accepted: boolean;
  /** The JSON body as received (capped at 64 KiB); empty for a refused request. */
  readonly body: string;
}

export interface ReplicaStats {
  replica: number;
  port: number;
  model: string;
  requests: number;
  received_models: Record<string, number>;
  prefix_queries_tokens: number;
  prefix_hits_tokens: number;
  running: number;
  waiting: number;
  max_running_seen: number;
  errors_injected: number;
  completed: number;
  cache_blocks_used: number;
  cache_blocks_capacity: number;
  faults: Record<string, number | boolean>;
  sleep: { phase: SleepPhase; sleeps: number; wakes: number; refused: number };
}

export class ReplicaState {
  port = 0;
  faults: FaultSettings;
  readonly cache: PrefixCache;
  /** KV-cache events (--kv-events): real tokens, vLLM block hashes, a ZMQ publisher; set by Replica.start. */
  kv: SimKvEvents | undefined;
  readonly queue: AdmissionQueue;
  readonly metrics: ReplicaMetrics;
  readonly random: SeededRandom;
  requests = 0;
  completed = 0;
  errorsInjected = 0;
  prefixQueriesTokens = 0;
  prefixHitsTokens = 0;
  /** KV blocks held by running requests (for vllm:kv_cache_usage_perc). */
  kvBlocksInUse = 0;
  /** Sleep mode (vLLM /sleep, /wake_up; SGLang release/resume memory occupation). */
  readonly sleep: SleepMode;
  /** Inference requests refused because the replica slept. */
  refusedAsleep = 0;
  private readonly receivedModels = new Map<string, number>();
  private readonly requestLog: LoggedRequest[] = [];

  constructor(
    readonly index: number,
    readonly model: string,
    readonly opts: SimOptions,
  ) {
    this.faults = {
      errorRate: opts.errorRate,
      errorStatus: opts.errorStatus,
      retryAfter: opts.retryAfter,
      addedLatencyMs: opts.addedLatencyMs,
      refuse: opts.refuse.includes(index),
      unhealthy: false,
    };
    this.cache = new PrefixCache(opts.cacheBlocks, opts.blockTokens, opts.charsPerToken, () => this.kv);
    this.sleep = new SleepMode(opts.sleepMs, opts.wakeMs, () => this.cache.clear());
    this.queue = new AdmissionQueue(opts.maxConcurrency, opts.maxWaiting);
    this.random = new SeededRandom(opts.seed, index);
    this.metrics = new ReplicaMetrics(model, opts.blockTokens, opts.cacheBlocks, () => ({
      running: this.queue.running,
      waiting: this.queue.waiting,
      kvCacheUsage: Math.min(1, this.kvBlocksInUse / opts.cacheBlocks),
    }));
  }

  /**
   * The last REQUEST_LOG inference requests as received (path, whether an Authorization header
   * came, whether it was accepted, the body capped at 64 KiB): GET /sim/requests, for tests that
   * check what reached a replica or a provider.
   */
  recordRequest(path: string, authorization: boolean, accepted: boolean, body: string): void {
    this.requestLog.push({ path, authorization, accepted, body: body.slice(0, 65_536) });
    if (this.requestLog.length > REQUEST_LOG) this.requestLog.shift();
  }

  recentRequests(): readonly LoggedRequest[] {
    return this.requestLog;
  }

  /** Tally the `model` field a request arrived with. */
  recordModel(name: string): void {
    const key = name.length > MAX_MODEL_NAME_CHARS ? name.slice(0, MAX_MODEL_NAME_CHARS) : name;
    const seen = this.receivedModels.get(key);
    if (seen !== undefined) this.receivedModels.set(key, seen + 1);
    else if (this.receivedModels.size < MAX_MODEL_NAMES) this.receivedModels.set(key, 1);
    else this.receivedModels.set('_other', (this.receivedModels.get('_other') ?? 0) + 1);
  }

  /** Seeded draw: should this request fail with the injected error? */
  drawError(): boolean {
    if (this.faults.errorRate <= 0) return false;
    const fail = this.random.next() < this.faults.errorRate;
    if (fail) this.errorsInjected++;
    return fail;
  }

  /** Clear the cache, counters, metrics and the RNG sequence; faults are kept. */
  reset(): void {
    this.cache.clear();
    this.random.reset();
    this.requests = 0;
    this.completed = 0;
    this.errorsInjected = 0;
    this.refusedAsleep = 0;
    this.prefixQueriesTokens = 0;
    this.prefixHitsTokens = 0;
    this.receivedModels.clear();
    this.requestLog.length = 0;
    this.queue.resetPeak();
    this.metrics.reset();
  }

  stats(): ReplicaStats {
    return {
      replica: this.index,
      port: this.port,
      model: this.model,
      requests: this.requests,
      received_models: Object.fromEntries(this.receivedModels),
      prefix_queries_tokens: this.prefixQueriesTokens,
      prefix_hits_tokens: this.prefixHitsTokens,
      running: this.queue.running,
      waiting: this.queue.waiting,
      max_running_seen: this.queue.peakRunning,
      errors_injected: this.errorsInjected,
      completed: this.completed,
      cache_blocks_used: this.cache.size,
      cache_blocks_capacity: this.cache.capacity,
      faults: faultsJson(this.faults),
      sleep: { phase: this.sleep.phase, sleeps: this.sleep.sleeps, wakes: this.sleep.wakes, refused: this.refusedAsleep },
    };
  }
}
