// Idle sleep and wake-on-request through a real Envoy (issue 15): simulated vLLM replicas with
// sleep mode (a wake takes 700 ms), kvfleet putting an idle model to sleep through the engines'
// own API, and requests that arrive while it sleeps held until it is awake. Waits are bounded
// polls; assertions are on what the client and the replicas saw, never on speed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, QWEN_ID, LLAMA_ID, startStack, type Stack } from '../helpers/stack.js';
import { until } from '../helpers/fleet-state-stack.js';
import type { SimHandle } from '../../src/tools/sim/index.js';

interface ModelsJson {
  window_seconds: number;
  models: Array<{
    model: string;
    state: string;
    requests_total: number;
    requests_in_window: number;
    last_request_at: string | null;
    inflight: number;
    sleep: unknown;
  }>;
}

type ModelEdit = { name: string; sleep?: Record<string, unknown> };
const withSleep = (settings: Record<string, Record<string, unknown>>) => (fleet: Record<string, unknown>) => {
  for (const m of fleet['models'] as ModelEdit[]) if (settings[m.name] !== undefined) m.sleep = settings[m.name];
};

let n = 0;
const ask = (url: string, model: string) =>
  postJson(url, '/v1/chat/completions', { model, messages: [{ role: 'user', content: `question ${++n}` }], max_tokens: 4 });
const models = async (s: Stack, path = '/models/stats'): Promise<ModelsJson> => (await fetch(`${s.kvfleet.adminUrl}${path}`)).json() as Promise<ModelsJson>;
const stateOf = async (s: Stack, model: string) => (await models(s)).models.find((m) => m.model === model)?.state;
const phases = (sim: SimHandle) => sim.replicas.map((r) => r.stats().sleep.phase);
const wakes = (sim: SimHandle) => sim.replicas.map((r) => r.stats().sleep.wakes);
const refused = (sim: SimHandle) => sim.replicas.reduce((a, r) => a + r.stats().sleep.refused, 0);
const admin = (s: Stack, path: string) => fetch(`${s.kvfleet.adminUrl}${path}`, { method: 'POST' });

describe('idle sleep and wake-on-request (full duplex, envoy.yaml as shipped)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({
      sim: { sleepMs: 100, wakeMs: 700, decodeMsPerToken: 1 },
      editFleet: withSleep({
        'qwen-2.5-7b': { idle_seconds: 2 },
        'llama-3-8b': { auto: false, wake_timeout_ms: 300 },
      }),
    });
  });
  afterAll(async () => s?.stop());

  it('puts an idle model to sleep through the engine API, then a burst of requests shares one wake and all succeed', async () => {
    const first = await ask(s.url, 'qwen-2.5-7b');
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    await until('qwen to fall asleep after 2 s idle', async () => (await stateOf(s, 'qwen-2.5-7b')) === 'sleeping');
    expect(phases(s.qwen)).toEqual(['asleep', 'asleep']);
    // (It may have slept once already: idle since kvfleet started, before the first request.)
    const before = wakes(s.qwen);
    // llama has requests of its own and auto: false: awake.
    expect(phases(s.llama)).toEqual(['awake', 'awake']);

    const burst = await Promise.all(Array.from({ length: 4 }, () => ask(s.url, 'qwen-2.5-7b')));
    const bodies = await Promise.all(burst.map(async (r) => ({ status: r.status, body: (await r.json()) as { kvfleet_sim?: { received_model: string } } })));
    expect(bodies.map((b) => b.status)).toEqual([200, 200, 200, 200]);
    expect(bodies.every((b) => b.body.kvfleet_sim?.received_model === QWEN_ID)).toBe(true);
    // One wake per replica for the whole burst, and no request ever reached a sleeping replica.
    expect(wakes(s.qwen)).toEqual(before.map((w) => w + 1));
    expect(refused(s.qwen)).toBe(0);
  });

  it('reports traffic per model: rate, last request, state, and the idle and active lists', async () => {
    const r = await ask(s.url, 'qwen-2.5-7b');
    await r.arrayBuffer();
    // In flight until Envoy's access log tells kvfleet the request ended (it comes after the response).
    await until('the request ends at kvfleet', async () => (await models(s)).models.find((m) => m.model === 'qwen-2.5-7b')?.inflight === 0);
    const stats = await models(s);
    expect(stats.window_seconds).toBe(60);
    const qwen = stats.models.find((m) => m.model === 'qwen-2.5-7b');
    expect(qwen).toMatchObject({ state: 'active', inflight: 0, sleep: { idle_seconds: 2, auto: true, min_sleep_seconds: 0 } });
    expect(qwen?.requests_total).toBeGreaterThanOrEqual(6);
    expect(Date.parse(qwen?.last_request_at ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect((await models(s, '/models/active')).models.map((m) => m.model)).toContain('qwen-2.5-7b');
    // Nothing asked for the hosted model: idle past any short threshold, never active.
    expect((await models(s, '/models/idle?threshold=0.5')).models.map((m) => m.model)).toContain('hosted-gpt');
    expect((await models(s, '/models/active?threshold=0.5')).models.map((m) => m.model)).not.toContain('hosted-gpt');
    expect((await models(s, '/models/stats?window=5')).window_seconds).toBe(5);
    const bad = await fetch(`${s.kvfleet.adminUrl}/models/stats?window=0`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('window');
  });

  it('a request that arrives while the model falls asleep waits and is served', async () => {
    await until('qwen idle and asleep again', async () => (await stateOf(s, 'qwen-2.5-7b')) === 'sleeping');
    const woke = await admin(s, '/models/qwen-2.5-7b/wake');
    expect(await woke.json()).toEqual({ model: 'qwen-2.5-7b', state: 'awake' });
    expect(phases(s.qwen)).toContain('awake');
    const sleeping = admin(s, '/models/qwen-2.5-7b/sleep');
    await new Promise((r) => setTimeout(r, 20));
    const res = await ask(s.url, 'qwen-2.5-7b');
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect((await sleeping).status).toBe(200);
    expect(refused(s.qwen)).toBe(0);
  });

  it('answers 503 model_waking with retry-after when the wake outlasts wake_timeout_ms, and serves once awake', async () => {
    const put = await admin(s, '/models/llama-3-8b/sleep');
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ model: 'llama-3-8b', state: 'sleeping' });
    expect(phases(s.llama)).toEqual(['asleep', 'asleep']);
    const res = await ask(s.url, 'llama-3-8b');
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await res.json()) as { error: { code: string; type: string; message: string } };
    expect(body.error.code).toBe('model_waking');
    expect(body.error.message).toContain('llama-3-8b');
    // The wake carries on without the client: the next request is served.
    await until('llama awake', async () => (await stateOf(s, 'llama-3-8b')) !== 'waking' && phases(s.llama).every((p) => p === 'awake'));
    const ok = await ask(s.url, 'llama-3-8b');
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { kvfleet_sim: { received_model: string } }).kvfleet_sim.received_model).toBe(LLAMA_ID);
    expect(refused(s.llama)).toBe(0);
  });

  it('refuses operator actions it cannot do, with catalogue errors', async () => {
    const hosted = await admin(s, '/models/hosted-gpt/sleep');
    expect(hosted.status).toBe(400);
    expect(((await hosted.json()) as { error: { code: string } }).error.code).toBe('sleep_unsupported');
    expect((await admin(s, '/models/no-such-model/wake')).status).toBe(404);
    expect((await fetch(`${s.kvfleet.adminUrl}/models/llama-3-8b/sleep`)).status).toBe(405);
  });

  it('exports the sleep state and transitions as metrics', async () => {
    const text = await (await fetch(`${s.kvfleet.adminUrl}/metrics`)).text();
    expect(text).toMatch(/kvfleet_model_state\{model="llama-3-8b",state="awake"\} 1/);
    expect(text).toMatch(/kvfleet_model_state_changes_total\{model="qwen-2.5-7b",state="sleeping"\} [1-9]/);
    expect(text).toMatch(/kvfleet_model_wake_seconds_count\{model="qwen-2.5-7b",result="ok"\} [1-9]/);
    expect(text).toMatch(/kvfleet_model_inflight\{model="qwen-2.5-7b"\} 0/);
  });
});

describe('a wake longer than Envoy’s message_timeout (BUFFERED bodies)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({
      extProcMode: 'buffered',
      sim: { sleepMs: 50, wakeMs: 2500, decodeMsPerToken: 1 },
      editFleet: withSleep({ 'qwen-2.5-7b': { auto: false, wake_timeout_ms: 8000 } }),
    });
  });
  afterAll(async () => s?.stop());

  it('extends the message timeout for the held request (override_message_timeout) and serves it', async () => {
    expect((await admin(s, '/models/qwen-2.5-7b/sleep')).status).toBe(200);
    const started = Date.now();
    const res = await ask(s.url, 'qwen-2.5-7b');
    const held = Date.now() - started;
    expect(res.status).toBe(200);
    expect(res.headers.get('x-kvfleet-model')).toBe('qwen-2.5-7b');
    await res.arrayBuffer();
    // Held through the 2.5 s wake: longer than the 1.5 s message_timeout of envoy.yaml.
    expect(held).toBeGreaterThan(1500);
    expect(wakes(s.qwen)).toEqual([1, 1]);
  });
});
