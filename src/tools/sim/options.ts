// Options of the simulated vLLM-like replicas (`kvfleet sim`): defaults, fault settings and validation.
// Every knob has a default so `startSim({})` works; `resolveSimOptions` merges and checks ranges.

/** HTTP statuses a replica can be told to fail with. */
export const ERROR_STATUSES = [500, 503, 429] as const;
export type ErrorStatus = (typeof ERROR_STATUSES)[number];

export interface SimOptions {
  /** Number of replicas (servers) to run. */
  replicas: number;
  /** Replica i listens on basePort + i; 0 = each replica takes a free ephemeral port. */
  basePort: number;
  /** Interface to bind. */
  host: string;
  /** Served model id; a comma list gives replica i the (i mod n)-th id. */
  model: string;
  /** Tokens per KV block (vLLM block_size). */
  blockTokens: number;
  /** Characters per simulated token: tokens = ceil(chars / charsPerToken). */
  charsPerToken: number;
  /** Capacity of the prefix-cache LRU, in blocks (reported as num_gpu_blocks). */
  cacheBlocks: number;
  /** Prefill cost per uncached prompt token, microseconds. */
  prefillUsPerToken: number;
  /** Decode time per output token, milliseconds. */
  decodeMsPerToken: number;
  /** Requests running at once; the rest wait in a FIFO queue. */
  maxConcurrency: number;
  /** Bound of the FIFO queue; a request arriving when it is full gets 503. */
  maxWaiting: number;
  /** Output tokens when the request sets neither max_tokens nor max_completion_tokens. */
  defaultMaxTokens: number;
  /** Context window: prompt + output tokens above it → 400 like vLLM. */
  maxModelLen: number;
  /** Probability (0..1) that an inference request is answered with errorStatus at once. */
  errorRate: number;
  /** Status of injected errors. */
  errorStatus: ErrorStatus;
  /** Seconds sent in `retry-after` with injected 429s. */
  retryAfter: number;
  /** Extra latency added before each inference request is queued, milliseconds. */
  addedLatencyMs: number;
  /** Replica indexes that start with their port closed. */
  refuse: number[];
  /** Port of the admin HTTP server (0 = none). */
  adminPort: number;
  /** Seed of the deterministic error draw. */
  seed: number;
  /** Serve HTTPS with this certificate and key (PEM files): a hosted provider's stand-in. */
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  /** Refuse API requests (401) that do not carry `Authorization: Bearer <requireKey>`, as a provider does. */
  requireKey?: string | undefined;
  /** Serve the API under this path prefix (e.g. `/provider`), as some providers do; '' = none. */
  pathPrefix: string;
  /** Sleep mode: how long falling asleep takes (POST /sleep), milliseconds. */
  sleepMs: number;
  /** Sleep mode: how long waking takes (POST /wake_up), milliseconds. */
  wakeMs: number;
  /** Publish vLLM KV-cache events (kv-events-sim.ts): prompts tokenized for real, cache keyed by vLLM block hashes. */
  kvEvents: boolean;
  /** Replica i's PUB socket binds kvEventsPort + i; 0 = ephemeral ports. */
  kvEventsPort: number;
  /** tokenizer.json for --kv-events (default: the bundled test tokenizer). */
  kvTokenizer?: string | undefined;
  /** Jinja chat template file (default: tokenizer_config.json's chat_template). */
  kvChatTemplate?: string | undefined;
  /** PYTHONHASHSEED of the simulated engine. */
  kvHashSeed: string;
}

export const defaultSimOptions: Readonly<SimOptions> = Object.freeze({
  replicas: 2,
  basePort: 18001,
  host: '127.0.0.1',
  model: 'sim-model',
  blockTokens: 16,
  charsPerToken: 4,
  cacheBlocks: 2048,
  prefillUsPerToken: 50,
  decodeMsPerToken: 2,
  maxConcurrency: 8,
  maxWaiting: 4096,
  defaultMaxTokens: 16,
  maxModelLen: 32768,
  errorRate: 0,
  errorStatus: 503,
  retryAfter: 1,
  addedLatencyMs: 0,
  refuse: [],
  adminPort: 0,
  seed: 1,
  pathPrefix: '',
  sleepMs: 200,
  wakeMs: 1000,
  kvEvents: false,
  kvEventsPort: 0,
  kvHashSeed: '0',
});

/** Runtime-switchable faults of one replica. */
export interface FaultSettings {
  errorRate: number;
  errorStatus: ErrorStatus;
  retryAfter: number;
  addedLatencyMs: number;
  /** Port closed (server not listening). */
  refuse: boolean;
  /** GET /health answers 503. */
  unhealthy: boolean;
}

export function isErrorStatus(n: number): n is ErrorStatus {
  return (ERROR_STATUSES as readonly number[]).includes(n);
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`sim option ${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
}

function checkNum(name: string, v: number, min: number, max: number): void {
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new RangeError(`sim option ${name} must be a number in [${min}, ${max}], got ${v}`);
  }
}

/** Merge with defaults and validate; throws RangeError naming the bad option. */
export function resolveSimOptions(partial: Partial<SimOptions> = {}): SimOptions {
  const o: SimOptions = { ...defaultSimOptions, ...partial, refuse: [...(partial.refuse ?? defaultSimOptions.refuse)] };
  checkInt('replicas', o.replicas, 1, 1024);
  checkInt('basePort', o.basePort, 0, 65535);
  if (o.basePort > 0) checkInt('basePort + replicas - 1', o.basePort + o.replicas - 1, 1, 65535);
  if (o.host.length === 0) throw new RangeError('sim option host must not be empty');
  if (modelIds(o.model).length === 0) throw new RangeError('sim option model must name at least one model id');
  checkInt('blockTokens', o.blockTokens, 1, 65536);
  checkInt('charsPerToken', o.charsPerToken, 1, 1024);
  checkInt('cacheBlocks', o.cacheBlocks, 1, 10_000_000);
  checkNum('prefillUsPerToken', o.prefillUsPerToken, 0, 1_000_000);
  checkNum('decodeMsPerToken', o.decodeMsPerToken, 0, 60_000);
  checkInt('maxConcurrency', o.maxConcurrency, 1, 100_000);
  checkInt('maxWaiting', o.maxWaiting, 0, 1_000_000);
  checkInt('defaultMaxTokens', o.defaultMaxTokens, 1, 1_000_000);
  checkInt('maxModelLen', o.maxModelLen, 1, 100_000_000);
  checkNum('errorRate', o.errorRate, 0, 1);
  if (!isErrorStatus(o.errorStatus)) throw new RangeError(`sim option errorStatus must be one of ${ERROR_STATUSES.join('|')}`);
  checkNum('retryAfter', o.retryAfter, 0, 86_400);
  checkNum('addedLatencyMs', o.addedLatencyMs, 0, 600_000);
  for (const i of o.refuse) checkInt('refuse[]', i, 0, o.replicas - 1);
  checkInt('adminPort', o.adminPort, 0, 65535);
  checkNum('sleepMs', o.sleepMs, 0, 600_000);
  checkNum('wakeMs', o.wakeMs, 0, 600_000);
  checkInt('kvEventsPort', o.kvEventsPort, 0, 65535);
  if (o.kvEventsPort > 0) checkInt('kvEventsPort + replicas - 1', o.kvEventsPort + o.replicas - 1, 1, 65535);
  checkInt('seed', o.seed, -(2 ** 53 - 1), 2 ** 53 - 1);
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new RangeError('sim options tlsCert and tlsKey go together');
  if (o.pathPrefix !== '' && (!o.pathPrefix.startsWith('/') || o.pathPrefix.endsWith('/'))) {
    throw new RangeError(`sim option pathPrefix must start with / and not end with one, got ${o.pathPrefix}`);
  }
  return o;
}

/** Model ids from the `model` option (comma list, blanks dropped). */
export function modelIds(model: string): string[] {
  return model
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Model id served by replica `index`. */
export function modelForReplica(model: string, index: number): string {
  const ids = modelIds(model);
  return ids[index % ids.length] ?? 'sim-model';
}
