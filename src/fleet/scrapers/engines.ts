// Engine metric names → EngineLoad. One extractor per engine kind; each reads the
// few gauges kvfleet routes on from a parsed /metrics scrape and returns
// undefined when the scrape does not carry them (wrong engine kind, metrics
// disabled, an exporter that is still starting): unknown is never "idle".
//
// Names (checked against each project's docs and exporters):
//   vLLM (V1)  vllm:num_requests_running, vllm:num_requests_waiting,
//              vllm:kv_cache_usage_perc (deprecated alias: vllm:gpu_cache_usage_perc),
//              vllm:cache_config_info{block_size, num_gpu_blocks}
//   SGLang     sglang:num_running_reqs, sglang:num_queue_reqs, sglang:token_usage,
//              sglang:max_total_num_tokens (KV pool size in tokens; pages of 1 token by default)
//   TGI        tgi_batch_current_size (running), tgi_queue_size (waiting); TGI exports no
//              KV usage gauge, so kvUsage is 0 and load comes from queue and batch size
//   Triton     nv_trt_llm_request_metrics{request_type=scheduled|waiting},
//   TRT-LLM    nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=fraction|used|max|tokens_per}
// Several series of one gauge (data-parallel ranks, several engines behind one
// port) are summed for request counts and averaged for usage fractions.
import type { EngineLoad } from '../../core/types.js';
import type { Sample } from './prom-text.js';

export type ScrapedEngine = 'vllm' | 'sglang' | 'tgi' | 'triton';

interface Extractor {
  /** Metric names the parser keeps (everything else is skipped unparsed). */
  readonly names: ReadonlySet<string>;
  extract(samples: readonly Sample[]): EngineLoad | undefined;
}

function byName(samples: readonly Sample[]): Map<string, Sample[]> {
  const m = new Map<string, Sample[]>();
  for (const s of samples) {
    if (!Number.isFinite(s.value)) continue;
    const list = m.get(s.name);
    if (list === undefined) m.set(s.name, [s]);
    else list.push(s);
  }
  return m;
}

const sum = (xs: readonly Sample[] | undefined): number | undefined => (xs === undefined || xs.length === 0 ? undefined : xs.reduce((a, s) => a + s.value, 0));

const mean = (xs: readonly Sample[] | undefined): number | undefined => {
  const t = sum(xs);
  return t === undefined || xs === undefined ? undefined : t / xs.length;
};

const labelled = (xs: readonly Sample[] | undefined, label: string, value: string): Sample[] | undefined => {
  const r = xs?.filter((s) => s.labels[label] === value);
  return r === undefined || r.length === 0 ? undefined : r;
};

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);
const count = (x: number): number => Math.max(0, Math.round(x));
const positiveInt = (x: number | undefined): number | undefined => (x !== undefined && Number.isFinite(x) && x >= 1 ? Math.floor(x) : undefined);

const VLLM: Extractor = {
  names: new Set(['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc', 'vllm:cache_config_info']),
  extract(samples) {
    const m = byName(samples);
    const running = sum(m.get('vllm:num_requests_running'));
    const waiting = sum(m.get('vllm:num_requests_waiting'));
    if (running === undefined || waiting === undefined) return undefined;
    const kv = mean(m.get('vllm:kv_cache_usage_perc')) ?? mean(m.get('vllm:gpu_cache_usage_perc')) ?? 0;
    const info = m.get('vllm:cache_config_info')?.[0]?.labels;
    return {
      running: count(running),
      waiting: count(waiting),
      kvUsage: clamp01(kv),
      capacityBlocks: positiveInt(info !== undefined ? Number(info['num_gpu_blocks']) : undefined),
      blockTokens: positiveInt(info !== undefined ? Number(info['block_size']) : undefined),
    };
  },
};

const SGLANG: Extractor = {
  names: new Set(['sglang:num_running_reqs', 'sglang:num_queue_reqs', 'sglang:token_usage', 'sglang:max_total_num_tokens']),
  extract(samples) {
    const m = byName(samples);
    const running = sum(m.get('sglang:num_running_reqs'));
    const waiting = sum(m.get('sglang:num_queue_reqs'));
    if (running === undefined || waiting === undefined) return undefined;
    const capacity = positiveInt(sum(m.get('sglang:max_total_num_tokens')));
    return {
      running: count(running),
      waiting: count(waiting),
      kvUsage: clamp01(mean(m.get('sglang:token_usage')) ?? 0),
      capacityBlocks: capacity,
      blockTokens: capacity !== undefined ? 1 : undefined,
    };
  },
};

const TGI: Extractor = {
  names: new Set(['tgi_batch_current_size', 'tgi_queue_size']),
  extract(samples) {
    const m = byName(samples);
    const running = sum(m.get('tgi_batch_current_size'));
    const waiting = sum(m.get('tgi_queue_size'));
    if (running === undefined || waiting === undefined) return undefined;
    return { running: count(running), waiting: count(waiting), kvUsage: 0, capacityBlocks: undefined, blockTokens: undefined };
  },
};

const TRITON: Extractor = {
  names: new Set(['nv_trt_llm_request_metrics', 'nv_trt_llm_kv_cache_block_metrics']),
  extract(samples) {
    const m = byName(samples);
    const req = m.get('nv_trt_llm_request_metrics');
    const running = sum(labelled(req, 'request_type', 'scheduled')) ?? sum(labelled(req, 'request_type', 'active'));
    const waiting = sum(labelled(req, 'request_type', 'waiting'));
    if (running === undefined || waiting === undefined) return undefined;
    const kv = m.get('nv_trt_llm_kv_cache_block_metrics');
    const max = sum(labelled(kv, 'kv_cache_block_type', 'max'));
    const used = sum(labelled(kv, 'kv_cache_block_type', 'used'));
    const fraction = mean(labelled(kv, 'kv_cache_block_type', 'fraction'));
    const usage = fraction ?? (max !== undefined && used !== undefined && max > 0 ? used / max : 0);
    const tokensPer = labelled(kv, 'kv_cache_block_type', 'tokens_per')?.[0]?.value;
    return {
      running: count(running),
      waiting: count(waiting),
      kvUsage: clamp01(usage),
      capacityBlocks: positiveInt(max),
      blockTokens: positiveInt(tokensPer),
    };
  },
};

export const EXTRACTORS: Readonly<Record<ScrapedEngine, Extractor>> = { vllm: VLLM, sglang: SGLANG, tgi: TGI, triton: TRITON };

/** Engine kinds whose replicas export Prometheus load metrics (ollama and hosted APIs do not). */
export function scrapedEngine(engine: string): ScrapedEngine | undefined {
  return engine === 'vllm' || engine === 'sglang' || engine === 'tgi' || engine === 'triton' ? engine : undefined;
}
