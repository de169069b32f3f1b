// Engine metric scraping: the Prometheus text parser, the per-engine extractors
// (vLLM incl. deprecated names, SGLang, TGI, Triton/TRT-LLM), the scraper loop
// (timeouts, size cap, bounded concurrency) and the staleness rule.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXTRACTORS } from '../../src/fleet/scrapers/engines.js';
import { parsePromText } from '../../src/fleet/scrapers/prom-text.js';
import { Scraper, type ScrapeTarget } from '../../src/fleet/scrapers/scraper.js';
import { LiveEndpoints } from '../../src/fleet/live-endpoints.js';
import { ReplicaMetrics } from '../../src/tools/sim/replica-metrics.js';
import { scrapeTargets } from '../../src/fleet/fleet-state.js';
import { fleetFrom } from '../helpers/fleet.js';

const extract = (engine: keyof typeof EXTRACTORS, text: string) => {
  const ex = EXTRACTORS[engine];
  return ex.extract(parsePromText(text, (n) => ex.names.has(n)).samples);
};

describe('Prometheus text parser', () => {
  it('reads names, labels with escapes, special values and timestamps; skips comments', () => {
    const text = [
      '# HELP a_metric something',
      '# TYPE a_metric gauge',
      'a_metric{x="1",y="q\\"uo\\\\te\\nnl"} 3.5 1700000000000',
      'b_metric 1e3',
      'c_metric{} NaN',
      'd_metric{le="+Inf"} +Inf',
      '   ',
      'e_metric{a="1",} -2',
    ].join('\n');
    const { samples, malformed } = parsePromText(text);
    expect(malformed).toBe(0);
    expect(samples.map((s) => s.name)).toEqual(['a_metric', 'b_metric', 'c_metric', 'd_metric', 'e_metric']);
    expect(samples[0]?.labels).toEqual({ x: '1', y: 'q"uo\\te\nnl' });
    expect(samples[0]?.value).toBe(3.5);
    expect(samples[1]?.value).toBe(1000);
    expect(Number.isNaN(samples[2]?.value)).toBe(true);
    expect(samples[3]?.value).toBe(Number.POSITIVE_INFINITY);
    expect(samples[4]?.value).toBe(-2);
  });

  it('counts malformed lines of wanted metrics and keeps going; unwanted lines are not parsed at all', () => {
    const text = 'want{a="1" 3\nwant{a="2"} x\nwant 4\nother{broken 9\nwant{a="3"} 5 notatimestamp\n';
    const r = parsePromText(text, (n) => n === 'want');
    expect(r.samples.map((s) => s.value)).toEqual([4]);
    expect(r.malformed).toBe(3);
  });

  it('handles CRLF line ends', () => {
    expect(parsePromText('m 1\r\nn 2\r\n').samples.map((s) => [s.name, s.value])).toEqual([
      ['m', 1],
      ['n', 2],
    ]);
  });
});

describe('engine extractors', () => {
  it('vLLM V1 names, summing data-parallel series, with cache_config_info', () => {
    const load = extract(
      'vllm',
      `vllm:num_requests_running{model_name="m",engine="0"} 3
vllm:num_requests_running{model_name="m",engine="1"} 2
vllm:num_requests_waiting{model_name="m",engine="0"} 4
vllm:kv_cache_usage_perc{model_name="m",engine="0"} 0.5
vllm:kv_cache_usage_perc{model_name="m",engine="1"} 0.7
vllm:cache_config_info{block_size="16",num_gpu_blocks="2048",model_name="m"} 1
vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="m"} 3`,
    );
    expect(load).toEqual({ running: 5, waiting: 4, kvUsage: 0.6, capacityBlocks: 2048, blockTokens: 16 });
  });

  it('vLLM: accepts the deprecated gpu_cache_usage_perc', () => {
    const load = extract('vllm', 'vllm:num_requests_running 1\nvllm:num_requests_waiting 0\nvllm:gpu_cache_usage_perc 0.25\n');
    expect(load).toMatchObject({ running: 1, waiting: 0, kvUsage: 0.25, capacityBlocks: undefined, blockTokens: undefined });
  });

  it("vLLM: reads the simulated replica's real /metrics output", async () => {
    const m = new ReplicaMetrics('sim', 16, 512, () => ({ running: 2, waiting: 7, kvCacheUsage: 0.125 }));
    expect(extract('vllm', await m.text())).toEqual({ running: 2, waiting: 7, kvUsage: 0.125, capacityBlocks: 512, blockTokens: 16 });
  });

  it('a scrape without the load gauges is unknown, never idle', () => {
    expect(extract('vllm', 'vllm:num_requests_running 0\n')).toBeUndefined();
    expect(extract('vllm', 'sglang:num_running_reqs 0\nsglang:num_queue_reqs 0\n')).toBeUndefined();
    expect(extract('sglang', '')).toBeUndefined();
  });

  it('SGLang', () => {
    const load = extract(
      'sglang',
      `sglang:num_running_reqs{model_name="m"} 8
sglang:num_queue_reqs{model_name="m"} 4
sglang:token_usage{model_name="m"} 0.52
sglang:max_total_num_tokens{model_name="m"} 100000`,
    );
    expect(load).toEqual({ running: 8, waiting: 4, kvUsage: 0.52, capacityBlocks: 100000, blockTokens: 1 });
  });

  it('TGI (no KV gauge: kvUsage 0, load from queue and batch)', () => {
    expect(extract('tgi', 'tgi_batch_current_size 6\ntgi_queue_size 3\ntgi_batch_current_max_tokens 900\n')).toEqual({
      running: 6,
      waiting: 3,
      kvUsage: 0,
      capacityBlocks: undefined,
      blockTokens: undefined,
    });
  });

  it('Triton / TensorRT-LLM labelled families', () => {
    const base = `nv_trt_llm_request_metrics{model="tensorrt_llm",request_type="scheduled",version="1"} 5
nv_trt_llm_request_metrics{model="tensorrt_llm",request_type="waiting",version="1"} 2
nv_trt_llm_request_metrics{model="tensorrt_llm",request_type="max",version="1"} 64
nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="tokens_per",model="tensorrt_llm",version="1"} 64
nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="used",model="tensorrt_llm",version="1"} 1560
nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="max",model="tensorrt_llm",version="1"} 6240
`;
    expect(extract('triton', base)).toEqual({ running: 5, waiting: 2, kvUsage: 0.25, capacityBlocks: 6240, blockTokens: 64 });
    const withFraction = `${base}nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction",model="tensorrt_llm",version="1"} 0.3\n`;
    expect(extract('triton', withFraction)?.kvUsage).toBe(0.3);
  });
});

describe('staleness rule (LiveEndpoints)', () => {
  it('fresh → engine; too old or never arrived while watched → stale with no engine; unwatched → neither', () => {
    const clock = { t: 0 };
    const live = new LiveEndpoints({ now: () => clock.t });
    live.acquire('10.0.0.1:8000');
    expect(live.endpoint('10.0.0.1:8000')?.stale).toBeUndefined();
    expect(live.endpoint('10.0.0.1:8000')?.engine).toBeUndefined();
    live.watchEngine('10.0.0.1:8000', 1000);
    expect(live.endpoint('10.0.0.1:8000')).toMatchObject({ stale: true, engine: undefined });
    const load = { running: 0, waiting: 0, kvUsage: 0, capacityBlocks: undefined, blockTokens: undefined };
    live.setEngine('10.0.0.1:8000', load, 0);
    expect(live.endpoint('10.0.0.1:8000')).toMatchObject({ stale: false, engine: load });
    clock.t = 1000;
    expect(live.endpoint('10.0.0.1:8000')?.stale).toBe(false);
    clock.t = 1001;
    const v = live.endpoint('10.0.0.1:8000');
    expect(v?.stale).toBe(true);
    expect(v?.engine).toBeUndefined();
    live.scrapeFailed('10.0.0.1:8000', 'HTTP 500');
    expect(live.snapshot()[0]).toMatchObject({ scrapeError: 'HTTP 500', lastEngine: load, stale: true });
  });
});

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((r) => {
          s.closeAllConnections();
          s.close(() => r());
        }),
    ),
  );
  servers = [];
});

async function serveMetrics(handler: (path: string, res: ServerResponse) => void): Promise<number> {
  const s = createServer((req, res) => handler(req.url ?? '/', res));
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}

const VLLM_TEXT = 'vllm:num_requests_running 1\nvllm:num_requests_waiting 2\nvllm:kv_cache_usage_perc 0.5\n';

function target(port: number, over: Partial<ScrapeTarget> = {}): ScrapeTarget {
  return { address: `127.0.0.1:${port}`, engine: 'vllm', url: `http://127.0.0.1:${port}/metrics`, intervalMs: 50, timeoutMs: 200, staleAfterMs: 1000, ...over };
}

describe('scraper', () => {
  it('feeds a good scrape into live; HTTP errors, timeouts and oversized bodies keep the old data and are reported', async () => {
    let mode: 'ok' | '500' | 'hang' | 'huge' = 'ok';
    const port = await serveMetrics((_p, res) => {
      if (mode === 'ok') res.end(VLLM_TEXT);
      else if (mode === '500') {
        res.statusCode = 500;
        res.end('no');
      } else if (mode === 'huge') res.end(`# ${'x'.repeat(5000)}\n${VLLM_TEXT}`);
      // hang: never answer
    });
    const live = new LiveEndpoints();
    const sc = new Scraper(live, { concurrency: 4, maxBytes: 2048 });
    const t = target(port, { timeoutMs: 100 });
    sc.setTargets([t]);
    expect(await sc.scrape(t)).toBe('ok');
    expect(live.endpoint(t.address)?.engine).toMatchObject({ running: 1, waiting: 2, kvUsage: 0.5 });
    mode = '500';
    expect(await sc.scrape(t)).toBe('http_error');
    mode = 'hang';
    expect(await sc.scrape(t)).toBe('timeout');
    mode = 'huge';
    expect(await sc.scrape(t)).toBe('too_large');
    const snap = live.snapshot()[0];
    expect(snap?.scrapeError).toContain('2048');
    expect(snap?.lastEngine).toMatchObject({ running: 1 });
  });

  it('a refused port is a network error; an endpoint without engine gauges is "unrecognised"', async () => {
    const port = await serveMetrics((_p, res) => res.end('some_other_metric 1\n'));
    const live = new LiveEndpoints();
    const sc = new Scraper(live, { concurrency: 1, maxBytes: 1 << 20 });
    expect(await sc.scrape(target(port))).toBe('unrecognised');
    expect(await sc.scrape(target(1, { address: '127.0.0.1:1', url: 'http://127.0.0.1:1/metrics' }))).toBe('network_error');
  });

  it('a replica that stops listening leaves the healthy set after two refused scrapes (discovery off), and returns once it answers; errors and timeouts are not "down"', async () => {
    let mode: 'ok' | '500' | 'hang' = 'ok';
    const s = createServer((_req, res) => {
      if (mode === 'ok') res.end(VLLM_TEXT);
      else if (mode === '500') {
        res.statusCode = 500;
        res.end('no');
      }
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as AddressInfo).port;
    const live = new LiveEndpoints();
    const sc = new Scraper(live, { concurrency: 1, maxBytes: 1 << 20 });
    const t = target(port, { timeoutMs: 100 });
    sc.setTargets([t]);
    expect(await sc.scrape(t)).toBe('ok');
    // Alive but failing or slow: stale data, still a candidate (Envoy and the circuit judge its answers).
    for (const m of ['500', 'hang', '500', 'hang'] as const) {
      mode = m;
      await sc.scrape(t);
    }
    expect(live.endpoint(t.address)?.healthy).toBe(true);
    // Killed: nothing listens any more.
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
    expect(await sc.scrape(t)).toBe('network_error');
    expect(live.endpoint(t.address)?.healthy).toBe(true);
    expect(await sc.scrape(t)).toBe('network_error');
    expect(live.endpoint(t.address)?.healthy).toBe(false);
    // Back on the same port: the first good scrape restores it.
    mode = 'ok';
    const again = createServer((_req, res) => res.end(VLLM_TEXT));
    servers.push(again);
    await new Promise<void>((r) => again.listen(port, '127.0.0.1', () => r()));
    expect(await sc.scrape(t)).toBe('ok');
    expect(live.endpoint(t.address)?.healthy).toBe(true);
  });

  it('never runs more than `concurrency` scrapes at once, and scrapes every target repeatedly', async () => {
    let open = 0;
    let maxOpen = 0;
    const hits = new Map<string, number>();
    const port = await serveMetrics((path, res) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      hits.set(path, (hits.get(path) ?? 0) + 1);
      setTimeout(() => {
        open--;
        res.end(VLLM_TEXT);
      }, 20);
    });
    const live = new LiveEndpoints();
    const sc = new Scraper(live, { concurrency: 2, maxBytes: 1 << 20 });
    const targets = Array.from({ length: 6 }, (_, i) =>
      target(port, { address: `10.9.0.${i + 1}:8000`, url: `http://127.0.0.1:${port}/metrics/${i}`, intervalMs: 20 }),
    );
    sc.setTargets(targets);
    sc.start();
    const deadline = Date.now() + 10_000;
    while ([...Array(6).keys()].some((i) => (hits.get(`/metrics/${i}`) ?? 0) < 3) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await sc.stop();
    expect(maxOpen).toBeLessThanOrEqual(2);
    for (let i = 0; i < 6; i++) expect(hits.get(`/metrics/${i}`) ?? 0).toBeGreaterThanOrEqual(3);
    for (const t of targets) expect(live.endpoint(t.address)?.engine?.waiting).toBe(2);
  });

  it('keeps no polling timer: idle it waits on one timer for the next due scrape, none while every scrape runs', async () => {
    vi.useFakeTimers();
    try {
      const started: string[] = [];
      /** Scrapes that end when the test says so. */
      class Held extends Scraper {
        readonly held: Array<() => void> = [];
        override scrape(t: ScrapeTarget): Promise<'ok'> {
          started.push(t.address);
          return new Promise((ok) => this.held.push(() => ok('ok')));
        }
      }
      const sc = new Held(new LiveEndpoints(), { concurrency: 4, maxBytes: 1024, now: () => Date.now() });
      sc.start();
      expect(vi.getTimerCount()).toBe(0); // no targets: nothing scheduled at all
      sc.setTargets([target(1, { address: '10.0.0.1:1', intervalMs: 1000 }), target(2, { address: '10.0.0.2:2', intervalMs: 1000 })]);
      await vi.advanceTimersByTimeAsync(0);
      expect(started).toEqual(['10.0.0.1:1', '10.0.0.2:2']);
      expect(vi.getTimerCount()).toBe(0); // both running: a scrape's end plans the next
      for (const end of sc.held.splice(0)) end();
      await vi.advanceTimersByTimeAsync(0);
      expect(vi.getTimerCount()).toBe(1); // one timer for both next scrapes
      await vi.advanceTimersByTimeAsync(990);
      expect(started).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(10);
      expect(started).toEqual(['10.0.0.1:1', '10.0.0.2:2', '10.0.0.1:1', '10.0.0.2:2']); // the same cadence, together
      for (const end of sc.held.splice(0)) end();
      await sc.stop();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('setTargets forgets removed endpoints (they stop being watched)', () => {
    const live = new LiveEndpoints();
    const sc = new Scraper(live, { concurrency: 1, maxBytes: 1024 });
    sc.setTargets([target(1, { address: '10.0.0.1:1' }), target(2, { address: '10.0.0.2:2' })]);
    expect(live.endpoint('10.0.0.2:2')?.stale).toBe(true);
    sc.setTargets([target(1, { address: '10.0.0.1:1' })]);
    expect(live.endpoint('10.0.0.2:2')?.stale).toBeUndefined();
    expect(sc.targets().map((t) => t.address)).toEqual(['10.0.0.1:1']);
  });
});

describe('scrape targets from the fleet file', () => {
  it('per-model path/port/interval overrides; hosted and metric-less engines are not scraped; stale default 4×interval ≥ 1 s', () => {
    const fleet = fleetFrom(`
scrape: { interval_ms: 200 }
models:
  - { name: a, cluster: ca, model_id: a, endpoints: ["10.0.0.1:8000", "[::1]:8001"] }
  - { name: t, cluster: ct, model_id: t, engine: triton, endpoints: [10.0.0.2:8000], scrape: { port: 8002, interval_ms: 500 } }
  - { name: o, cluster: co, model_id: o, engine: ollama, endpoints: [10.0.0.3:11434] }
  - { name: h, cluster: ch, model_id: h, engine: vllm, host: api.example.com, endpoints: [10.0.0.4:443] }
  - { name: off, cluster: cf, model_id: off, endpoints: [10.0.0.5:8000], scrape: { enabled: false } }
`);
    const ts = scrapeTargets(fleet, new LiveEndpoints());
    expect(ts.map((t) => [t.address, t.engine, t.url, t.intervalMs, t.staleAfterMs])).toEqual([
      ['10.0.0.1:8000', 'vllm', 'http://10.0.0.1:8000/metrics', 200, 1000],
      ['[::1]:8001', 'vllm', 'http://[::1]:8001/metrics', 200, 1000],
      ['10.0.0.2:8000', 'triton', 'http://10.0.0.2:8002/metrics', 500, 2000],
    ]);
  });

  it('scrapes discovered members instead of the fleet file list when discovery knows the cluster', () => {
    const fleet = fleetFrom(`
discovery: { envoy_admin: "http://127.0.0.1:9901/clusters?format=json" }
models:
  - { name: a, cluster: ca, model_id: a }
`);
    const live = new LiveEndpoints();
    expect(scrapeTargets(fleet, live)).toEqual([]);
    live.setMembers('ca', ['10.1.0.1:8000', '10.1.0.2:8000']);
    expect(scrapeTargets(fleet, live).map((t) => t.address)).toEqual(['10.1.0.1:8000', '10.1.0.2:8000']);
  });
});
