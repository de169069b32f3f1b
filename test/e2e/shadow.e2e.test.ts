// Shadow traffic through a real Envoy: kvfleet on the demo fleet with
// `shadow: [{ model: llama-3-8b, candidates: [qwen-2.5-7b, hosted-gpt], sample_rate: 1 }]`.
// Envoy mirrors each request to llama (request_mirror_policies) back into its own listener;
// kvfleet routes each copy to its candidate's replica with the candidate's model name. The
// client only ever gets llama's answer; a candidate the policy keeps from a request never
// receives it; a stalled or failing candidate changes nothing for the client; the report and
// the metrics count what happened.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PairSummary } from '../../src/router/shadow/pair-stats.js';
import { waitFor } from '../../src/tools/ports.js';
import { HOSTED_ID, LLAMA_ID, QWEN_ID, postJson, startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    sim: { decodeMsPerToken: 1, defaultMaxTokens: 4 },
    editFleet: (f) => {
      // Phone numbers are redacted (the class does not rise): copies may go, redacted.
      const pii = (f['policy'] as { pii: { actions: Record<string, string> } }).pii;
      pii.actions['phone'] = 'redact';
      // qwen is shadowed to llama too: a copy routed to qwen must never be mirrored again.
      f['shadow'] = [
        { model: 'llama-3-8b', candidates: ['qwen-2.5-7b', 'hosted-gpt'], sample_rate: 1 },
        { model: 'qwen-2.5-7b', candidates: ['llama-3-8b'], sample_rate: 1 },
        { model: 'hosted-gpt', candidates: ['qwen-2.5-7b'], sample_rate: 1 },
      ];
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});

const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'llama-3-8b',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content },
  ],
  ...extra,
});

interface SimAnswer {
  kvfleet_sim: { received_model: string; port: number };
}

/** llama's pairs by candidate. */
async function report(): Promise<Map<string, PairSummary>> {
  const r = (await (await fetch(`${stack.kvfleet.adminUrl}/shadow/report`)).json()) as { pairs: PairSummary[] };
  return new Map(r.pairs.filter((p) => p.model === 'llama-3-8b').map((p) => [p.candidate, p]));
}

async function pair(candidate: string): Promise<PairSummary> {
  const p = (await report()).get(candidate);
  if (p === undefined) throw new Error(`no pair for ${candidate}`);
  return p;
}

/**
 * Until the pair has seen `n` ends and `n` token readings on both sides (the access log entry
 * and the meter's reading of a request arrive separately).
 */
async function settled(candidate: string, n: number): Promise<void> {
  await waitFor(`${candidate}: ${n} primaries and shadows ended and metered`, async () => {
    const p = await pair(candidate);
    const t = await tokensSeen(candidate);
    return p.primary.count === n && p.shadow.count === n && t.primary === n && t.shadow === n;
  });
}

/** Token readings seen per role (the count of the per-response histogram). */
async function tokensSeen(candidate: string): Promise<{ primary: number; shadow: number }> {
  const text = await (await fetch(`${stack.kvfleet.adminUrl}/metrics`)).text();
  const sum = (role: string) =>
    Number(
      text
        .split('\n')
        .find((l) => l.startsWith(`kvfleet_shadow_completion_tokens_count{model="llama-3-8b",candidate="${candidate}",role="${role}"}`))
        ?.split(' ')[1] ?? 0,
    );
  return { primary: sum('primary'), shadow: sum('shadow') };
}

/** Bodies of the requests a set of replicas received, parsed. */
const received = (replicas: Stack['qwen']['replicas']) =>
  replicas.flatMap((r) =>
    r.requests().map((q) => JSON.parse(q.body === '' ? 'null' : q.body) as { model: string; messages: Array<{ content: string }> } | null),
  );
const count = (replicas: Stack['qwen']['replicas']) => replicas.reduce((n, r) => n + r.stats().requests, 0);

describe('shadow traffic through Envoy', () => {
  it("mirrors a request to every candidate with the candidate's model name; the client gets the primary's answer only", async () => {
    const res = await postJson(stack.url, '/v1/chat/completions', chat('Shadow me: what is a KV cache?'), { 'x-request-id': 'shadow-e2e-1' });
    expect(res.status, stack.logs()).toBe(200);
    const body = (await res.json()) as SimAnswer;
    expect(body.kvfleet_sim.received_model).toBe(LLAMA_ID);
    expect(res.headers.get('x-kvfleet-model')).toBe('llama-3-8b');
    expect(stack.llama.replicas.map((r) => `127.0.0.1:${r.port}`)).toContain(res.headers.get('x-kvfleet-endpoint'));

    // The copies reach a qwen replica and the hosted provider (through its TLS cluster, with the key Envoy injects).
    await waitFor('the qwen copy', () => received(stack.qwen.replicas).some((b) => b?.messages.some((m) => m.content.startsWith('Shadow me'))));
    await waitFor('the hosted copy', () => received(stack.hosted.replicas).some((b) => b?.messages.some((m) => m.content.startsWith('Shadow me'))));
    const qwenCopy = received(stack.qwen.replicas).find((b) => b?.messages.some((m) => m.content.startsWith('Shadow me')));
    expect(qwenCopy?.model).toBe(QWEN_ID);
    expect(qwenCopy?.messages.map((m) => m.content)).toEqual(['You are terse.', 'Shadow me: what is a KV cache?']);
    const hosted = stack.hosted.replicas[0]?.requests().at(-1);
    expect(hosted).toMatchObject({ path: '/provider/v1/chat/completions', authorization: true, accepted: true });
    expect((JSON.parse(hosted?.body ?? '{}') as { model: string }).model).toBe(HOSTED_ID);
    // One answer per side: llama served the client once, each candidate once; the copy on qwen
    // (itself shadowed to llama) was not mirrored again.
    expect(count(stack.llama.replicas)).toBe(1);
    expect(count(stack.qwen.replicas)).toBe(1);

    await settled('qwen-2.5-7b', 1);
    await settled('hosted-gpt', 1);
    expect(count(stack.llama.replicas)).toBe(1);
    const reverse = (await (await fetch(`${stack.kvfleet.adminUrl}/shadow/report`)).json()) as { pairs: PairSummary[] };
    expect(reverse.pairs.find((p) => p.model === 'qwen-2.5-7b')).toMatchObject({ candidate: 'llama-3-8b', sampled: 0, mirrored: 0 });
    const q = await pair('qwen-2.5-7b');
    expect(q).toMatchObject({ model: 'llama-3-8b', sample_rate: 1, sampled: 1, mirrored: 1, skipped_policy: 0, lost: 0 });
    expect(q.primary).toMatchObject({ count: 1, errors: 0, tokens_mean: 4 });
    expect(q.shadow).toMatchObject({ count: 1, errors: 0, tokens_mean: 4 });
    expect(q.shadow.ttfb_ms_p50).toBeGreaterThan(0);
    expect(q.shadow.total_ms_p50).toBeGreaterThanOrEqual(q.shadow.ttfb_ms_p50 ?? 0);
    // The hosted stand-in answers its own default length, priced with the hosted model's priors.
    expect((await pair('hosted-gpt')).shadow.cost_usd).toBeGreaterThan(0);
  });

  it('never mirrors a request to a candidate that may not see its data class', async () => {
    const qwenBefore = count(stack.qwen.replicas);
    const hostedBefore = stack.hosted.replicas[0]?.stats().requests ?? 0;
    // An e-mail address makes the request confidential: qwen admits public/internal, the hosted model public.
    const pii = await postJson(stack.url, '/v1/chat/completions', chat('Shadow me too: mail jane.doe@example.com the summary'));
    expect(pii.status).toBe(200);
    expect(((await pii.json()) as SimAnswer).kvfleet_sim.received_model).toBe(LLAMA_ID);
    expect(await pair('qwen-2.5-7b')).toMatchObject({ sampled: 2, mirrored: 1, skipped_policy: 1 });
    expect(await pair('hosted-gpt')).toMatchObject({ sampled: 2, mirrored: 1, skipped_policy: 1 });
    // A clean request after it is mirrored as usual; once its copies have arrived, the PII one's
    // would have too: the candidates got exactly one request more, and never the address.
    const clean = await postJson(stack.url, '/v1/chat/completions', chat('Shadow me three'));
    expect(clean.status).toBe(200);
    await settled('qwen-2.5-7b', 2);
    await settled('hosted-gpt', 2);
    expect(count(stack.qwen.replicas)).toBe(qwenBefore + 1);
    expect(stack.hosted.replicas[0]?.stats().requests).toBe(hostedBefore + 1);
    for (const b of [...received(stack.qwen.replicas), ...received(stack.hosted.replicas)]) expect(JSON.stringify(b)).not.toContain('example.com');
  });

  it('sends a candidate the body as kvfleet forwarded it: redacted when the policy redacts', async () => {
    const res = await postJson(stack.url, '/v1/chat/completions', chat('Shadow me redacted: call +44 20 7946 0958 tomorrow'));
    expect(res.status).toBe(200);
    await settled('qwen-2.5-7b', 3);
    const copy = received(stack.qwen.replicas).find((b) => b?.messages.some((m) => m.content.startsWith('Shadow me redacted')));
    expect(copy?.model).toBe(QWEN_ID);
    expect(copy?.messages[1]?.content).toBe('Shadow me redacted: call [REDACTED_PHONE] tomorrow');
  });

  it('counts the same in /shadow/report and in the Prometheus series', async () => {
    const q = await pair('qwen-2.5-7b');
    expect(q).toMatchObject({ sampled: 4, mirrored: 3, skipped_policy: 1, lost: 0, primary: { count: 3, errors: 0 }, shadow: { count: 3, errors: 0 } });
    const text = await (await fetch(`${stack.kvfleet.adminUrl}/metrics`)).text();
    const series = (line: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(line))
          ?.split(' ')[1] ?? Number.NaN,
      );
    expect(series('kvfleet_shadow_requests_total{model="llama-3-8b",candidate="qwen-2.5-7b",result="mirrored"}')).toBe(3);
    expect(series('kvfleet_shadow_requests_total{model="llama-3-8b",candidate="qwen-2.5-7b",result="skipped_policy"}')).toBe(1);
    expect(series('kvfleet_shadow_responses_total{model="llama-3-8b",candidate="qwen-2.5-7b",role="shadow",outcome="ok"}')).toBe(3);
    expect(series('kvfleet_shadow_responses_total{model="llama-3-8b",candidate="qwen-2.5-7b",role="primary",outcome="ok"}')).toBe(3);
    expect(series('kvfleet_shadow_ttfb_seconds_count{model="llama-3-8b",candidate="qwen-2.5-7b",role="shadow"}')).toBe(3);
    expect(series('kvfleet_shadow_completion_tokens_sum{model="llama-3-8b",candidate="qwen-2.5-7b",role="shadow"}')).toBe(12);
    // Shadows are no client requests: the decision and upstream series count the primaries only.
    expect(series('kvfleet_upstream_responses_total{model="qwen-2.5-7b",status_class="2xx"}')).toBeNaN();
  });

  it("shadows a hosted model's requests too: its route rewrote the path, kvfleet sets the API's back", async () => {
    const res = await postJson(stack.url, '/v1/chat/completions', { ...chat('Shadow the provider'), model: 'hosted-gpt' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as SimAnswer).kvfleet_sim.received_model).toBe(HOSTED_ID);
    await waitFor('the copy on qwen', () => received(stack.qwen.replicas).some((b) => b?.messages.some((m) => m.content === 'Shadow the provider')));
    const copy = received(stack.qwen.replicas).find((b) => b?.messages.some((m) => m.content === 'Shadow the provider'));
    expect(copy?.model).toBe(QWEN_ID);
    const hostedPair = async () =>
      ((await (await fetch(`${stack.kvfleet.adminUrl}/shadow/report`)).json()) as { pairs: PairSummary[] }).pairs.find((x) => x.model === 'hosted-gpt');
    await waitFor('the hosted pair', async () => {
      const p = await hostedPair();
      return p?.shadow.count === 1 && p.primary.count === 1;
    });
    expect(await hostedPair()).toMatchObject({
      candidate: 'qwen-2.5-7b',
      sampled: 1,
      mirrored: 1,
      primary: { count: 1, errors: 0 },
      shadow: { count: 1, errors: 0 },
    });
  });

  it('a failing candidate changes nothing for the client; its shadow counts as an error', async () => {
    for (const r of stack.qwen.replicas) await r.setFaults({ errorRate: 1, errorStatus: 500 });
    try {
      const res = await postJson(stack.url, '/v1/chat/completions', chat('Shadow me four'));
      expect(res.status).toBe(200);
      expect(((await res.json()) as SimAnswer).kvfleet_sim.received_model).toBe(LLAMA_ID);
      await waitFor('the failed shadow and its primary', async () => {
        const p = await pair('qwen-2.5-7b');
        return p.shadow.errors === 1 && p.primary.count === p.shadow.count;
      });
      expect((await pair('qwen-2.5-7b')).primary.errors).toBe(0);
    } finally {
      for (const r of stack.qwen.replicas) await r.setFaults({ errorRate: 0 });
    }
  });

  it("a stalled candidate never delays the client's answer", async () => {
    const STALL_MS = 15_000;
    for (const r of stack.qwen.replicas) await r.setFaults({ addedLatencyMs: STALL_MS });
    const before = await pair('qwen-2.5-7b');
    const qwenBefore = count(stack.qwen.replicas);
    const started = Date.now();
    const plain = await postJson(stack.url, '/v1/chat/completions', chat('Shadow me while qwen sleeps'));
    const streamed = await postJson(stack.url, '/v1/chat/completions', chat('Shadow me streaming while qwen sleeps', { stream: true }));
    expect(plain.status).toBe(200);
    expect(((await plain.json()) as SimAnswer).kvfleet_sim.received_model).toBe(LLAMA_ID);
    expect(streamed.status).toBe(200);
    expect(await streamed.text()).toContain('data: [DONE]');
    const elapsed = Date.now() - started;
    // Both answers are complete while neither shadow can have been answered yet.
    expect(elapsed).toBeLessThan(STALL_MS);
    // Envoy's access log has told kvfleet both primaries ended; neither shadow has (nor can yet).
    await waitFor('both primaries reported', async () => (await pair('qwen-2.5-7b')).primary.count === before.primary.count + 2);
    const after = await pair('qwen-2.5-7b');
    expect(after.shadow.count).toBe(before.shadow.count);
    expect(Date.now() - started).toBeLessThan(STALL_MS);
    // …and the copies did reach the stalled replicas (they are waiting there).
    await waitFor('the stalled copies', () => count(stack.qwen.replicas) === qwenBefore + 2);
    expect(after.mirrored).toBe(before.mirrored + 2);
  });
});

describe('shadow traffic through Envoy, BUFFERED request bodies', () => {
  let buffered: Stack;
  beforeAll(async () => {
    buffered = await startStack({
      extProcMode: 'buffered',
      sim: { decodeMsPerToken: 1, defaultMaxTokens: 4 },
      editFleet: (f) => {
        (f['policy'] as { pii: { actions: Record<string, string> } }).pii.actions['phone'] = 'redact';
        f['shadow'] = [
          { model: 'llama-3-8b', candidates: ['qwen-2.5-7b'], sample_rate: 1 },
          { model: 'hosted-gpt', candidates: ['llama-3-8b'], sample_rate: 1 },
        ];
      },
    });
  });
  afterAll(async () => {
    await buffered?.stop();
  });

  it('mirrors self-hosted and hosted primaries to their candidates: the model, the path, the body as kvfleet forwarded it', async () => {
    for (const [model, content] of [
      ['llama-3-8b', 'Buffered shadow one: call +44 20 7946 0958'],
      ['hosted-gpt', 'Buffered shadow two'],
    ] as const) {
      const res = await postJson(buffered.url, '/v1/chat/completions', { ...chat(content), model });
      expect(res.status, buffered.logs()).toBe(200);
    }
    const seen = (replicas: Stack['qwen']['replicas'], content: string) => received(replicas).find((b) => b?.messages.some((m) => m.content === content));
    // The copy carries the body as kvfleet forwarded it: the phone number redacted.
    const one = 'Buffered shadow one: call [REDACTED_PHONE]';
    await waitFor('both copies', () => seen(buffered.qwen.replicas, one) !== undefined && seen(buffered.llama.replicas, 'Buffered shadow two') !== undefined);
    expect(seen(buffered.qwen.replicas, one)?.model).toBe(QWEN_ID);
    expect(seen(buffered.llama.replicas, 'Buffered shadow two')?.model).toBe(LLAMA_ID);
    expect(buffered.llama.replicas.flatMap((r) => r.requests()).find((q) => q.body.includes('Buffered shadow two'))?.path).toBe('/v1/chat/completions');
  });
});
