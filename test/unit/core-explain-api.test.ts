import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionRoutes } from '../../src/admin/decision-routes.js';
import { startAdminServer, type AdminServer } from '../../src/admin/http-server.js';
import { Exchange } from '../../src/extproc/exchange.js';
import { fleetFrom, TWO_MODEL_YAML } from '../helpers/fleet.js';
import { post, setHeaders, testEnv } from '../helpers/exchange.js';
import { SYSTEM } from '../helpers/core.js';

const env = testEnv(fleetFrom(TWO_MODEL_YAML.replace('max_body_bytes: 2048', 'max_body_bytes: 65536')));
let admin: AdminServer;
let base: string;

beforeAll(async () => {
  admin = await startAdminServer({ host: '127.0.0.1', port: 0 }, decisionRoutes(env.router));
  base = `http://127.0.0.1:${admin.port}`;
});
afterAll(() => admin.close());

const body = (user: string) => ({
  model: 'small',
  messages: [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: user },
  ],
});

function route(user: string, id: string): string[] {
  const ex = new Exchange(env);
  ex.handle({ request_headers: post('/v1/chat/completions', { 'x-request-id': id }) });
  const b = ex.handle({ request_body: { body: Buffer.from(JSON.stringify(body(user))), end_of_stream: true } });
  ex.close();
  return setHeaders(b.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']?.split(',') ?? [];
}

describe('explain API and decision ring', () => {
  it('POST /v1/route/explain decides like the request phase, without recording anything', async () => {
    const explain = async (user: string) => {
      const r = await fetch(`${base}/v1/route/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body(user)) });
      expect(r.status).toBe(200);
      return (await r.json()) as {
        endpoints: string[];
        affinity: { kind: string };
        candidates: Array<{ model: string; scores: Record<string, number> }>;
        endpoint_details: unknown[];
      };
    };
    const before = await explain('one');
    const again = await explain('one');
    expect(again.affinity.kind).toBe('none'); // explaining taught the index nothing
    const sent = route('one', 'rid-explain-1');
    expect(sent).toEqual(before.endpoints);
    const after = await explain('two');
    expect(after.endpoints[0]).toBe(sent[0]);
    expect(after.affinity.kind).toBe('prefix');
    expect(Object.keys(after.candidates[0]?.scores ?? {}).sort()).toEqual(['cache', 'compliance', 'cost', 'latency', 'load', 'quality']);
    expect(after.endpoint_details).toHaveLength(3);
    expect(JSON.stringify(after)).not.toContain('meticulous');
  });

  it('validates headers and bodies like the request phase', async () => {
    const bad = await fetch(`${base}/v1/route/explain`, { method: 'POST', headers: { 'x-kvfleet-strategy': 'magic' }, body: JSON.stringify(body('x')) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('x-kvfleet-strategy');
    const nope = await fetch(`${base}/v1/route/explain`, {
      method: 'POST',
      body: JSON.stringify({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(nope.status).toBe(404);
  });

  it('GET /debug/decisions/{id} returns a recent decision and 404 for unknown ids', async () => {
    route('three', 'rid-debug-1');
    const r = await fetch(`${base}/debug/decisions/rid-debug-1`);
    expect(r.status).toBe(200);
    const d = (await r.json()) as { request_id: string; model: string; reasons: string[] };
    expect(d).toMatchObject({ request_id: 'rid-debug-1', model: 'small' });
    expect(d.reasons.length).toBeGreaterThan(0);
    expect((await fetch(`${base}/debug/decisions/nope`)).status).toBe(404);
  });

  it('GET /debug/decisions lists the newest first, with the endpoint chosen, the reasons and when; ?limit bounds it', async () => {
    const t0 = Date.now();
    const first = route('list one', 'rid-list-1');
    const second = route('list two', 'rid-list-2');
    const r = await fetch(`${base}/debug/decisions?limit=2`);
    expect(r.status).toBe(200);
    const j = (await r.json()) as {
      capacity: number;
      count: number;
      decisions: Array<{ request_id: string; at: string; model: string; endpoint: string; fallbacks: string[]; reasons: string[] }>;
    };
    expect(j.count).toBe(2);
    expect(j.capacity).toBe(env.router.decisions.capacity);
    expect(j.decisions.map((d) => d.request_id)).toEqual(['rid-list-2', 'rid-list-1']);
    expect(j.decisions[0]).toMatchObject({ model: 'small', endpoint: second[0], fallbacks: second.slice(1) });
    expect(j.decisions[1]?.endpoint).toBe(first[0]);
    expect(j.decisions[0]?.reasons.length).toBeGreaterThan(0);
    expect(Date.parse(j.decisions[0]?.at ?? '')).toBeGreaterThanOrEqual(t0 - 1000);
    expect(JSON.stringify(j)).not.toContain('list two'); // never prompt text
    const all = (await (await fetch(`${base}/debug/decisions`)).json()) as { decisions: unknown[] };
    expect(all.decisions.length).toBeGreaterThanOrEqual(3);
    for (const bad of ['0', '-1', '1.5', 'x', '1001']) {
      const e = await fetch(`${base}/debug/decisions?limit=${bad}`);
      expect(e.status).toBe(400);
      expect(((await e.json()) as { error: { param: string } }).error.param).toBe('limit');
    }
  });
});
