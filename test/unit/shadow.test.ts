// Shadow traffic without sockets: the fleet key, which candidates a request may be mirrored to
// (sampling, policy), the two passes through the ext_proc exchange (the primary's mirror
// headers, the copy recognised by its token and routed to its candidate), the outcomes joined
// from Envoy's access log and the meter, and the report's arithmetic.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseFleet } from '../../src/config/load.js';
import type { Fleet } from '../../src/config/fleet.js';
import { selectShadows } from '../../src/core/shadow/select.js';
import { Exchange } from '../../src/extproc/exchange.js';
import type { ProcessingResponse } from '../../src/extproc/proto-types.js';
import type { AccessLogEvent } from '../../src/router/log-event.js';
import { PairStats, RoleStats, WINDOW } from '../../src/router/shadow/pair-stats.js';
import { CLAIM_TTL_MS, ShadowTraffic } from '../../src/router/shadow/traffic.js';
import { parseRequestBody } from '../../src/request/parse-body.js';
import { REPO_ROOT } from '../helpers/envoy.js';
import { immediate, keyOf, post, setHeaders, testEnv, type TestEnv } from '../helpers/exchange.js';

const LLAMA = ['127.0.0.1:18001', '127.0.0.1:18002'];
const QWEN = ['127.0.0.1:18011', '127.0.0.1:18012'];

/** examples/fleet.yaml (two self-hosted models, a hosted one, policy and tenants) with `shadow:`. */
function demoFleet(shadow: unknown): Fleet {
  const file = parse(readFileSync(join(REPO_ROOT, 'examples', 'fleet.yaml'), 'utf8')) as Record<string, unknown>;
  file['shadow'] = shadow;
  const res = parseFleet(stringify(file));
  if (!res.ok) throw new Error(res.problems.join('\n'));
  return res.fleet;
}

function problems(shadow: unknown): string[] {
  const file = parse(readFileSync(join(REPO_ROOT, 'examples', 'fleet.yaml'), 'utf8')) as Record<string, unknown>;
  file['shadow'] = shadow;
  const res = parseFleet(stringify(file));
  return res.ok ? [] : res.problems;
}

describe('fleet file: shadow', () => {
  it('accepts models by name or alias, and defaults to no shadow traffic', () => {
    const f = demoFleet([{ model: 'llama3', candidates: ['qwen', 'hosted-gpt'], sample_rate: 0.25 }]);
    expect(f.file.shadow).toEqual([{ model: 'llama3', candidates: ['qwen', 'hosted-gpt'], sample_rate: 0.25 }]);
    expect(demoFleet(undefined).file.shadow).toEqual([]);
  });

  it('refuses a rate outside 0..1, no candidate, more candidates than envoy.yaml has mirror policies, a missing rate', () => {
    expect(problems([{ model: 'llama-3-8b', candidates: ['qwen-2.5-7b'], sample_rate: 1.5 }])).toEqual([
      'shadow[0].sample_rate: sample_rate must be between 0 and 1',
    ]);
    expect(problems([{ model: 'llama-3-8b', candidates: ['qwen-2.5-7b'], sample_rate: -0.1 }])).toEqual([
      'shadow[0].sample_rate: sample_rate must be between 0 and 1',
    ]);
    expect(problems([{ model: 'llama-3-8b', candidates: [], sample_rate: 0.1 }])).toEqual(['shadow[0].candidates: name at least one candidate model']);
    expect(problems([{ model: 'llama-3-8b', candidates: ['a', 'b', 'c', 'd', 'e'], sample_rate: 0.1 }])).toEqual([
      'shadow[0].candidates: at most 4 candidates per model (one per mirror policy of envoy/envoy.yaml)',
    ]);
    expect(problems([{ model: 'llama-3-8b', candidates: ['qwen-2.5-7b'] }])[0]).toMatch(/^shadow\[0\]\.sample_rate: /);
  });

  it('names every unknown model, a candidate that is the model itself (alias included), a repeat, a model shadowed twice', () => {
    expect(
      problems([
        { model: 'nope', candidates: ['qwen-2.5-7b', 'gone'], sample_rate: 0.1 },
        { model: 'llama-3-8b', candidates: ['llama3', 'qwen', 'qwen-2.5-7b'], sample_rate: 0.1 },
        { model: 'meta-llama/Meta-Llama-3-8B-Instruct', candidates: ['hosted-gpt'], sample_rate: 0.1 },
      ]),
    ).toEqual([
      'shadow[0].model: "nope" is not a model name or alias in models[]',
      'shadow[0].candidates[1]: "gone" is not a model name or alias in models[]',
      'shadow[1].candidates[0]: "llama3" is the shadowed model itself; a candidate must be another model',
      'shadow[1].candidates[2]: "qwen-2.5-7b" is listed twice',
      'shadow[2].model: "llama-3-8b" is already shadowed by shadow[1]',
    ]);
  });
});

const RULE = [{ model: 'llama-3-8b', candidates: ['qwen-2.5-7b', 'hosted-gpt'], sample_rate: 0.1 }];
const chatBody = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'llama-3-8b', messages: [{ role: 'user', content }], ...extra });

describe('selectShadows: sampling and policy', () => {
  const fleet = demoFleet(RULE);
  const env = testEnv(fleet);
  const llama = fleet.byName.get('llama-3-8b');
  if (llama === undefined) throw new Error('no llama');
  /** What the policy made of a request (Router.admit: class, findings, tenant, rules). */
  const policyOf = (content: string, tenant?: string) => {
    const input = { ...parseChat(content), model: 'llama-3-8b' };
    return env.router.admit('r', input, {
      sessionId: undefined,
      overrides: { strategy: undefined, models: undefined, priority: undefined },
      tenant: fleet.policy.tenants.get(tenant ?? 'guest'),
    }).policy;
  };

  it('samples one draw per request against the rate: under it → every candidate; otherwise, nothing', () => {
    const p = policyOf('Say hello.');
    expect(selectShadows(fleet, llama, p, 0.0999)?.mirror.map((m) => m.name)).toEqual(['qwen-2.5-7b', 'hosted-gpt']);
    expect(selectShadows(fleet, llama, p, 0.1)).toBeUndefined();
    expect(selectShadows(fleet, fleet.byName.get('qwen') ?? llama, p, 0)).toBeUndefined(); // no rule for qwen
    const never = demoFleet([{ ...RULE[0], sample_rate: 0 }]);
    expect(selectShadows(never, never.byName.get('llama-3-8b') ?? llama, p, 0)).toBeUndefined();
    const always = demoFleet([{ ...RULE[0], sample_rate: 1 }]);
    expect(selectShadows(always, always.byName.get('llama-3-8b') ?? llama, p, 0.999999)?.mirror).toHaveLength(2);
  });

  it('never mirrors to a candidate the policy keeps from the request: its data class, the tenant, the rules', () => {
    // An e-mail address makes the request confidential: qwen admits public/internal, the hosted model public only.
    const pii = selectShadows(fleet, llama, policyOf('Write to jane.doe@example.com please'), 0);
    expect(pii?.mirror).toEqual([]);
    expect(pii?.refused.map((r) => [r.model.name, r.reason])).toEqual([
      ['qwen-2.5-7b', 'class:confidential'],
      ['hosted-gpt', 'class:confidential'],
    ]);
    // Tenant beta may use llama and the hosted model only.
    const beta = selectShadows(fleet, llama, policyOf('Say hello.', 'beta'), 0);
    expect(beta?.mirror.map((m) => m.name)).toEqual(['hosted-gpt']);
    expect(beta?.refused.map((r) => [r.model.name, r.reason])).toEqual([['qwen-2.5-7b', 'tenant:not-allowed']]);
    // acme's requests are internal by default: never the public-only hosted model.
    const acme = selectShadows(fleet, llama, policyOf('Say hello.', 'acme'), 0);
    expect(acme?.mirror.map((m) => m.name)).toEqual(['qwen-2.5-7b']);
    expect(acme?.refused.map((r) => [r.model.name, r.reason])).toEqual([['hosted-gpt', 'class:internal']]);
  });

  it('applies policy rules too (a residency rule keeps a model out)', () => {
    const file = parse(readFileSync(join(REPO_ROOT, 'examples', 'fleet.yaml'), 'utf8')) as { policy: { rules: unknown[] } } & Record<string, unknown>;
    file.policy.rules.push({ name: 'internal-stays-local', when: { classes: ['internal'] }, regions: ['eu-west-1'] });
    file['shadow'] = RULE;
    const res = parseFleet(stringify(file));
    if (!res.ok) throw new Error(res.problems.join('\n'));
    const f = res.fleet;
    const e = testEnv(f);
    const input = { ...parseChat('Say hello.'), model: 'llama-3-8b' };
    const p = e.router.admit('r', input, {
      sessionId: undefined,
      overrides: { strategy: undefined, models: undefined, priority: undefined },
      tenant: f.policy.tenants.get('acme'),
    }).policy;
    const sel = selectShadows(f, f.byName.get('llama-3-8b') ?? llama, p, 0);
    expect(sel?.refused.map((r) => [r.model.name, r.reason])).toEqual([
      ['qwen-2.5-7b', 'rule:internal-stays-local'],
      ['hosted-gpt', 'class:internal'],
    ]);
  });
});

/** A chat request as the exchange parses it. */
const parseChat = (content: string) => parseRequestBody('chat', Buffer.from(JSON.stringify(chatBody(content))));

// ── the two passes through the exchange ───────────────────────────────────────────

interface ShadowEnv extends TestEnv {
  readonly shadow: ShadowTraffic;
}

function shadowEnv(shadow: unknown, draw = 0, asleep?: (model: string) => boolean): ShadowEnv {
  const env = testEnv(demoFleet(shadow));
  const traffic = new ShadowTraffic({ router: env.router, endpoints: env.live, now: () => env.clock.t, random: () => draw, asleep });
  env.router.ends.observer = traffic;
  return { ...env, shadow: traffic };
}

const bodyMsg = (b: unknown) => ({ body: Buffer.from(typeof b === 'string' ? b : JSON.stringify(b)), end_of_stream: true });

/** One request through a fresh exchange (BUFFERED: headers, then body). */
function send(env: ShadowEnv, path: string, h: Record<string, string>, body: unknown): { headers: ProcessingResponse; body: ProcessingResponse } {
  const ex = new Exchange(env);
  const hr = ex.handle({ request_headers: post(path, h) });
  if (hr.immediate_response !== undefined) return { headers: hr, body: hr };
  const br = ex.handle({ request_body: bodyMsg(body) });
  ex.close();
  return { headers: hr, body: br };
}

/** What Envoy's mirror policy n sends kvfleet: the primary's headers as forwarded, plus the slot. */
function copyHeaders(primary: ProcessingResponse, slot: number, extra: Record<string, string> = {}): Record<string, string> {
  const set = setHeaders(primary.request_body?.response.header_mutation?.set_headers);
  return { ...set, 'x-request-id': 'rid-p', 'x-kvfleet-shadow-slot': String(slot), ...extra };
}

/** The body Envoy forwards (and copies): kvfleet's rewritten body. */
const forwarded = (r: ProcessingResponse): string => r.request_body?.response.body_mutation?.body?.toString('utf8') ?? '';

function endEvent(
  key: string,
  o: { status?: number; ttfbMs?: number; durationMs?: number; served?: string; kind?: AccessLogEvent['kind'] } = {},
): AccessLogEvent {
  return {
    kind: o.kind ?? 'end',
    requestId: 'rid-p',
    key,
    status: o.status ?? 200,
    details: undefined,
    served: o.served,
    attempts: 1,
    ttfbMs: o.ttfbMs,
    durationMs: o.durationMs,
    headers: new Map(),
    offered: [],
  };
}

const reading = (completionTokens: number | undefined, chunks = 0) => ({
  usage: completionTokens === undefined ? undefined : { promptTokens: 10, completionTokens, cachedTokens: 0 },
  chunks,
  streamed: completionTokens === undefined,
  complete: true,
});

describe('shadow traffic through the exchange (no socket)', () => {
  it('a sampled request is metered and carries a one-time token and one mirror header per candidate', () => {
    const env = shadowEnv([{ model: 'llama-3-8b', candidates: ['qwen-2.5-7b', 'hosted-gpt'], sample_rate: 1 }]);
    const p = send(env, '/v1/chat/completions', { 'x-request-id': 'rid-p' }, chatBody('Say hello.'));
    const set = setHeaders(p.body.request_body?.response.header_mutation?.set_headers);
    expect(set['x-kvfleet-cluster']).toBe('pool-llama-3-8b');
    expect(set['x-kvfleet-shadow-of']).toMatch(/^[0-9a-f]{32}$/);
    expect(set['x-kvfleet-mirror-1']).toBe('kvfleet_shadow');
    expect(set['x-kvfleet-mirror-2']).toBe('kvfleet_shadow');
    expect(set['x-kvfleet-mirror-3']).toBeUndefined();
    expect(set['x-kvfleet-meter']).toBe('1');
    expect(env.shadow.report().pairs.map((x) => [x.candidate, x.sampled, x.mirrored, x.skipped_policy])).toEqual([
      ['qwen-2.5-7b', 1, 1, 0],
      ['hosted-gpt', 1, 1, 0],
    ]);
  });

  it('a request not drawn, or to a model without a rule, gets no mirror header and no meter', () => {
    const env = shadowEnv([{ model: 'llama-3-8b', candidates: ['qwen-2.5-7b'], sample_rate: 0.5 }], 0.7);
    for (const model of ['llama-3-8b', 'qwen-2.5-7b']) {
      const set = setHeaders(send(env, '/v1/chat/completions', {}, { ...chatBody('Hi.'), model }).body.request_body?.response.header_mutation?.set_headers);
      expect(Object.keys(set).filter((k) => k.startsWith('x-kvfleet-mirror') || k === 'x-kvfleet-shadow-of' || k === 'x-kvfleet-meter')).toEqual([]);
    }
    expect(env.shadow.report().pairs[0]).toMatchObject({ sampled: 0, mirrored: 0 });
  });

  it('a request the policy keeps from every candidate is counted as skipped and never mirrored', () => {
    const env = shadowEnv(RULE.map((r) => ({ ...r, sample_rate: 1 })));
    const set = setHeaders(
      send(env, '/v1/chat/completions', {}, chatBody('Mail jane.doe@example.com the report')).body.request_body?.response.header_mutation?.set_headers,
    );
    expect(set['x-kvfleet-cluster']).toBe('pool-llama-3-8b');
    expect(set['x-kvfleet-shadow-of']).toBeUndefined();
    expect(env.shadow.report().pairs.map((x) => [x.candidate, x.sampled, x.mirrored, x.skipped_policy])).toEqual([
      ['qwen-2.5-7b', 1, 0, 1],
      ['hosted-gpt', 1, 0, 1],
    ]);
  });

  it('a candidate put to sleep gets no copy (a copy never wakes a model); the others still do', () => {
    const env = shadowEnv([{ model: 'llama-3-8b', candidates: ['qwen-2.5-7b', 'hosted-gpt'], sample_rate: 1 }], 0, (m) => m === 'qwen-2.5-7b');
    const set = setHeaders(send(env, '/v1/chat/completions', {}, chatBody('Say hello.')).body.request_body?.response.header_mutation?.set_headers);
    expect(set['x-kvfleet-mirror-1']).toBe('kvfleet_shadow');
    expect(set['x-kvfleet-mirror-2']).toBeUndefined();
    expect(env.shadow.report().pairs.map((x) => [x.candidate, x.sampled, x.mirrored, x.skipped_asleep])).toEqual([
      ['qwen-2.5-7b', 1, 0, 1],
      ['hosted-gpt', 1, 1, 0],
    ]);
    const all = shadowEnv([{ model: 'llama-3-8b', candidates: ['qwen-2.5-7b'], sample_rate: 1 }], 0, () => true);
    const none = setHeaders(send(all, '/v1/chat/completions', {}, chatBody('Say hello.')).body.request_body?.response.header_mutation?.set_headers);
    expect(none['x-kvfleet-shadow-of']).toBeUndefined();
    expect(none['x-kvfleet-meter']).toBeUndefined();
  });

  it("routes each copy to its candidate (the body's model rewritten, the API's path back), once, and never shadows it again", () => {
    const env = shadowEnv([{ model: 'hosted-gpt', candidates: ['qwen-2.5-7b', 'llama-3-8b'], sample_rate: 1 }]);
    const p = send(env, '/v1/chat/completions', { 'x-request-id': 'rid-p', 'x-session-id': 'conv-1' }, { ...chatBody('Say hello.'), model: 'hosted-gpt' });
    // The hosted route rewrote the path (prefix_rewrite) before Envoy copied the request.
    const copy = send(
      env,
      '/provider/v1/chat/completions',
      copyHeaders(p.body, 1),
      forwarded(p.body) || JSON.stringify({ ...chatBody('Say hello.'), model: 'gpt-4o-mini' }),
    );
    // Every kvfleet header the copy carries is removed, like a client's.
    expect(copy.headers.request_headers?.response.header_mutation?.remove_headers?.sort()).toEqual(
      ['x-kvfleet-cluster', 'x-kvfleet-meter', 'x-kvfleet-mirror-1', 'x-kvfleet-mirror-2', 'x-kvfleet-shadow-of', 'x-kvfleet-shadow-slot'].sort(),
    );
    const r = copy.body.request_body?.response;
    const set = setHeaders(r?.header_mutation?.set_headers);
    expect(set['x-kvfleet-cluster']).toBe('pool-qwen-2.5-7b');
    expect(QWEN).toContain(set['x-gateway-destination-endpoint']?.split(',')[0]);
    expect(set[':path']).toBe('/v1/chat/completions');
    expect(set['x-kvfleet-meter']).toBe('1');
    expect(Object.keys(set).filter((k) => k.startsWith('x-kvfleet-mirror') || k === 'x-kvfleet-shadow-of')).toEqual([]);
    expect(JSON.parse(r?.body_mutation?.body?.toString('utf8') ?? '{}').model).toBe('Qwen/Qwen2.5-7B-Instruct');
    expect(keyOf(copy.body)).toMatch(/-s1$/);
    const qwenEp = set['x-gateway-destination-endpoint']?.split(',')[0] ?? '';
    expect(env.live.endpoint(qwenEp)?.inflight).toBe(1);
    // The conversation's pin stays with the primary (the hosted model's virtual endpoint).
    expect(env.router.state.sessions.get('s:conv-1', env.clock.t)).toBe('hosted.kvfleet.test');

    // The same slot again (a replay), a slot out of range, an unknown token: refused, never routed.
    for (const h of [copyHeaders(p.body, 1), copyHeaders(p.body, 3), copyHeaders(p.body, 2, { 'x-kvfleet-shadow-of': 'f'.repeat(32) })]) {
      const again = immediate(send(env, '/v1/chat/completions', h, forwarded(p.body)).headers);
      expect(again.status).toBe(404);
      expect(again.body.error.code).toBe('unknown_shadow');
    }
    // Slot 2 is still good: llama.
    const two = send(env, '/provider/v1/chat/completions', copyHeaders(p.body, 2), JSON.stringify({ ...chatBody('Say hello.'), model: 'gpt-4o-mini' }));
    expect(setHeaders(two.body.request_body?.response.header_mutation?.set_headers)['x-kvfleet-cluster']).toBe('pool-llama-3-8b');
    // Routed copies are no client requests: not reported as one (the primary reports at its end).
    // The refused ones are (kvfleet_rejections_total{code="unknown_shadow"}, a `rejected` line).
    expect(env.reports.map((r) => r.error?.code)).toEqual(['unknown_shadow', 'unknown_shadow', 'unknown_shadow']);
  });

  it('joins the ends and token counts of the primary and its shadow into the report; the shadow’s entries stay out of the Router', () => {
    const env = shadowEnv([{ model: 'llama-3-8b', candidates: ['qwen-2.5-7b'], sample_rate: 1 }]);
    const p = send(env, '/v1/chat/completions', { 'x-request-id': 'rid-p' }, chatBody('Say hello.'));
    const copy = send(env, '/v1/chat/completions', copyHeaders(p.body, 1), forwarded(p.body));
    const qwenEp = setHeaders(copy.body.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']?.split(',')[0] ?? '';
    const pk = keyOf(p.body);
    const sk = keyOf(copy.body);
    // A long shadow still running: its slot is kept, not taken twice.
    env.router.ended(endEvent(sk, { kind: 'periodic', served: qwenEp }));
    expect(env.live.endpoint(qwenEp)?.inflight).toBe(1);
    env.router.ended(endEvent(pk, { status: 200, ttfbMs: 40, durationMs: 300, served: LLAMA[0] }));
    env.router.metered(pk, reading(120));
    env.router.ended(endEvent(sk, { status: 200, ttfbMs: 55, durationMs: 420, served: qwenEp }));
    env.router.metered(sk, reading(undefined, 80));
    // The primary reached the Router (its report line); the shadow did not.
    expect(env.reports.map((r) => [r.requestId, r.decision?.model.name, r.status])).toEqual([['rid-p', 'llama-3-8b', 200]]);
    expect(env.live.endpoint(qwenEp)?.inflight).toBe(0);
    expect(env.shadow.watching).toBe(0);
    expect(env.shadow.report()).toEqual({
      pairs: [
        {
          model: 'llama-3-8b',
          candidate: 'qwen-2.5-7b',
          sample_rate: 1,
          sampled: 1,
          mirrored: 1,
          skipped_policy: 0,
          skipped_asleep: 0,
          lost: 0,
          primary: { count: 1, errors: 0, ttfb_ms_p50: 40, ttfb_ms_p90: 40, total_ms_p50: 300, total_ms_p90: 300, tokens_mean: 120, cost_usd: 0 },
          shadow: { count: 1, errors: 0, ttfb_ms_p50: 55, ttfb_ms_p90: 55, total_ms_p50: 420, total_ms_p90: 420, tokens_mean: 80, cost_usd: 0 },
        },
      ],
    });
  });

  it('a copy whose candidate has no usable endpoint is answered 503 and counted as a shadow error; copies that never come are lost', () => {
    const env = shadowEnv([{ model: 'llama-3-8b', candidates: ['qwen-2.5-7b', 'hosted-gpt'], sample_rate: 1 }]);
    for (const a of QWEN) env.live.setHealthy(a, false);
    const p = send(env, '/v1/chat/completions', {}, chatBody('Say hello.'));
    const copy = send(env, '/v1/chat/completions', copyHeaders(p.body, 1), forwarded(p.body));
    const err = immediate(copy.body);
    expect(err.status).toBe(503);
    expect(err.body.error.code).toBe('no_healthy_endpoint');
    // The hosted candidate's copy never arrives (Envoy dropped it, or another instance got it).
    env.clock.t += CLAIM_TTL_MS + 1;
    env.shadow.expire();
    const [q, h] = env.shadow.report().pairs;
    expect(q).toMatchObject({ mirrored: 1, lost: 0, shadow: { count: 1, errors: 1, ttfb_ms_p50: null } });
    expect(h).toMatchObject({ mirrored: 1, lost: 1, shadow: { count: 0, errors: 0 } });
    expect(env.reports).toEqual([]);
  });

  it('without shadow traffic a client-sent x-kvfleet-shadow-of is only stripped', () => {
    const env = testEnv(demoFleet([]));
    const r = send(
      { ...env, shadow: undefined as unknown as ShadowTraffic },
      '/v1/chat/completions',
      { 'x-kvfleet-shadow-of': 'abc', 'x-kvfleet-shadow-slot': '1' },
      chatBody('Hi.'),
    );
    expect(r.headers.request_headers?.response.header_mutation?.remove_headers?.sort()).toEqual(['x-kvfleet-shadow-of', 'x-kvfleet-shadow-slot']);
    expect(setHeaders(r.body.request_body?.response.header_mutation?.set_headers)['x-kvfleet-cluster']).toBe('pool-llama-3-8b');
  });
});

describe('pair statistics', () => {
  it('p50 / p90 by nearest rank over successful outcomes; errors counted apart; null without samples', () => {
    const s = new RoleStats();
    expect(s.summary()).toEqual({
      count: 0,
      errors: 0,
      ttfb_ms_p50: null,
      ttfb_ms_p90: null,
      total_ms_p50: null,
      total_ms_p90: null,
      tokens_mean: null,
      cost_usd: 0,
    });
    for (let i = 10; i >= 1; i--) s.outcome({ status: 200, ttfbMs: i, totalMs: i * 10 });
    s.outcome({ status: 503, ttfbMs: 1000, totalMs: 1000 });
    s.outcome({ status: 0, ttfbMs: undefined, totalMs: undefined });
    s.tokens(100, 0.001);
    s.tokens(51, 0.0005);
    expect(s.summary()).toEqual({
      count: 12,
      errors: 2,
      ttfb_ms_p50: 5,
      ttfb_ms_p90: 9,
      total_ms_p50: 50,
      total_ms_p90: 90,
      tokens_mean: 75.5,
      cost_usd: 0.0015,
    });
  });

  it('percentiles cover the last WINDOW outcomes only (bounded memory)', () => {
    const s = new RoleStats();
    for (let i = 0; i < WINDOW; i++) s.outcome({ status: 200, ttfbMs: 1000, totalMs: 1000 });
    for (let i = 0; i < WINDOW; i++) s.outcome({ status: 200, ttfbMs: 10, totalMs: 20 });
    expect(s.summary()).toMatchObject({ count: 2 * WINDOW, ttfb_ms_p90: 10, total_ms_p90: 20 });
  });

  it('a pair reports its counters and both roles in the documented shape', () => {
    const p = new PairStats('m', 'c', 0.1);
    p.sampled = 12;
    p.mirrored = 11;
    p.skippedPolicy = 1;
    expect(Object.keys(p.summary())).toEqual([
      'model',
      'candidate',
      'sample_rate',
      'sampled',
      'mirrored',
      'skipped_policy',
      'skipped_asleep',
      'lost',
      'primary',
      'shadow',
    ]);
    expect(Object.keys(p.summary().shadow)).toEqual([
      'count',
      'errors',
      'ttfb_ms_p50',
      'ttfb_ms_p90',
      'total_ms_p50',
      'total_ms_p90',
      'tokens_mean',
      'cost_usd',
    ]);
  });
});
