// Prometheus metrics of one simulated replica, with vLLM V1 names, in its own prom-client Registry.
// Every series carries model_name (a registry default label). Gauges read live state at scrape time.
// vllm:kv_cache_usage_perc = KV blocks held by running requests / num_gpu_blocks (capped at 1), as
// in vLLM, where cached-but-idle blocks count as free. Prefix-cache counters are in tokens.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface LiveState {
  running: number;
  waiting: number;
  kvCacheUsage: number;
}

const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
const LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];

export class ReplicaMetrics {
  readonly registry = new Registry();
  readonly prefixQueries: Counter;
  readonly prefixHits: Counter;
  readonly ttft: Histogram;
  readonly e2eLatency: Histogram;
  readonly queueTime: Histogram;
  readonly requestSuccess: Counter<'finished_reason'>;
  readonly promptTokens: Counter;
  readonly generationTokens: Counter;
  private readonly cacheConfig: Gauge<'block_size' | 'num_gpu_blocks'>;

  constructor(
    modelName: string,
    private readonly blockSize: number,
    private readonly numGpuBlocks: number,
    live: () => LiveState,
  ) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ model_name: modelName });
    new Gauge({
      name: 'vllm:num_requests_running',
      help: 'Number of requests in model execution batches.',
      registers,
      collect() {
        this.set(live().running);
      },
    });
    new Gauge({
      name: 'vllm:num_requests_waiting',
      help: 'Number of requests waiting to be processed.',
      registers,
      collect() {
        this.set(live().waiting);
      },
    });
    new Gauge({
      name: 'vllm:kv_cache_usage_perc',
      help: 'KV-cache usage. 1 means 100 percent usage.',
      registers,
      collect() {
        this.set(live().kvCacheUsage);
      },
    });
    this.prefixQueries = new Counter({
      name: 'vllm:prefix_cache_queries_total',
      help: 'Prefix cache queries, in terms of number of queried tokens.',
      registers,
    });
    this.prefixHits = new Counter({
      name: 'vllm:prefix_cache_hits_total',
      help: 'Prefix cache hits, in terms of number of cached tokens.',
      registers,
    });
    this.ttft = new Histogram({
      name: 'vllm:time_to_first_token_seconds',
      help: 'Histogram of time to first token in seconds.',
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.e2eLatency = new Histogram({
      name: 'vllm:e2e_request_latency_seconds',
      help: 'Histogram of end to end request latency in seconds.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.queueTime = new Histogram({
      name: 'vllm:request_queue_time_seconds',
      help: 'Histogram of time spent in WAITING phase for request.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.requestSuccess = new Counter({
      name: 'vllm:request_success_total',
      help: 'Count of successfully processed requests.',
      labelNames: ['finished_reason'],
      registers,
    });
    this.promptTokens = new Counter({
      name: 'vllm:prompt_tokens_total',
      help: 'Number of prefill tokens processed.',
      registers,
    });
    this.generationTokens = new Counter({
      name: 'vllm:generation_tokens_total',
      help: 'Number of generation tokens processed.',
      registers,
    });
    this.cacheConfig = new Gauge({
      name: 'vllm:cache_config_info',
      help: 'Information of the LLMEngine CacheConfig',
      labelNames: ['block_size', 'num_gpu_blocks'],
      registers,
    });
    this.initSeries();
  }

  /** Zero every counter and histogram (cache_config_info stays 1). */
  reset(): void {
    this.registry.resetMetrics();
    this.initSeries();
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** cache_config_info = 1 and request_success_total{finished_reason} present at 0, as vLLM does. */
  private initSeries(): void {
    for (const reason of ['stop', 'length', 'abort']) this.requestSuccess.inc({ finished_reason: reason }, 0);
    this.cacheConfig.set({ block_size: String(this.blockSize), num_gpu_blocks: String(this.numGpuBlocks) }, 1);
  }
}
