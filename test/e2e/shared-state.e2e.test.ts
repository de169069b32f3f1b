// Two kvfleet instances behind one real Envoy (its ext_proc, access log and meter clusters
// list both), sharing a real Redis (started here): a tenant's RPM limit holds across both,
// a session pinned through one stays pinned through the other, a budget spent through one is
// spent on both, token usage is metered exactly from real responses (streamed and not),
// and Redis dying mid-run costs no request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../../src/tools/ports.js';
import { kvfleetProcess, postJson, startStack, type KvfleetProcess, type Stack } from '../helpers/stack.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
let stack: Stack;
let second: KvfleetProcess;

const ACME = { authorization: 'Bearer demo-key-acme' };
const BETA = { authorization: 'Bearer demo-key-beta' };
const RPM = 40;

type Obj = Record<string, unknown>;
/** Add `port` as a second endpoint of the named clusters. */
function addEndpoint(config: unknown, clusters: readonly string[], port: number): void {
  const list = ((config as Obj)['static_resources'] as Obj)['clusters'] as Obj[];
  for (const c of list) {
    if (!clusters.includes(String(c['name']))) continue;
    const eps = (((c['load_assignment'] as Obj)['endpoints'] as Obj[])[0] as Obj)['lb_endpoints'] as Obj[];
    eps.push({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } });
  }
}

beforeAll(async () => {
  redis = await startRedis();
  const [grpc2, admin2] = [await freePort(), await freePort()];
  stack = await startStack({
    sim: { decodeMsPerToken: 1, defaultMaxTokens: 5 },
    editFleet: (f) => {
      f['state'] = { backend: 'redis', redis: { url: redis.url, key_prefix: 'e2e' }, on_unavailable: 'fail_open' };
      const tenants = f['tenants'] as Record<string, Obj>;
      (tenants['acme'] as Obj)['limits'] = { rpm: RPM };
      (tenants['acme'] as Obj)['budget'] = { monthly_tokens: 10_000_000 };
      (tenants['beta'] as Obj)['budget'] = { daily_tokens: 400 };
    },
    editEnvoy: (config) => addEndpoint(config, ['kvfleet', 'kvfleet_meter'], grpc2),
  });
  second = kvfleetProcess(stack.fleetFile, grpc2, admin2);
  await second.start();
}, 120_000);
afterAll(async () => {
  await second?.stop();
  await stack?.stop();
  await redis?.stop();
});

const chat = (content: string, extra: Obj = {}) => ({ model: 'llama-3-8b', messages: [{ role: 'user', content }], ...extra });
const decisions = async (adminUrl: string) => {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return [...text.matchAll(/^kvfleet_decisions_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
};
const usage = async (tenant: string) =>
  (await (await fetch(`${stack.kvfleet.adminUrl}/tenants/${tenant}/usage`)).json()) as {
    usage: Array<{ window: string; requests: number; prompt_tokens: number; completion_tokens: number }>;
    budgets: Array<{ exhausted: boolean }>;
  };

describe('two kvfleet instances on one Redis, through Envoy', () => {
  it("a tenant's RPM limit holds across both instances (within 5 %)", async () => {
    const before = [await decisions(stack.kvfleet.adminUrl), await decisions(second.adminUrl)];
    const started = Date.now();
    const statuses: number[] = [];
    for (let i = 0; i < 2 * RPM; i++) {
      const r = await postJson(stack.url, '/v1/chat/completions', chat(`rpm ${i}`), ACME);
      statuses.push(r.status);
      if (r.status === 429) {
        expect(r.headers.get('x-ratelimit-limit-requests')).toBe(String(RPM));
        expect(((await r.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
      } else await r.arrayBuffer();
    }
    const elapsed = Date.now() - started;
    const allowed = statuses.filter((s) => s === 200).length;
    // A burst of RPM, refilled at RPM per minute while the test ran.
    const expected = RPM + (elapsed * RPM) / 60_000;
    expect(Math.abs(allowed - expected) / expected, `${allowed} allowed, ${expected.toFixed(1)} expected`).toBeLessThanOrEqual(0.05);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    // Both instances decided some of them.
    expect((await decisions(stack.kvfleet.adminUrl)) - (before[0] ?? 0)).toBeGreaterThan(5);
    expect((await decisions(second.adminUrl)) - (before[1] ?? 0)).toBeGreaterThan(5);
  });

  it('a session pinned through one instance stays pinned through the other', async () => {
    const served = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const r = await postJson(stack.url, '/v1/chat/completions', chat(`turn ${i} of a conversation with nothing in common ${i * 7919}`), {
        'x-session-id': 'shared-conv-1',
      });
      expect(r.status).toBe(200);
      served.add(r.headers.get('x-kvfleet-endpoint') ?? '');
      await r.arrayBuffer();
      await new Promise((res) => setTimeout(res, 30));
    }
    expect(served.size).toBe(1);
  });

  it('token usage is metered exactly from the responses, streamed or not, and a budget spent through one instance is spent on both', async () => {
    let prompt = 0;
    let completion = 0;
    for (let i = 0; i < 3; i++) {
      const r = await postJson(stack.url, '/v1/chat/completions', chat(`json ${i}`, { max_tokens: 20 }), BETA);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-kvfleet-budget-remaining')).toMatch(/^day_tokens=\d+$/);
      const body = (await r.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
      prompt += body.usage.prompt_tokens;
      completion += body.usage.completion_tokens;
    }
    const sse = await postJson(
      stack.url,
      '/v1/chat/completions',
      chat('stream it', { max_tokens: 20, stream: true, stream_options: { include_usage: true } }),
      BETA,
    );
    const text = await sse.text();
    const u = JSON.parse(
      text
        .split('\n\n')
        .filter((e) => e.includes('"usage":{'))
        .at(-1)
        ?.slice('data: '.length) ?? '{}',
    ) as { usage: { prompt_tokens: number; completion_tokens: number } };
    prompt += u.usage.prompt_tokens;
    completion += u.usage.completion_tokens;
    await waitFor('the meter to settle the four responses', async () => {
      const d = (await usage('beta')).usage.find((w) => w.window === 'day');
      return d?.completion_tokens === completion && d.prompt_tokens === prompt;
    });
    // 4 × (prompt + 20) ≈ 100+ tokens spent; reservations of ~ prompt + 20 each: spend the rest.
    let refused = 0;
    for (let i = 0; i < 12; i++) {
      const r = await postJson(stack.url, '/v1/chat/completions', chat(`more ${i}`, { max_tokens: 60 }), BETA);
      if (r.status === 429) {
        refused++;
        expect(((await r.json()) as { error: { code: string } }).error.code).toBe('budget_exceeded');
      } else await r.arrayBuffer();
    }
    expect(refused).toBeGreaterThan(0);
    expect((await usage('beta')).budgets[0]?.exhausted).toBe(true);
    // Spent is spent on both instances: four more, alternating, all refused.
    for (let i = 0; i < 4; i++) expect((await postJson(stack.url, '/v1/chat/completions', chat(`after ${i}`), BETA)).status).toBe(429);
  });

  it('Redis killed mid-run: no request fails (fail_open), kvfleet_state_backend_up drops to 0; then it recovers', async () => {
    const up = async (url: string) => /^kvfleet_state_backend_up\{backend="redis"\} 1$/m.test(await (await fetch(`${url}/metrics`)).text());
    expect(await up(stack.kvfleet.adminUrl)).toBe(true);
    await redis.kill();
    await waitFor('both instances to notice', async () => !(await up(stack.kvfleet.adminUrl)) && !(await up(second.adminUrl)));
    for (let i = 0; i < 10; i++) {
      const r = await postJson(stack.url, '/v1/chat/completions', chat(`while down ${i}`), i % 2 === 0 ? ACME : { 'x-session-id': 'down' });
      expect(r.status, await r.clone().text()).toBe(200);
      await r.arrayBuffer();
    }
    await redis.restart();
    await waitFor('both instances to reconnect', async () => (await up(stack.kvfleet.adminUrl)) && (await up(second.adminUrl)), 20_000);
    expect((await postJson(stack.url, '/v1/chat/completions', chat('back'), ACME)).status).toBe(200);
  });
});
