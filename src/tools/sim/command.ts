// `kvfleet sim`: run N simulated vLLM-like OpenAI servers on loopback until SIGTERM/SIGINT.
// Prints "sim replica <i> model=<id> listening on <host>:<port>" per replica (refused replicas:
// "sim replica <i> model=<id> refused on <host>:<port> (port closed)"), then
// "sim admin listening on <host>:<port>" when --admin-port is set.
import { InvalidArgumentError, type Command } from 'commander';
import { defaultSimOptions, type ErrorStatus, type SimOptions } from './options.js';
import { startSim } from './index.js';

function intArg(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer in [${min}, ${max}]`);
    }
    return n;
  };
}

function numArg(min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a number in [${min}, ${max}]`);
    }
    return n;
  };
}

function statusArg(v: string): ErrorStatus {
  if (v === '500' || v === '503' || v === '429') return Number(v) as ErrorStatus;
  throw new InvalidArgumentError('expected 500, 503 or 429');
}

function indexListArg(v: string): number[] {
  if (v.trim() === '') return [];
  return v.split(',').map((s) => intArg(0, 1023)(s.trim()));
}

export function registerSimCommand(program: Command): void {
  const d = defaultSimOptions;
  const sim: Command = program
    .command('sim')
    .description('run simulated vLLM-like OpenAI-compatible replicas (prefix cache, queueing, vLLM metrics, fault injection)')
    .option('--replicas <n>', 'number of replicas to run', intArg(1, 1024), d.replicas)
    .option('--base-port <port>', 'replica i listens on base-port + i (0 = free ephemeral ports)', intArg(0, 65535), d.basePort)
    .option('--host <host>', 'interface to bind', d.host)
    .option('--model <name>', 'model id served (a comma list gives replica i the (i mod n)-th id)', d.model)
    .option('--block-tokens <n>', 'tokens per KV block (vLLM block_size)', intArg(1, 65536), d.blockTokens)
    .option('--chars-per-token <n>', 'characters per simulated token; tokens = ceil(chars / n)', intArg(1, 1024), d.charsPerToken)
    .option('--cache-blocks <n>', 'capacity of the prefix-cache LRU in blocks (reported as num_gpu_blocks)', intArg(1, 10_000_000), d.cacheBlocks)
    .option('--prefill-us-per-token <us>', 'prefill time per uncached prompt token, microseconds', numArg(0, 1_000_000), d.prefillUsPerToken)
    .option('--decode-ms-per-token <ms>', 'decode time per output token, milliseconds', numArg(0, 60_000), d.decodeMsPerToken)
    .option('--max-concurrency <n>', 'requests running at once per replica; others wait in a FIFO queue', intArg(1, 100_000), d.maxConcurrency)
    .option('--max-waiting <n>', 'bound of the FIFO queue; requests beyond it get 503', intArg(0, 1_000_000), d.maxWaiting)
    .option('--default-max-tokens <n>', 'output tokens when a request has no max_tokens / max_completion_tokens', intArg(1, 1_000_000), d.defaultMaxTokens)
    .option('--max-model-len <n>', 'context length: prompt + output tokens above it get 400', intArg(1, 100_000_000), d.maxModelLen)
    .option('--error-rate <p>', 'probability (0..1) that an inference request fails at once with --error-status', numArg(0, 1), d.errorRate)
    .option('--error-status <code>', 'status of injected errors: 500, 503 or 429', statusArg, d.errorStatus)
    .option('--retry-after <s>', 'seconds sent in retry-after with injected 429s', numArg(0, 86_400), d.retryAfter)
    .option('--added-latency-ms <ms>', 'extra latency before each inference request is queued, milliseconds', numArg(0, 600_000), d.addedLatencyMs)
    .option('--refuse <list>', 'comma list of replica indexes that start with their port closed', indexListArg, [...d.refuse])
    .option('--admin-port <port>', 'port of the admin server (/replicas, /replicas/<i>/faults, /replicas/<i>/reset); 0 = none', intArg(0, 65535), d.adminPort)
    .option('--seed <n>', 'seed of the deterministic error draw', intArg(-(2 ** 53 - 1), 2 ** 53 - 1), d.seed)
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM); with --tls-key: a hosted provider stand-in')
    .option('--tls-key <file>', 'the private key (PEM) of --tls-cert')
    .option('--require-key <key>', 'answer 401 to API requests without Authorization: Bearer <key>, as a provider does')
    .option('--path-prefix <prefix>', 'serve the API under this prefix (e.g. /provider)', d.pathPrefix)
    .option('--sleep-ms <ms>', 'sleep mode: time to fall asleep (POST /sleep), milliseconds', numArg(0, 600_000), d.sleepMs)
    .option('--wake-ms <ms>', 'sleep mode: time to wake (POST /wake_up), milliseconds', numArg(0, 600_000), d.wakeMs)
    .option('--kv-events', 'publish vLLM KV-cache events on ZMQ (real tokenizer, sha256_cbor block hashes)', d.kvEvents)
    .option('--kv-events-port <port>', 'replica i publishes on kv-events-port + i (0 = free ephemeral ports)', intArg(0, 65535), d.kvEventsPort)
    .option('--kv-tokenizer <file>', 'tokenizer.json for --kv-events (default: the bundled test tokenizer)')
    .option('--kv-chat-template <file>', 'jinja chat template for --kv-events (default: tokenizer_config.json chat_template)')
    .option('--kv-hash-seed <seed>', 'PYTHONHASHSEED of the simulated engine (block hash seed)', d.kvHashSeed);

  sim.action(async () => {
    const o = sim.opts<SimOptions>();
    let handle: Awaited<ReturnType<typeof startSim>>;
    try {
      handle = await startSim(o);
    } catch (err) {
      sim.error(`kvfleet sim: ${err instanceof Error ? err.message : String(err)}`, { exitCode: 1 });
    }
    for (const r of handle.replicas) {
      const where = `${o.host}:${r.port}`;
      process.stdout.write(
        r.listening
          ? `sim replica ${r.index} model=${r.model} listening on ${where}\n`
          : `sim replica ${r.index} model=${r.model} refused on ${where} (port closed)\n`,
      );
      const kv = r.kvEventsAddress();
      if (kv !== undefined) process.stdout.write(`sim replica ${r.index} kv events on ${kv}\n`);
    }
    if (handle.adminPort !== undefined) process.stdout.write(`sim admin listening on ${o.host}:${handle.adminPort}\n`);
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      handle.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
