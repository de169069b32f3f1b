// The precise prefix index: what the engines' KV events say each replica holds, fed by real ZMQ
// sockets from the simulator (real tokenizer, vLLM block hashes), used by decide() in place of
// the approximate index, and abandoned (said so) when a replica's stream cannot be trusted.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.js';
import { commitDecision } from '../../src/core/learn.js';
import { createLearnedState } from '../../src/core/learned/learned-state.js';
import { seededRng } from '../../src/core/rng.js';
import type { PreciseMatch } from '../../src/core/types.js';
import { parseFleet } from '../../src/config/load.js';
import { KvIndex } from '../../src/fleet/kv-events/kv-index.js';
import { PendingBlocks } from '../../src/fleet/kv-events/pending-blocks.js';
import { PreciseIndex } from '../../src/fleet/kv-events/precise-index.js';
import { PromptTokenizer } from '../../src/fleet/kv-events/prompt-tokens.js';
import { bundledTokenizerPath, loadTokenizer } from '../../src/fleet/kv-events/tokenizer.js';
import { startSim, type SimHandle } from '../../src/tools/sim/index.js';
import { waitFor } from '../../src/tools/ports.js';
import { chatInput, endpoints, FakeLive, oneModelFleet, request, SYSTEM } from '../helpers/core.js';
import { fleetFrom } from '../helpers/fleet.js';
import { REPO_ROOT } from '../helpers/envoy.js';

const TEMPLATE = join(REPO_ROOT, 'examples', 'kv-events', 'chat-template.jinja');

describe('PreciseIndex', () => {
  it('holds what was stored, forgets what was removed or cleared, and matches leading blocks only', () => {
    const ix = new PreciseIndex(100);
    ix.stored('a', [1n, 2n, 3n]);
    expect(ix.match('a', [1n, 2n, 3n, 4n])).toBe(3);
    ix.removed('a', [2n]);
    expect(ix.match('a', [1n, 2n, 3n])).toBe(1);
    expect(ix.match('b', [1n])).toBe(0);
    ix.cleared('a');
    expect(ix.match('a', [1n])).toBe(0);
  });

  it('is bounded per replica: the oldest stored blocks go first', () => {
    const ix = new PreciseIndex(2);
    ix.stored('a', [1n, 2n]);
    ix.stored('a', [3n]);
    expect(ix.size('a')).toBe(2);
    expect(ix.holds('a', 1n)).toBe(false);
    expect(ix.overflowed).toBe(1);
  });
});

describe('PendingBlocks', () => {
  it('counts a routed prompt as held until the engine reports it or the guess expires', () => {
    const p = new PendingBlocks<bigint>(1000);
    p.add('a', [1n, 2n], 0);
    expect(p.has('a', 1n, 500)).toBe(true);
    expect(p.has('b', 1n, 500)).toBe(false);
    p.settle('a', [1n]);
    expect(p.has('a', 1n, 500)).toBe(false);
    expect(p.has('a', 2n, 1000)).toBe(false);
    expect(new PendingBlocks<bigint>(0).has('a', 1n, 0)).toBe(false);
  });
});

describe('models[].kv_events in the fleet file', () => {
  const base = (kv: string, engine = 'vllm') => `
models:
  - name: m
    cluster: pool-m
    model_id: org/M
    engine: ${engine}
    endpoints: [10.0.0.1:8000]
    kv_events: ${kv}
`;
  it('accepts a tokenizer with defaults for the rest', () => {
    const r = parseFleet(base('{ tokenizer: ./tokenizer.json }'));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.fleet.models[0]?.kv_events).toMatchObject({ block_size: 16, hash_seed: '0', port: 5557, topic: '', max_silence_ms: 10000 });
  });
  it.each([
    ['{ tokenizer: t.json, block_size: 0 }', 'vllm', 'models[0].kv_events.block_size'],
    ['{ block_size: 16 }', 'vllm', 'models[0].kv_events.tokenizer'],
    ['{ tokenizer: t.json, endpoints: { "10.0.0.1:8000": "http://x:1" } }', 'vllm', 'models[0].kv_events.endpoints'],
    ['{ tokenizer: t.json, colour: red }', 'vllm', 'models[0].kv_events'],
    ['{ tokenizer: t.json }', 'sglang', 'models[0].kv_events'],
  ])('rejects %s (engine %s), naming %s', (kv, engine, path) => {
    const r = parseFleet(base(kv, engine));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join('\n')).toContain(path);
  });
});

describe('PromptTokenizer', () => {
  const tok = loadTokenizer(bundledTokenizerPath());
  const pt = new PromptTokenizer(tok, '{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}');
  it('renders chat through the template (special tokens written by it) and completions with BOS', () => {
    const chat = pt.tokens('chat', { messages: [{ role: 'user', content: 'Hello there' }] });
    expect(chat.ok && chat.ids[0]).toBe(1);
    const comp = pt.tokens('completion', { prompt: 'Hello there' });
    expect(comp.ok && comp.ids).toEqual(tok.encode('Hello there'));
  });
  it('says why it cannot: images, tools, no template', () => {
    expect(pt.tokens('chat', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] })).toEqual({
      ok: false,
      reason: 'multimodal',
    });
    expect(pt.tokens('chat', { messages: [], tools: [{ type: 'function' }] })).toEqual({ ok: false, reason: 'tools' });
    expect(new PromptTokenizer(tok, undefined).tokens('chat', { messages: [] })).toEqual({ ok: false, reason: 'no-template' });
  });
  it('a bounded prefix gives the same leading tokens as the whole prompt', () => {
    const text = SYSTEM.repeat(4);
    const all = pt.tokens('completion', { prompt: text });
    const cut = pt.tokens('completion', { prompt: text }, 64);
    expect(all.ok && cut.ok).toBe(true);
    if (all.ok && cut.ok) {
      expect(cut.truncated).toBe(true);
      expect(cut.ids.length).toBeGreaterThan(0);
      expect(cut.ids).toEqual(all.ids.slice(0, cut.ids.length));
    }
  });
});

describe('decide() with precise matches', () => {
  it('scores prefix affinity from the precise shares, not the approximate index, and says which it used', () => {
    const fleet = oneModelFleet(3);
    const live = new FakeLive();
    const state = createLearnedState(fleet, seededRng(3));
    const [a, b] = endpoints(3);
    const input = chatInput([
      { role: 'system', text: SYSTEM },
      { role: 'user', text: 'q1' },
    ]);
    // The approximate index learns that the prompt went to the first pick.
    const first = decide(request(input), { fleet, live, state, now: 1 });
    commitDecision(state, first, live, fleet.affinity, 1);
    const warmApprox = first.endpoints[0] as string;
    const other = warmApprox === a ? (b as string) : (a as string);
    // The engines say otherwise: the other replica holds 90 % of the prompt, the first holds nothing (evicted).
    const match: PreciseMatch = {
      mode: 'precise',
      shares: new Map([
        [warmApprox, 0],
        [other, 0.9],
      ]),
    };
    const d = decide(request(input), { fleet, live, state, now: 2, precise: () => match });
    expect(d.endpoints[0]).toBe(other);
    expect(d.reasons).toContain('kv-precise');
    expect(d.affinity.kind).toBe('prefix');
    // Fallback: the approximate index decides again, and the reason says why.
    const fb = decide(request(input), { fleet, live, state, now: 3, precise: () => ({ mode: 'fallback', reason: 'disconnected', shares: new Map() }) });
    expect(fb.endpoints[0]).toBe(warmApprox);
    expect(fb.reasons).toContain('kv-fallback:disconnected');
  });
});

describe('KvIndex fed by simulated replicas over ZMQ', () => {
  let sim: SimHandle;
  let kv: KvIndex;
  const live = new FakeLive();
  let addrs: string[];
  const prompt = (n: number) => ({ role: 'user', content: `${SYSTEM} Ticket ${n}: ${'details of the issue '.repeat(20)}` });

  beforeAll(async () => {
    sim = await startSim({
      replicas: 2,
      basePort: 0,
      model: 'm',
      kvEvents: true,
      kvChatTemplate: TEMPLATE,
      cacheBlocks: 200,
      prefillUsPerToken: 0,
      decodeMsPerToken: 0,
    });
    addrs = sim.replicas.map((r) => `127.0.0.1:${r.port}`);
    const eps = Object.fromEntries(sim.replicas.map((r, i) => [addrs[i], r.kvEventsAddress()]));
    const fleet = fleetFrom(`
models:
  - name: m
    cluster: pool-m
    model_id: m
    endpoints: [${addrs.join(', ')}]
    kv_events:
      tokenizer: ${bundledTokenizerPath()}
      chat_template: ${TEMPLATE}
      endpoints: ${JSON.stringify(eps)}
      max_silence_ms: 300
`);
    kv = new KvIndex({ fleet, fleetPath: join(REPO_ROOT, 'fleet.yaml'), live });
    await waitFor('both subscriptions connected', () => addrs.every((a) => kv.state('m', a) === 'no-events-yet'), 5000);
  });
  afterAll(async () => {
    await kv.close();
    await sim.close();
  });

  const send = (i: number, body: Record<string, unknown>) =>
    fetch(`${sim.replicas[i]?.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', max_tokens: 1, ...body }),
    });
  const lookup = (body: Record<string, unknown>) =>
    kv.lookup(fleetFrom(`models: [{ name: m, cluster: c, model_id: m, endpoints: [${addrs.join(', ')}] }]`).models[0] as never, chatInput([], { body }));

  it('knows which replica really holds a prompt, and forgets it when the replica evicts it', async () => {
    // Both replicas serve once (their streams start), then replica 1 gets the prompt directly: kvfleet never routed it.
    for (const i of [0, 1])
      expect(
        (
          await send(i, {
            messages: [{ role: 'user', content: `warm-up ${i}: ${'a short unrelated question, long enough for a few full blocks. '.repeat(4)}` }],
          })
        ).status,
      ).toBe(200);
    const body = { messages: [prompt(1)] };
    expect((await send(1, body)).status).toBe(200);
    await waitFor('replica 1 reported the prompt', () => (lookup(body)?.shares.get(addrs[1] as string) ?? 0) > 0.8, 5000);
    const m = lookup(body);
    expect(m?.mode).toBe('precise');
    expect(m?.shares.get(addrs[0] as string)).toBe(0);
    // Memory pressure: other prompts fill replica 1's 200-block cache; it evicts ours and says so.
    for (let n = 0; n < 12; n++)
      expect((await send(1, { messages: [{ role: 'user', content: `Unrelated ${n}: ${'lorem ipsum dolor sit amet '.repeat(60)}` }] })).status).toBe(200);
    await waitFor('replica 1 reported the eviction', () => (lookup(body)?.shares.get(addrs[1] as string) ?? 1) === 0, 5000);
  });

  it('treats a replica that was sent work and stays silent as untrusted, until it publishes again', async () => {
    const model = fleetFrom(`models: [{ name: m, cluster: c, model_id: m, endpoints: [${addrs.join(', ')}] }]`).models[0] as never;
    expect(kv.state('m', addrs[1] as string)).toBe('fresh');
    // Let the earlier requests' events land first: the replica is quiet from here on.
    const batches = () => (kv.view()['m'] as { replicas: Array<{ endpoint: string; batches: number }> }).replicas.find((r) => r.endpoint === addrs[1])?.batches;
    let seen = batches();
    await waitFor(
      'a quiet stream',
      async () => {
        await new Promise((r) => setTimeout(r, 200));
        const now = batches();
        const quiet = now === seen;
        seen = now;
        return quiet;
      },
      5000,
    );
    kv.routed(model, addrs[1] as string);
    await waitFor('silence noticed', () => kv.state('m', addrs[1] as string) === 'silent', 5000);
    expect(lookup({ messages: [prompt(1)] })?.reason).toBe('silent');
    expect((await send(1, { messages: [prompt(77)] })).status).toBe(200);
    await waitFor('fresh again', () => kv.state('m', addrs[1] as string) === 'fresh', 5000);
  });

  it('falls back when a replica publisher stops, and says why', async () => {
    await sim.replicas[0]?.stopKvEvents();
    await waitFor('the disconnect', () => kv.state('m', addrs[0] as string) === 'disconnected', 5000);
    const m = lookup({ messages: [prompt(1)] });
    expect(m?.mode).toBe('partial');
    expect(m?.reason).toBe('disconnected');
    expect(m?.shares.has(addrs[0] as string)).toBe(false);
    const view = kv.view()['m'] as { replicas: Array<{ endpoint: string; state: string }> };
    expect(view.replicas.find((r) => r.endpoint === addrs[0])?.state).toBe('disconnected');
  });
});

describe('simulator --kv-events', () => {
  it('serves requests it cannot render the engine way (no chat template) and publishes nothing for them', async () => {
    const sim = await startSim({ replicas: 1, basePort: 0, model: 'm', kvEvents: true, prefillUsPerToken: 0, decodeMsPerToken: 0, cacheBlocks: 4 });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${sim.replicas[0]?.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: `${i} ${SYSTEM}` }] }),
        });
        expect(res.status).toBe(200);
      }
      const comp = await fetch(`${sim.replicas[0]?.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', max_tokens: 1, prompt: SYSTEM }),
      });
      expect(comp.status).toBe(200);
      const body = (await comp.json()) as { usage: { prompt_tokens: number } };
      expect(body.usage.prompt_tokens).toBe(loadTokenizer(bundledTokenizerPath()).encode(SYSTEM).length);
    } finally {
      await sim.close();
    }
  });
});
