// Through a real Envoy: the precise prefix index. The simulated replicas tokenize prompts with a
// real tokenizer, hash blocks as vLLM does and publish BlockStored / BlockRemoved on real ZMQ
// sockets; kvfleet follows them. A prompt that reached a replica without kvfleet (another router,
// a retry elsewhere) draws its follow-up there; after the replica evicts it under memory pressure
// kvfleet no longer claims it; when a replica's publisher dies kvfleet falls back to the
// approximate index for it and says so in the decision, the metrics and GET /fleet.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledTokenizerPath } from '../../src/fleet/kv-events/tokenizer.js';
import { waitFor } from '../../src/tools/ports.js';
import { REPO_ROOT } from '../helpers/envoy.js';
import { postJson, startStack, type Stack } from '../helpers/stack.js';

const TEMPLATE = join(REPO_ROOT, 'examples', 'kv-events', 'chat-template.jinja');
const MODEL = 'llama-3-8b';
let stack: Stack;
let addrs: string[];

interface FleetView {
  kv_events?: Record<string, { replicas: Array<{ endpoint: string; state: string; blocks: number }> }>;
}
const fleetView = async (): Promise<FleetView> => (await (await fetch(`${stack.kvfleet.adminUrl}/fleet`)).json()) as FleetView;
const states = async (): Promise<Record<string, string>> =>
  Object.fromEntries(((await fleetView()).kv_events?.[MODEL]?.replicas ?? []).map((r) => [r.endpoint, r.state]));

beforeAll(async () => {
  stack = await startStack({
    sim: { kvEvents: true, kvChatTemplate: TEMPLATE, cacheBlocks: 400, prefillUsPerToken: 20, defaultMaxTokens: 2 },
    editFleet: (fleet, sims) => {
      const models = fleet['models'] as Array<Record<string, unknown>>;
      const llama = models.find((m) => m['name'] === MODEL) as Record<string, unknown>;
      const eps = llama['endpoints'] as string[];
      llama['kv_events'] = {
        tokenizer: bundledTokenizerPath(),
        chat_template: TEMPLATE,
        endpoints: Object.fromEntries(eps.map((e, i) => [e, sims.llama.replicas[i]?.kvEventsAddress()])),
      };
    },
  });
  addrs = stack.llama.replicas.map((r) => `127.0.0.1:${r.port}`);
  await waitFor('kvfleet subscribed to both replicas', async () => Object.values(await states()).filter((s) => s === 'no-events-yet').length === 2, 15_000);
  // Each replica serves once, directly, so both streams have started.
  for (const r of stack.llama.replicas) {
    const res = await direct(r.url, [{ role: 'user', content: `Warm-up for ${r.port}. ${'A question that fills a few blocks. '.repeat(10)}` }]);
    expect(res.status).toBe(200);
  }
  await waitFor('both streams fresh', async () => Object.values(await states()).every((s) => s === 'fresh'), 15_000);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

type Msg = { role: string; content: string };
function direct(url: string, messages: Msg[]): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: stack.llama.replicas[0]?.model, messages, max_tokens: 2 }),
  });
}
const conversation = (topic: string): Msg[] => [
  {
    role: 'system',
    content: `You answer questions about ${topic}. ` + Array.from({ length: 40 }, (_, i) => `Clause ${i} of the ${topic} policy applies.`).join(' '),
  },
  { role: 'user', content: `First question about ${topic}?` },
  { role: 'assistant', content: `An answer about ${topic}.` },
];
const followUp = (topic: string): Msg[] => [...conversation(topic), { role: 'user', content: 'And a follow-up?' }];

async function explain(messages: Msg[]): Promise<{ reasons: string[]; endpoint_details: Array<{ address: string; matched_blocks: number }> }> {
  const res = await postJson(stack.kvfleet.adminUrl, '/v1/route/explain', { model: MODEL, messages });
  expect(res.status).toBe(200);
  return (await res.json()) as { reasons: string[]; endpoint_details: Array<{ address: string; matched_blocks: number }> };
}
const matchedOn = (e: Awaited<ReturnType<typeof explain>>, a: string) => e.endpoint_details.find((d) => d.address === a)?.matched_blocks ?? -1;

describe('precise prefix index from KV events, through Envoy', () => {
  it('routes a follow-up to the replica that really holds the conversation, though kvfleet never sent it there', async () => {
    for (const [k, topic] of ['billing', 'shipping', 'returns', 'warranty'].entries()) {
      const holder = k % 2;
      const holderAddr = addrs[holder] as string;
      const r = await direct(stack.llama.replicas[holder]?.url ?? '', conversation(topic));
      expect(r.status).toBe(200);
      await waitFor(`replica ${holder} reported the ${topic} conversation`, async () => matchedOn(await explain(followUp(topic)), holderAddr) > 0, 10_000);
      const res = await postJson(stack.url, '/v1/chat/completions', { model: MODEL, messages: followUp(topic), max_tokens: 2 });
      expect(res.status, stack.logs()).toBe(200);
      const body = (await res.json()) as { usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } } };
      expect(res.headers.get('x-kvfleet-endpoint')).toBe(holderAddr);
      expect(res.headers.get('x-kvfleet-reason')).toContain('kv-precise');
      expect(res.headers.get('x-kvfleet-affinity')).toMatch(/^prefix:/);
      // The replica's own counters confirm it: most of the prompt was served from its cache.
      expect(body.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(body.usage.prompt_tokens / 2);
    }
  });

  it('stops claiming blocks the replica evicted under memory pressure', async () => {
    const topic = 'insurance';
    const res = await postJson(stack.url, '/v1/chat/completions', { model: MODEL, messages: conversation(topic), max_tokens: 2 });
    expect(res.status).toBe(200);
    const served = res.headers.get('x-kvfleet-endpoint') as string;
    await waitFor('the conversation is known precisely', async () => matchedOn(await explain(followUp(topic)), served) > 0, 10_000);
    // Fill the replica's 400-block cache with unrelated prompts sent to it directly.
    const url = stack.llama.replicas[addrs.indexOf(served)]?.url ?? '';
    for (let n = 0; n < 16; n++) {
      const r = await direct(url, [{ role: 'user', content: `Unrelated ${n}: ${'lorem ipsum dolor sit amet '.repeat(70)}` }]);
      expect(r.status).toBe(200);
    }
    await waitFor('the eviction reached kvfleet', async () => matchedOn(await explain(followUp(topic)), served) === 0, 10_000);
    const e = await explain(followUp(topic));
    expect(e.reasons).toContain('kv-precise');
  });

  it('falls back to the approximate index for a replica whose publisher stopped, and says so', async () => {
    const topic = 'loyalty';
    // kvfleet routes the conversation itself, so the approximate index learns where it went.
    const res = await postJson(stack.url, '/v1/chat/completions', { model: MODEL, messages: conversation(topic), max_tokens: 2 });
    expect(res.status).toBe(200);
    const served = res.headers.get('x-kvfleet-endpoint') as string;
    const i = addrs.indexOf(served);
    await stack.llama.replicas[i]?.stopKvEvents();
    await waitFor('kvfleet saw the publisher go', async () => (await states())[served] === 'disconnected', 15_000);
    const e = await explain(followUp(topic));
    expect(e.reasons).toContain('kv-partial:disconnected');
    // The approximate index still knows what kvfleet sent there.
    expect(matchedOn(e, served)).toBeGreaterThan(0);
    const follow = await postJson(stack.url, '/v1/chat/completions', { model: MODEL, messages: followUp(topic), max_tokens: 2 });
    expect(follow.headers.get('x-kvfleet-reason')).toContain('kv-partial:disconnected');
    const metrics = await (await fetch(`${stack.kvfleet.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`kvfleet_kv_events_replicas\\{model="${MODEL}",state="disconnected"\\} 1`));
    expect(metrics).toMatch(new RegExp(`kvfleet_kv_index_lookups_total\\{model="${MODEL}",mode="partial"\\} [1-9]`));
  });
});
