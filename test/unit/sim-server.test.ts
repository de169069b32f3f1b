// In-process simulated replicas over real HTTP: OpenAI shapes, SSE, prefix cache, queueing,
// faults, refuse/re-open, vLLM metrics, reset.
import { afterEach, describe, expect, it } from 'vitest';
import type { SimExtension as SimExt } from '../../src/tools/sim/completion-bodies.js';
import { startSim, findFreeBasePort, type SimHandle, type SimOptions } from '../../src/tools/sim/index.js';

// ---- helpers ----------------------------------------------------------------------------------

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}
interface Choice {
  index: number;
  message?: { role: string; content: string };
  delta?: { role?: string; content?: string };
  text?: string;
  finish_reason: string | null;
}
interface Completion {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: Choice[];
  usage?: Usage;
  kvfleet_sim?: SimExt;
}
interface ErrorBody {
  error: { message: string; type: string; code: number; param: string | null };
}
interface EmbeddingList {
  data: { object: string; index: number; embedding: number[] }[];
  usage: Usage;
}
interface Stats {
  requests: number;
  waiting: number;
  faults: { refuse: boolean };
  [k: string]: unknown;
}

async function json<T>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T;
}

/** The kvfleet_sim extension, which every successful completion must carry. */
function ext(c: Completion): SimExt {
  if (!c.kvfleet_sim) throw new Error('response has no kvfleet_sim');
  return c.kvfleet_sim;
}

function usage(c: Completion): Usage {
  if (!c.usage) throw new Error('response has no usage');
  return c.usage;
}

function postJson(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** `data:` payloads of an SSE body, in order. */
function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .map((e) => e.trim())
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice('data: '.length));
}

/** Value of the first sample `name{...} value` with exactly that name. */
function metricValue(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([^{\s#]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m && m[1] === name) return Number(m[3]);
  }
  return undefined;
}

function chatBody(content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: 'sim-model',
    messages: [
      { role: 'system', content: 'sys' },
      { role: 'user', content },
    ],
    ...extra,
  };
}

const open: SimHandle[] = [];

async function sim(opts: Partial<SimOptions>): Promise<SimHandle> {
  const basePort = await findFreeBasePort(opts.replicas ?? 1);
  const s = await startSim({ replicas: 1, basePort, decodeMsPerToken: 1, prefillUsPerToken: 1, ...opts });
  open.push(s);
  return s;
}

function url(s: SimHandle, i = 0): string {
  const r = s.replicas[i];
  if (!r) throw new Error(`no replica ${i}`);
  return r.url;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

describe('sim: OpenAI responses', () => {
  it('answers a non-streaming chat completion with usage, headers and the kvfleet_sim extension', async () => {
    const s = await sim({ replicas: 2 });
    const res = await postJson(`${url(s, 1)}/v1/chat/completions`, chatBody('hello', { max_tokens: 3 }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-sim-replica')).toBe('1');
    expect(res.headers.get('x-sim-cached-tokens')).toBe('0');
    const body = await json<Completion>(res);
    expect(body.object).toBe('chat.completion');
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.model).toBe('sim-model');
    expect(typeof body.created).toBe('number');
    expect(body.choices[0]?.message).toMatchObject({ role: 'assistant', content: 'tok1 tok2 tok3 ' });
    expect(body.choices[0]?.finish_reason).toBe('length');
    expect(usage(body).completion_tokens).toBe(3);
    expect(usage(body).total_tokens).toBe(usage(body).prompt_tokens + 3);
    expect(ext(body)).toMatchObject({ replica: 1, port: s.replicas[1]?.port, cached_tokens: 0, received_model: 'sim-model' });
    expect(ext(body).prompt_tokens).toBe(usage(body).prompt_tokens);
  });

  it('uses the default output length and max_completion_tokens', async () => {
    const s = await sim({ defaultMaxTokens: 5 });
    const a = await json<Completion>(postJson(`${url(s)}/v1/chat/completions`, chatBody('x')));
    expect(usage(a).completion_tokens).toBe(5);
    expect(a.choices[0]?.finish_reason).toBe('stop');
    const b = await json<Completion>(postJson(`${url(s)}/v1/chat/completions`, chatBody('x', { max_completion_tokens: 2, max_tokens: 9 })));
    expect(usage(b).completion_tokens).toBe(2);
  });

  it('streams one chunk per token, a finish chunk, usage and [DONE]', async () => {
    const s = await sim({});
    const res = await postJson(`${url(s)}/v1/chat/completions`, chatBody('hi', { max_tokens: 4, stream: true, stream_options: { include_usage: true } }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = sseData(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Completion);
    const tokens = chunks.filter((c) => c.choices[0]?.delta?.content);
    expect(tokens.map((c) => c.choices[0]?.delta?.content)).toEqual(['tok1 ', 'tok2 ', 'tok3 ', 'tok4 ']);
    expect(tokens[0]?.choices[0]?.delta?.role).toBe('assistant');
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0]?.id)).toBe(true);
    const fin = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(fin?.choices[0]?.finish_reason).toBe('length');
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.completion_tokens).toBe(4);
  });

  it('streams text completions without a usage chunk unless asked', async () => {
    const s = await sim({});
    const res = await postJson(`${url(s)}/v1/completions`, { model: 'sim-model', prompt: 'once upon', max_tokens: 2, stream: true });
    const events = sseData(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as Completion);
    expect(chunks.map((c) => c.choices[0]?.text)).toEqual(['tok1 ', 'tok2 ', '']);
    expect(chunks.every((c) => c.usage === undefined)).toBe(true);
  });

  it('answers completions and deterministic embeddings', async () => {
    const s = await sim({});
    const c = await json<Completion>(postJson(`${url(s)}/v1/completions`, { model: 'sim-model', prompt: ['ab', 'cd'], max_tokens: 1 }));
    expect(c.object).toBe('text_completion');
    expect(c.choices[0]?.text).toBe('tok1 ');
    const e1 = await json<EmbeddingList>(postJson(`${url(s)}/v1/embeddings`, { model: 'sim-model', input: ['alpha', 'beta'] }));
    expect(e1.data).toHaveLength(2);
    expect(e1.data[1]).toMatchObject({ object: 'embedding', index: 1 });
    expect(e1.data[0]?.embedding).toHaveLength(8);
    const e2 = await json<EmbeddingList>(postJson(`${url(s)}/v1/embeddings`, { model: 'sim-model', input: 'alpha' }));
    expect(e2.data[0]?.embedding).toEqual(e1.data[0]?.embedding);
    expect(e2.data[0]?.embedding).not.toEqual(e1.data[1]?.embedding);
    expect(e2.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('lists the served model and rejects a wrong model with the vLLM 404', async () => {
    const s = await sim({ model: 'llama-real' });
    const models = await json<{ data: { id: string }[] }>(fetch(`${url(s)}/v1/models`));
    expect(models.data.map((m) => m.id)).toEqual(['llama-real']);
    const res = await postJson(`${url(s)}/v1/chat/completions`, { ...chatBody('x'), model: 'auto' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { message: 'The model `auto` does not exist.', type: 'NotFoundError', code: 404, param: 'model' },
    });
    expect(s.replicas[0]?.stats().received_models).toEqual({ auto: 1 });
  });

  it('answers bad input with OpenAI-shaped 400s and unknown paths with 404', async () => {
    const s = await sim({});
    const bad = await fetch(`${url(s)}/v1/chat/completions`, { method: 'POST', body: '{not json' });
    expect(bad.status).toBe(400);
    expect((await json<ErrorBody>(bad)).error.code).toBe(400);
    expect((await postJson(`${url(s)}/v1/chat/completions`, [1, 2])).status).toBe(400);
    expect((await postJson(`${url(s)}/v1/chat/completions`, chatBody('x', { max_tokens: -1 }))).status).toBe(400);
    expect((await postJson(`${url(s)}/v1/chat/completions`, { model: 'sim-model', messages: 'nope' })).status).toBe(400);
    expect((await postJson(`${url(s)}/v1/embeddings`, { model: 'sim-model', input: {} })).status).toBe(400);
    expect((await fetch(`${url(s)}/nope`)).status).toBe(404);
    expect((await fetch(`${url(s)}/v1/chat/completions`)).status).toBe(405);
    // still serving afterwards
    expect((await postJson(`${url(s)}/v1/chat/completions`, chatBody('x', { max_tokens: 1 }))).status).toBe(200);
  });
});

describe('sim: prefix cache and queueing', () => {
  it('a repeated prompt gets cached tokens and a smaller TTFT', async () => {
    const s = await sim({ replicas: 2, prefillUsPerToken: 200 });
    const body = chatBody('lorem ipsum '.repeat(200), { max_tokens: 1 }); // ~600 tokens → ~120 ms prefill
    const first = await json<Completion>(postJson(`${url(s)}/v1/chat/completions`, body));
    const res2 = await postJson(`${url(s)}/v1/chat/completions`, body);
    const second = await json<Completion>(res2);
    expect(ext(first).cached_tokens).toBe(0);
    expect(ext(second).cached_tokens).toBeGreaterThan(0);
    expect(ext(second).cached_tokens).toBeLessThan(ext(second).prompt_tokens);
    expect(res2.headers.get('x-sim-cached-tokens')).toBe(String(ext(second).cached_tokens));
    expect(usage(second).prompt_tokens_details?.cached_tokens).toBe(ext(second).cached_tokens);
    expect(ext(second).ttft_ms).toBeLessThan(ext(first).ttft_ms / 2);
    // the cache is per replica
    const other = await json<Completion>(postJson(`${url(s, 1)}/v1/chat/completions`, body));
    expect(ext(other).cached_tokens).toBe(0);
    const st = s.replicas[0]?.stats();
    expect(st?.prefix_hits_tokens).toBe(ext(second).cached_tokens);
    expect(st?.prefix_queries_tokens).toBe(usage(first).prompt_tokens * 2);
  });

  it('queues beyond max-concurrency (waiting metric > 0 while saturated)', async () => {
    const s = await sim({ maxConcurrency: 1, decodeMsPerToken: 20 });
    const reqs = [0, 1, 2].map(() => postJson(`${url(s)}/v1/chat/completions`, chatBody('q', { max_tokens: 8 })));
    await new Promise((r) => setTimeout(r, 40));
    const metrics = await (await fetch(`${url(s)}/metrics`)).text();
    expect(metricValue(metrics, 'vllm:num_requests_running')).toBe(1);
    expect(metricValue(metrics, 'vllm:num_requests_waiting')).toBeGreaterThan(0);
    expect(metricValue(metrics, 'vllm:kv_cache_usage_perc')).toBeGreaterThan(0);
    const stats = await json<Stats>(fetch(`${url(s)}/sim/stats`));
    expect(stats.waiting).toBeGreaterThan(0);
    const bodies = await Promise.all((await Promise.all(reqs)).map((r) => json<Completion>(r)));
    const ttfts = bodies.map((b) => ext(b).ttft_ms).sort((a, b) => a - b);
    expect(ttfts[2]).toBeGreaterThan(2 * 7 * 20 * 0.8); // the last one waited for two full decodes
    expect(s.replicas[0]?.stats().max_running_seen).toBe(1);
    const after = await (await fetch(`${url(s)}/metrics`)).text();
    expect(metricValue(after, 'vllm:num_requests_waiting')).toBe(0);
    expect(metricValue(after, 'vllm:kv_cache_usage_perc')).toBe(0);
  });

  it('a full waiting queue answers 503', async () => {
    const s = await sim({ maxConcurrency: 1, maxWaiting: 0, decodeMsPerToken: 20 });
    const slow = postJson(`${url(s)}/v1/chat/completions`, chatBody('q', { max_tokens: 5 }));
    await new Promise((r) => setTimeout(r, 20));
    expect((await postJson(`${url(s)}/v1/chat/completions`, chatBody('q', { max_tokens: 1 }))).status).toBe(503);
    expect((await slow).status).toBe(200);
  });
});

describe('sim: faults', () => {
  it('error-rate 1 with 429 answers at once with retry-after', async () => {
    const s = await sim({ errorRate: 1, errorStatus: 429, retryAfter: 7 });
    const res = await postJson(`${url(s)}/v1/chat/completions`, chatBody('x'));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect((await json<ErrorBody>(res)).error).toMatchObject({ code: 429, type: 'RateLimitError' });
    expect(s.replicas[0]?.stats().errors_injected).toBe(1);
  });

  it('the seeded error draw is deterministic', async () => {
    const statuses = async (): Promise<number[]> => {
      const s = await sim({ errorRate: 0.5, seed: 42, errorStatus: 500 });
      const out: number[] = [];
      for (let i = 0; i < 12; i++) out.push((await postJson(`${url(s)}/v1/completions`, { prompt: 'p', max_tokens: 1 })).status);
      return out;
    };
    const a = await statuses();
    expect(a).toContain(500);
    expect(a).toContain(200);
    expect(await statuses()).toEqual(a);
  });

  it('faults switch at runtime through /sim/faults', async () => {
    const s = await sim({});
    const set = await postJson(`${url(s)}/sim/faults`, { error_rate: 1, error_status: 503, unhealthy: true });
    expect(set.status).toBe(200);
    expect((await postJson(`${url(s)}/v1/chat/completions`, chatBody('x'))).status).toBe(503);
    expect((await fetch(`${url(s)}/health`)).status).toBe(503);
    expect((await postJson(`${url(s)}/sim/faults`, { error_status: 418 })).status).toBe(400);
    await postJson(`${url(s)}/sim/faults`, { error_rate: 0, unhealthy: false });
    expect((await postJson(`${url(s)}/v1/chat/completions`, chatBody('x', { max_tokens: 1 }))).status).toBe(200);
    expect((await fetch(`${url(s)}/health`)).status).toBe(200);
  });

  it('refuse closes the port and re-opening serves again', async () => {
    const s = await sim({ replicas: 2, refuse: [1] });
    const r1 = s.replicas[1];
    expect(r1?.listening).toBe(false);
    await expect(fetch(`${url(s, 1)}/health`)).rejects.toThrow();
    await r1?.setFaults({ refuse: false });
    expect((await fetch(`${url(s, 1)}/health`)).status).toBe(200);
    await r1?.setFaults({ refuse: true });
    await expect(fetch(`${url(s, 1)}/health`)).rejects.toThrow();
    expect((await fetch(`${url(s, 0)}/health`)).status).toBe(200);
  });

  it('a replica refused through its own port is re-opened through the admin server', async () => {
    const adminPort = await findFreeBasePort(1);
    const s = await sim({ replicas: 2, adminPort });
    expect(s.adminPort).toBe(adminPort);
    const admin = `http://127.0.0.1:${adminPort}`;
    const off = await json<{ faults: { refuse: boolean } }>(postJson(`${url(s)}/sim/faults`, { refuse: true }));
    expect(off.faults.refuse).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    await expect(fetch(`${url(s)}/health`)).rejects.toThrow();
    const list = await json<Stats[]>(fetch(`${admin}/replicas`));
    expect(list.map((r) => r.faults.refuse)).toEqual([true, false]);
    expect((await postJson(`${admin}/replicas/0/faults`, { refuse: false })).status).toBe(200);
    expect((await fetch(`${url(s)}/health`)).status).toBe(200);
    expect((await postJson(`${admin}/replicas/9/faults`, {})).status).toBe(404);
    await postJson(`${url(s)}/v1/completions`, { prompt: 'x', max_tokens: 1 });
    expect((await postJson(`${admin}/replicas/0/reset`, {})).status).toBe(200);
    expect(s.replicas[0]?.stats().requests).toBe(0);
  });
});

describe('sim: metrics and reset', () => {
  it('/metrics exposes the vLLM V1 names with model_name and cache_config_info labels', async () => {
    const s = await sim({ model: 'm1', blockTokens: 8, cacheBlocks: 64 });
    await postJson(`${url(s)}/v1/chat/completions`, { model: 'm1', messages: [{ role: 'user', content: 'z'.repeat(200) }], max_tokens: 2 });
    const res = await fetch(`${url(s)}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    for (const name of [
      'vllm:num_requests_running',
      'vllm:num_requests_waiting',
      'vllm:kv_cache_usage_perc',
      'vllm:prefix_cache_queries_total',
      'vllm:prefix_cache_hits_total',
      'vllm:time_to_first_token_seconds_bucket',
      'vllm:request_success_total',
      'vllm:prompt_tokens_total',
      'vllm:generation_tokens_total',
    ]) {
      expect(text).toMatch(new RegExp(`^${name}\\{[^}]*model_name="m1"`, 'm'));
    }
    expect(text).toMatch(/^vllm:cache_config_info\{(?=[^}]*block_size="8")(?=[^}]*num_gpu_blocks="64")[^}]*\} 1$/m);
    expect(metricValue(text, 'vllm:generation_tokens_total')).toBe(2);
    expect(metricValue(text, 'vllm:prefix_cache_queries_total')).toBeGreaterThan(50);
    expect(metricValue(text, 'vllm:time_to_first_token_seconds_count')).toBe(1);
  });

  it('reset clears cache, counters and metrics', async () => {
    const s = await sim({});
    const body = chatBody('cache me '.repeat(40), { max_tokens: 1 });
    await postJson(`${url(s)}/v1/chat/completions`, body);
    const hit = await json<Completion>(postJson(`${url(s)}/v1/chat/completions`, body));
    expect(ext(hit).cached_tokens).toBeGreaterThan(0);
    expect((await postJson(`${url(s)}/sim/reset`, {})).status).toBe(200);
    const st = await json<Stats>(fetch(`${url(s)}/sim/stats`));
    expect(st).toMatchObject({ requests: 0, prefix_queries_tokens: 0, prefix_hits_tokens: 0, received_models: {}, cache_blocks_used: 0 });
    const metrics = await (await fetch(`${url(s)}/metrics`)).text();
    expect(metricValue(metrics, 'vllm:prefix_cache_queries_total')).toBe(0);
    expect(metrics).toMatch(/^vllm:cache_config_info\{.*\} 1$/m);
    const miss = await json<Completion>(postJson(`${url(s)}/v1/chat/completions`, body));
    expect(ext(miss).cached_tokens).toBe(0);
  });
});

describe('sim: lifecycle', () => {
  it('a client abort mid-stream frees the running slot', async () => {
    const s = await sim({ decodeMsPerToken: 5, maxConcurrency: 1 });
    const ac = new AbortController();
    const res = await fetch(`${url(s)}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify(chatBody('x', { max_tokens: 1000, stream: true })),
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    expect(s.replicas[0]?.stats().running).toBe(1);
    ac.abort();
    await new Promise((r) => setTimeout(r, 50));
    expect(s.replicas[0]?.stats().running).toBe(0);
    const text = await s.replicas[0]?.metricsText();
    expect(text).toMatch(/^vllm:request_success_total\{[^}]*finished_reason="abort"[^}]*\} 1$/m);
    expect((await postJson(`${url(s)}/v1/chat/completions`, chatBody('x', { max_tokens: 1 }))).status).toBe(200);
  });

  it('close() returns promptly with requests in flight; base port 0 picks free ports', async () => {
    const s = await startSim({ replicas: 2, basePort: 0, decodeMsPerToken: 50 });
    const [a, b] = s.replicas;
    expect(a?.port).toBeGreaterThan(0);
    expect(b?.port).toBeGreaterThan(0);
    expect(a?.port).not.toBe(b?.port);
    const inflight = postJson(`${a?.url}/v1/completions`, { prompt: 'x', max_tokens: 1000 }).catch(() => 'aborted');
    await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    await s.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await inflight).toBe('aborted');
    await expect(fetch(`${a?.url}/health`)).rejects.toThrow();
  });
});
