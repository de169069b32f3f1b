import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.js';
import { capabilityVerdict } from '../../src/core/filters.js';
import { commitDecision, learnOutcome } from '../../src/core/learn.js';
import { seededRng } from '../../src/core/rng.js';
import { STRATEGIES } from '../../src/core/strategies/registry.js';
import { STRATEGY_NAMES } from '../../src/config/names.js';
import { fingerprint } from '../../src/core/fingerprint.js';
import type { Decision, DecisionRequest } from '../../src/core/types.js';
import type { Fleet } from '../../src/config/fleet.js';
import { isKvError, type KvError } from '../../src/errors.js';
import { createLearnedState, type LearnedState } from '../../src/core/learned/learned-state.js';
import { chatInput, endpoints, FakeLive, oneModelFleet, request, SYSTEM } from '../helpers/core.js';
import { fleetFrom } from '../helpers/fleet.js';

function router(fleet: Fleet, seed = 7) {
  const live = new FakeLive();
  const state = createLearnedState(fleet, seededRng(seed));
  let now = 1_000;
  const run = (req: DecisionRequest, commit = true): Decision => {
    const d = decide(req, { fleet, live, state, now });
    // Sequential requests: each completes before the next (tests set in-flight counts themselves).
    if (commit) commitDecision(state, d, live, fleet.affinity, now);
    return d;
  };
  return { live, state, run, tick: (ms: number) => (now += ms), now: () => now };
}

/** The KvError `f` throws (fails the test when it throws nothing or something else). */
function thrown(f: () => unknown): KvError {
  try {
    f();
  } catch (e) {
    if (isKvError(e)) return e;
    throw e;
  }
  throw new Error('expected a KvError, got a result');
}

const turn = (user: string) =>
  chatInput([
    { role: 'system', text: SYSTEM },
    { role: 'user', text: user },
  ]);

describe('strategy registry', () => {
  it('implements every strategy the header and the fleet file accept', () => {
    expect(Object.keys(STRATEGIES).sort()).toEqual([...STRATEGY_NAMES].sort());
  });
});

describe('prefix and session affinity', () => {
  it('requests sharing a system prompt land on the same replica while it has room, then spill', () => {
    const fleet = oneModelFleet(4);
    const r = router(fleet);
    const first = r.run(request(turn('question one')));
    expect(first.affinity.kind).toBe('none');
    expect(first.reasons[0]).toBe('chwbl');
    const home = first.endpoints[0];
    const second = r.run(request(turn('question two')));
    expect(second.endpoints[0]).toBe(home);
    expect(second.affinity.kind).toBe('prefix');
    expect(second.affinity.score).toBeGreaterThan(0.8);
    expect(second.reasons[0]).toBe('prefix-hit');
    // Pile requests onto the home replica: at some point a cold idle replica is faster.
    for (let i = 0; i < 40; i++) r.live.acquire(home as string);
    const third = r.run(request(turn('question three')));
    expect(third.endpoints[0]).not.toBe(home);
    expect(third.reasons[0]).toBe('prefix-spill');
    expect(third.endpoints).toContain(home);
  });

  it('a warm but swamped replica loses to a cold idle one exactly when the estimate says it is slower', () => {
    const fleet = oneModelFleet(2, 'affinity: { prefill_us_per_token: 100, wait_ms_per_request: 30, block_tokens: 16 }');
    const r = router(fleet);
    const warm = r.run(request(turn('seed'))).endpoints[0] as string;
    r.live.set(warm, { inflight: 0 });
    const d0 = r.run(request(turn('probe')), false);
    const saved = (d0.endpointDetails.find((e) => e.address === warm)?.matchedBlocks ?? 0) * 16 * 0.1; // ms of prefill saved
    expect(saved).toBeGreaterThan(30);
    const tolerable = Math.floor(saved / 30);
    r.live.set(warm, { inflight: tolerable });
    expect(r.run(request(turn('probe')), false).endpoints[0]).toBe(warm);
    r.live.set(warm, { inflight: tolerable + 1 });
    expect(r.run(request(turn('probe')), false).endpoints[0]).not.toBe(warm);
  });

  it('engine queue and KV usage count; stale metrics are penalised, never read as idle', () => {
    const fleet = oneModelFleet(2);
    const r = router(fleet);
    const [a, b] = endpoints(2) as [string, string];
    r.live.set(a, { engine: { running: 2, waiting: 6, kvUsage: 0.99, capacityBlocks: undefined, blockTokens: undefined } });
    const d = r.run(request(turn('hello')), false);
    expect(d.endpoints[0]).toBe(b);
    r.live.set(a, { engine: undefined, stale: true });
    r.live.set(b, { engine: undefined, stale: false });
    const e = d.endpointDetails.length === 2 ? r.run(request(chatInput([{ role: 'user', text: 'fresh' }])), false) : d;
    const stale = e.endpointDetails.find((x) => x.address === a);
    const fresh = e.endpointDetails.find((x) => x.address === b);
    expect(stale?.stale).toBe(true);
    expect(stale?.waitMs).toBeGreaterThan(fresh?.waitMs ?? 0);
  });

  it('turn n+1 of a conversation lands where turn n did, without a session id', () => {
    const fleet = oneModelFleet(8);
    const r = router(fleet);
    const msgs = [
      { role: 'system', text: SYSTEM },
      { role: 'user', text: 'first question' },
    ];
    const d1 = r.run(request(chatInput(msgs)));
    msgs.push({ role: 'assistant', text: 'an answer '.repeat(20) }, { role: 'user', text: 'follow-up' });
    const d2 = r.run(request(chatInput(msgs)));
    expect(d2.endpoints[0]).toBe(d1.endpoints[0]);
    // It extends turn 1's whole prompt: inferred as the same conversation (affinity.infer_sessions).
    expect(d2.affinity.kind).toBe('session');
    expect(d2.session?.source).toBe('inferred');
    // Without inference, the prefix index finds the same replica.
    const plain = router(oneModelFleet(8, 'affinity: { infer_sessions: false }'));
    const p1 = plain.run(request(chatInput(msgs.slice(0, 2))));
    const p2 = plain.run(request(chatInput(msgs)));
    expect(p2.endpoints[0]).toBe(p1.endpoints[0]);
    expect(p2.affinity.kind).toBe('prefix');
  });

  it('inferred sessions: two questions after one long shared system prompt stay two conversations; a follow-up joins its own', () => {
    const r = router(oneModelFleet(8));
    const a = r.run(request(turn('what is the refund policy for annual plans?')));
    const b = r.run(request(turn('how do I export my invoices as CSV?')));
    expect(b.session).toBeUndefined(); // shares the system prompt's blocks, not a's whole prompt
    const aFollow = chatInput([
      { role: 'system', text: SYSTEM },
      { role: 'user', text: 'what is the refund policy for annual plans?' },
      { role: 'assistant', text: 'Annual plans are refundable within 30 days. '.repeat(4) },
      { role: 'user', text: 'and for monthly ones?' },
    ]);
    const d = r.run(request(aFollow));
    expect(d.session?.source).toBe('inferred');
    expect(d.endpoints[0]).toBe(a.endpoints[0]);
  });

  it('a session pin holds, yields when its endpoint is unhealthy or overloaded, and re-pins', () => {
    const fleet = oneModelFleet(4);
    const r = router(fleet);
    const s = { sessionId: 'sess-1' };
    const d1 = r.run(request(chatInput([{ role: 'user', text: 'hi' }]), s));
    expect(d1.session?.outcome).toBe('new');
    const home = d1.endpoints[0] as string;
    const d2 = r.run(request(chatInput([{ role: 'user', text: 'entirely different words' }]), s));
    expect(d2.endpoints[0]).toBe(home);
    expect(d2.affinity.kind).toBe('session');
    r.live.set(home, { healthy: false });
    const d3 = r.run(request(chatInput([{ role: 'user', text: 'again' }]), s));
    expect(d3.session?.outcome).toBe('yield-unhealthy');
    expect(d3.endpoints).not.toContain(home);
    const next = d3.endpoints[0] as string;
    const d4 = r.run(request(chatInput([{ role: 'user', text: 'and again' }]), s));
    expect(d4.endpoints[0]).toBe(next);
    expect(d4.session?.outcome).toBe('pinned');
    r.live.set(next, { inflight: 50 });
    const d5 = r.run(request(chatInput([{ role: 'user', text: 'busy?' }]), s));
    expect(d5.session?.outcome).toBe('yield-overloaded');
    expect(d5.endpoints[0]).not.toBe(next);
  });

  it('the session pin expires after session_ttl_s', () => {
    const fleet = oneModelFleet(16, 'affinity: { session_ttl_s: 10 }');
    const r = router(fleet);
    r.run(request(chatInput([{ role: 'user', text: 'hi' }]), { sessionId: 'ttl' }));
    r.tick(9_000);
    expect(r.run(request(chatInput([{ role: 'user', text: 'x' }]), { sessionId: 'ttl' })).session?.outcome).toBe('pinned');
    r.tick(10_001);
    expect(r.run(request(chatInput([{ role: 'user', text: 'y' }]), { sessionId: 'ttl' })).session?.outcome).toBe('new');
  });

  it('CHWBL: a first-seen prompt never goes to an endpoint over the load bound (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 16, maxLength: 16 }),
        fc.string({ minLength: 1, maxLength: 300 }),
        fc.constantFrom(1, 1.25, 2),
        (n, loads, prompt, bound) => {
          const fleet = oneModelFleet(n, `affinity: { load_bound: ${bound} }`);
          const r = router(fleet);
          const eps = endpoints(n);
          eps.forEach((e, i) => r.live.set(e, { inflight: loads[i] ?? 0 }));
          const d = r.run(request(chatInput([{ role: 'user', text: prompt }])), false);
          const total = eps.reduce((s, e) => s + r.live.inflight(e), 0);
          const cap = Math.ceil((bound * (total + 1)) / n - 1e-9);
          expect(r.live.inflight(d.endpoints[0] as string) + 1).toBeLessThanOrEqual(cap);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('placement of first-seen prompts is deterministic across processes (fresh state, same fleet)', () => {
    const fleet = oneModelFleet(8);
    for (const p of ['alpha', 'beta', 'gamma', 'delta']) {
      const a = router(fleet, 1).run(request(chatInput([{ role: 'user', text: p }])));
      const b = router(fleet, 999).run(request(chatInput([{ role: 'user', text: p }])));
      expect(a.endpoints[0]).toBe(b.endpoints[0]);
    }
  });
});

describe('adaptive load bound and large pools', () => {
  it('traffic that never repeats a prompt start tightens CHWBL to the mean; shared traffic keeps load_bound', () => {
    const fleet = oneModelFleet(8);
    const eps = endpoints(8);
    const loads = [6, 0, 3, 5, 1, 4, 2, 7];
    // Unique prompts: the reuse rate decays, the bound falls towards 1.
    const unique = router(fleet);
    for (let i = 0; i < 3000; i++) unique.run(request(chatInput([{ role: 'user', text: `${i} `.repeat(200) }])));
    eps.forEach((e, i) => unique.live.set(e, { inflight: loads[i] }));
    const u = unique.run(request(chatInput([{ role: 'user', text: 'a prompt nobody sent before '.repeat(20) }])), false);
    expect(u.loadBound).toBeLessThan(1.01);
    const total = loads.reduce((a, b) => a + b, 0);
    // cap = ceil(bound · (total + 1) / n) = ceil(29 · 1.0x / 8) = 4: the pick carries at most 3.
    expect(unique.live.inflight(u.endpoints[0] as string)).toBeLessThanOrEqual(Math.ceil((total + 1) / 8) - 1);
    // Shared system prompt: the reuse rate stays at 1 and the configured bound holds.
    const shared = router(fleet);
    for (let i = 0; i < 3000; i++) shared.run(request(turn(`question ${i}`)));
    const s = shared.run(request(turn('one more question')), false);
    expect(s.loadBound).toBeCloseTo(1.25, 2);
    // Opting out keeps the configured bound whatever the traffic.
    const fixed = router(oneModelFleet(8, 'affinity: { adaptive_bound: false }'));
    for (let i = 0; i < 2000; i++) fixed.run(request(chatInput([{ role: 'user', text: `${i} `.repeat(200) }])));
    expect(fixed.run(request(turn('x')), false).loadBound).toBe(1.25);
  });

  it('a 1,000-endpoint pool: warm endpoints found through the root index, bounded details, retries still learn', () => {
    const fleet = oneModelFleet(1000);
    const eps = endpoints(1000);
    const r = router(fleet);
    eps.forEach((e, i) => r.live.set(e, { inflight: i % 3 }));
    const first = r.run(request(turn('how do I reset my password?')));
    const home = first.endpoints[0] as string;
    const again = r.run(request(turn('how do I reset my email address?')));
    expect(again.endpoints[0]).toBe(home);
    expect(again.affinity.kind).toBe('prefix');
    expect(again.endpointCount).toBe(1000);
    expect(again.endpointDetails.length).toBeLessThanOrEqual(32);
    const shown = again.endpointDetails.map((e) => e.address);
    for (const e of again.endpoints) expect(shown).toContain(e);
    expect(again.endpointDetails.find((e) => e.address === home)?.matchedBlocks).toBeGreaterThan(0);
    // Envoy retried on an endpoint outside the shown list: it learns the prompt all the same.
    const other = eps.find((e) => !shown.includes(e)) as string;
    learnOutcome(r.state, fleet, r.live, again, { status: 200, servedEndpoint: other, latencyMs: 50 }, r.now());
    expect(r.state.index.size(other)).toBeGreaterThan(0);
  });
});

const MULTI = `
default_model: small
routing:
  model_weights: { small: 1, mid: 2, big: 1 }
  rules:
    - { name: tools-to-big, when: { tools: true }, model: big }
    - { name: long-to-mid, when: { min_prompt_tokens: 2000 }, model: mid }
  domains: { coding: mid, general: small }
models:
  - name: small
    cluster: c-small
    model_id: small
    endpoints: [10.0.0.1:1, 10.0.0.2:1]
    capabilities: { tools: false, context_length: 4096 }
    priors: { quality: 0.5, cost_per_1k_input: 0.001, latency_p50_ms: 200 }
    tags: { domain: general }
  - name: mid
    cluster: c-mid
    model_id: mid
    endpoints: [10.0.1.1:1, 10.0.1.2:1]
    capabilities: { vision: true, context_length: 32768 }
    priors: { quality: 0.7, cost_per_1k_input: 0.01, latency_p50_ms: 400 }
    tags: { domain: "coding,math" }
  - name: big
    cluster: c-big
    model_id: big
    endpoints: [10.0.2.1:1]
    capabilities: { json_mode: false, context_length: 131072 }
    priors: { quality: 0.9, cost_per_1k_input: 0.05, latency_p50_ms: 900 }
  - name: embed
    cluster: c-embed
    model_id: embed
    type: embedding
    endpoints: [10.0.3.1:1]
`;

describe('model choice', () => {
  it('never picks a filtered model or an unhealthy endpoint, nor offers one as a fallback; refuses only when nothing fits (property)', () => {
    const fleet = fleetFrom(MULTI);
    const all = fleet.models.flatMap((m) => m.endpoints);
    const seen = { decided: 0, noCapable: 0, noHealthy: 0 };
    fc.assert(
      fc.property(
        fc.record({
          strategy: fc.constantFrom(...STRATEGY_NAMES),
          tools: fc.boolean(),
          json: fc.boolean(),
          images: fc.boolean(),
          embedding: fc.boolean(),
          chars: fc.integer({ min: 1, max: 200_000 }),
          sick: fc.subarray(all),
          session: fc.option(fc.constantFrom('s1', 's2')),
        }),
        (c) => {
          const r = router(fleet, c.chars);
          for (const e of c.sick) r.live.set(e, { healthy: false });
          const input = chatInput([{ role: 'user', text: 'w '.repeat(Math.ceil(c.chars / 2)).slice(0, c.chars) }], {
            api: c.embedding ? 'embedding' : 'chat',
            hasTools: c.tools,
            jsonMode: c.json,
            hasImages: c.images,
          });
          // The oracle: models that can serve the request, and those of them with a healthy endpoint.
          const tokens = fingerprint(input.segments, input.promptChars, fleet.affinity).promptTokens;
          const capable = fleet.models.filter((m) => capabilityVerdict(m, input, tokens) === undefined);
          const healthy = capable.filter((m) => m.endpoints.some((e) => !c.sick.includes(e)));
          const run = () => r.run(request(input, { strategy: c.strategy, sessionId: c.session ?? undefined }));
          if (capable.length === 0) {
            seen.noCapable++;
            expect(thrown(run)).toMatchObject({ code: 'invalid_field', status: 400 });
            return;
          }
          if (healthy.length === 0) {
            seen.noHealthy++;
            expect(thrown(run)).toMatchObject({ code: 'no_candidate', status: 503 });
            return;
          }
          seen.decided++;
          const d = run();
          expect(healthy).toContain(d.model);
          for (const name of d.fallbackModels) {
            const m = fleet.byName.get(name);
            expect(m !== undefined && healthy.includes(m)).toBe(true);
            expect(d.rejected.map((x) => x.model)).not.toContain(name);
          }
          for (const e of d.endpoints) {
            expect(c.sick).not.toContain(e);
            expect(d.model.endpoints).toContain(e);
          }
        },
      ),
      { numRuns: 400 },
    );
    // Every branch was exercised: the property did not pass by refusing everything.
    expect(seen.decided).toBeGreaterThan(100);
    expect(seen.noCapable).toBeGreaterThan(0);
    expect(seen.noHealthy).toBeGreaterThan(0);
  });

  it('a named model that cannot serve the request is an error naming the reason', () => {
    const r = router(fleetFrom(MULTI));
    const img = chatInput([{ role: 'user', text: 'what is this' }], { model: 'small', hasImages: true });
    expect(thrown(() => r.run(request(img)))).toMatchObject({
      status: 400,
      code: 'invalid_field',
      param: 'messages',
      message: "model 'small' does not accept image input",
    });
    const d = r.run(request({ ...img, model: 'auto' }));
    expect(d.model.name).toBe('mid');
    expect(d.rejected).toEqual(
      expect.arrayContaining([
        { model: 'small', reason: 'no-vision' },
        { model: 'embed', reason: 'type:embedding' },
      ]),
    );
  });

  it('weighted: shares match the weights within tolerance over many draws', () => {
    const fleet = fleetFrom(MULTI);
    const r = router(fleet, 42);
    const counts = new Map<string, number>();
    const N = 8000;
    for (let i = 0; i < N; i++) {
      const d = r.run(request(chatInput([{ role: 'user', text: 'hi' }]), { strategy: 'weighted' }), false);
      counts.set(d.model.name, (counts.get(d.model.name) ?? 0) + 1);
    }
    expect((counts.get('small') ?? 0) / N).toBeCloseTo(0.25, 1);
    expect((counts.get('mid') ?? 0) / N).toBeCloseTo(0.5, 1);
    expect((counts.get('big') ?? 0) / N).toBeCloseTo(0.25, 1);
    expect(Math.abs((counts.get('mid') ?? 0) / N - 0.5)).toBeLessThan(0.025);
    expect(counts.get('embed')).toBeUndefined();
  });

  it('weighted shares hold for any weights (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 3, maxLength: 3 }).filter((w) => w.some((x) => x > 0)),
        fc.integer(),
        (w, seed) => {
          const fleet = fleetFrom(
            MULTI.replace('model_weights: { small: 1, mid: 2, big: 1 }', `model_weights: { small: ${w[0]}, mid: ${w[1]}, big: ${w[2]} }`),
          );
          const r = router(fleet, seed);
          const N = 3000;
          const counts = [0, 0, 0];
          for (let i = 0; i < N; i++) {
            const name = r.run(request(chatInput([{ role: 'user', text: 'hi' }]), { strategy: 'weighted' }), false).model.name;
            counts[['small', 'mid', 'big'].indexOf(name)]!++;
          }
          const sum = w.reduce((a, b) => a + b, 0);
          w.forEach((x, i) => expect(Math.abs((counts[i] as number) / N - x / sum)).toBeLessThan(0.04));
        },
      ),
      { numRuns: 15 },
    );
  });

  it('cost_first, quality_first, latency_first and cheap_cascade order the candidates as named', () => {
    const r = router(fleetFrom(MULTI));
    const q = chatInput([{ role: 'user', text: 'hello' }]);
    expect(r.run(request(q, { strategy: 'cost_first' }), false).model.name).toBe('small');
    expect(r.run(request(q, { strategy: 'quality_first' }), false).model.name).toBe('big');
    expect(r.run(request(q, { strategy: 'latency_first' }), false).model.name).toBe('small');
    const c = r.run(request(q, { strategy: 'cheap_cascade' }), false);
    expect([c.model.name, ...c.fallbackModels]).toEqual(['small', 'mid', 'big']);
    const tools = r.run(request({ ...q, hasTools: true }, { strategy: 'cheap_cascade' }), false);
    expect([tools.model.name, ...tools.fallbackModels]).toEqual(['mid', 'big']);
  });

  it('static, rules and an allow-list', () => {
    const r = router(fleetFrom(MULTI));
    const q = chatInput([{ role: 'user', text: 'hello' }]);
    expect(r.run(request(q, { strategy: 'static' }), false).model.name).toBe('small');
    const t = r.run(request({ ...q, hasTools: true }, { strategy: 'rules' }), false);
    expect(t.model.name).toBe('big');
    expect(t.reasons).toContain('rule:tools-to-big');
    const long = r.run(request(chatInput([{ role: 'user', text: 'z'.repeat(10_000) }]), { strategy: 'rules' }), false);
    expect(long.model.name).toBe('mid');
    expect(r.run(request(q, { strategy: 'rules' }), false).reasons).toContain('rule:none');
    const allow = r.run(request(q, { strategy: 'quality_first', models: ['small', 'mid'] }), false);
    expect(allow.model.name).toBe('mid');
    expect(allow.fallbackModels).toEqual(['small']);
  });

  it('semantic and domain classify whole words of the prompt', () => {
    const r = router(fleetFrom(MULTI));
    const code = chatInput([{ role: 'user', text: 'Write a Python function that parses JSON' }]);
    const capital = chatInput([{ role: 'user', text: 'What is the capital of France? Give rapid answers.' }]);
    const dc = r.run(request(code, { strategy: 'semantic' }), false);
    expect(dc.domain).toBe('coding');
    expect(dc.model.name).toBe('mid');
    const dg = r.run(request(capital, { strategy: 'semantic' }), false);
    expect(dg.domain).toBe('general');
    expect(dg.model.name).toBe('small');
    expect(r.run(request(code, { strategy: 'domain' }), false).model.name).toBe('mid');
    expect(r.run(request(capital, { strategy: 'domain' }), false).model.name).toBe('small');
  });

  it.each(['epsilon_greedy', 'ucb1', 'thompson_sampling', 'exp3'] as const)('%s learns from outcomes fed back from the response phase', (strategy) => {
    const fleet = fleetFrom(MULTI.replace('rules:', 'bandit: { epsilon: 0.1, exp3_gamma: 0.1 }\n  rules:'));
    const r = router(fleet, 3);
    const good = 'mid';
    const picks: string[] = [];
    for (let i = 0; i < 600; i++) {
      const d = r.run(request(chatInput([{ role: 'user', text: `q${i}` }]), { strategy }));
      picks.push(d.model.name);
      const ok = d.model.name === good;
      learnOutcome(r.state, fleet, r.live, d, { status: ok ? 200 : 503, servedEndpoint: d.endpoints[0], latencyMs: ok ? 100 : 1500 }, r.now());
      r.live.set(d.endpoints[0] as string, { inflight: 0 });
    }
    const late = picks.slice(-200);
    expect(late.filter((p) => p === good).length / late.length).toBeGreaterThan(0.75);
    expect(r.state.bandit.arm(good)?.n).toBeGreaterThan(100);
  });

  it('priority: high spills off a busy warm replica sooner than low', () => {
    const fleet = oneModelFleet(2, 'affinity: { block_tokens: 16 }');
    const r = router(fleet);
    const warm = r.run(request(turn('seed'))).endpoints[0] as string;
    let spillHigh = -1;
    let spillLow = -1;
    for (let load = 0; load < 200 && (spillHigh < 0 || spillLow < 0); load++) {
      r.live.set(warm, { inflight: load });
      if (spillHigh < 0 && r.run(request(turn('p'), { priority: 'high' }), false).endpoints[0] !== warm) spillHigh = load;
      if (spillLow < 0 && r.run(request(turn('p'), { priority: 'low' }), false).endpoints[0] !== warm) spillLow = load;
    }
    expect(spillHigh).toBeGreaterThan(0);
    expect(spillLow).toBeGreaterThanOrEqual(spillHigh * 2);
  });

  it('round_robin, random and least_loaded spread over endpoints; cooling endpoints go last', () => {
    const fleet = oneModelFleet(3);
    const r = router(fleet);
    const q = () => request(chatInput([{ role: 'user', text: 'same prompt every time' }]), { strategy: 'round_robin' });
    const seen = new Set([0, 1, 2].map(() => r.run(q()).endpoints[0]));
    expect(seen.size).toBe(3);
    const [a] = endpoints(3) as [string];
    r.live.set(a, { coolUntil: r.now() + 5000 });
    for (const s of ['hybrid_score', 'least_loaded', 'random', 'prefix_affinity'] as const) {
      const d = r.run(request(chatInput([{ role: 'user', text: 'x' }]), { strategy: s }), false);
      expect(d.endpoints[0]).not.toBe(a);
      expect(d.endpoints.at(-1)).toBe(a);
    }
  });

  it('decide() alone changes nothing: explaining is free of side effects', () => {
    const fleet = oneModelFleet(4);
    const r = router(fleet);
    const d1 = r.run(request(turn('a')), false);
    const d2 = r.run(request(turn('a')), false);
    expect(d2.affinity.kind).toBe('none');
    expect(d2.endpoints).toEqual(d1.endpoints);
    expect(r.state.index.stats().blocks).toBe(0);
  });
});

export type { LearnedState };
