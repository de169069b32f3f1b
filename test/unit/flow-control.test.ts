// Priority lanes (flow_control) through the exchange: a saturated pool holds requests, sends
// high before normal before low as room appears, takes tenants in turns, sheds low first
// (429 overloaded), lets a client that leaves go, and sends high and normal anyway after
// max_queue_ms. The pool here saturates at one request in flight (no engine metrics).
import { describe, expect, it } from 'vitest';
import { Exchange } from '../../src/extproc/exchange.js';
import type { ProcessingResponse } from '../../src/extproc/proto-types.js';
import { hashApiKey } from '../../src/request/identity.js';
import { fleetFrom } from '../helpers/fleet.js';
import { immediate, logEvent, post, testEnv } from '../helpers/exchange.js';

const FLEET = (maxQueueMs = 60_000, maxQueued = 100) => `
server: { max_body_bytes: 65536 }
scrape: { enabled: false }
flow_control: { enabled: true, max_queue_ms: ${maxQueueMs}, max_queued: ${maxQueued}, saturation: { inflight: 1 } }
models:
  - { name: m, cluster: pool-m, model_id: m, endpoints: [10.0.0.1:8000] }
identity: { sources: [api_key] }
tenants:
  a: { api_keys: [${hashApiKey('ka')}] }
  b: { api_keys: [${hashApiKey('kb')}] }
`;

type Env = ReturnType<typeof testEnv>;

/** Send one request; resolves with the routing answer (or the error) once kvfleet answers. */
function send(env: Env, key: string, priority: string, order: string[], label: string): { ex: Exchange; answer: Promise<ProcessingResponse> } {
  const ex = new Exchange(env);
  ex.respondNow({ request_headers: post('/v1/chat/completions', { authorization: `Bearer ${key}`, 'x-kvfleet-priority': priority }) });
  const out = ex.respond({
    request_body: { body: Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: label }] })), end_of_stream: true },
  });
  const answer = Promise.resolve(out).then((a) => {
    order.push(label);
    return a[0] ?? {};
  });
  return { ex, answer };
}

const tick = (ms = 60) => new Promise((r) => setTimeout(r, ms));

describe('flow control', () => {
  it('holds requests while the pool is saturated and sends high, then normal, then low as requests end', async () => {
    const env = testEnv(fleetFrom(FLEET()));
    env.clock.t = performance.now();
    const order: string[] = [];
    const first = send(env, 'ka', 'normal', order, 'first');
    const routed = [await first.answer];
    const low = send(env, 'ka', 'low', order, 'low');
    const normal = send(env, 'ka', 'normal', order, 'normal');
    const high = send(env, 'kb', 'high', order, 'high');
    await tick();
    expect(order).toEqual(['first']);
    expect(env.router.flow.waiting).toBe(3);
    for (const next of [high, normal, low]) {
      env.router.ended(logEvent(routed.at(-1), { served: '10.0.0.1:8000' }));
      routed.push(await next.answer);
    }
    expect(order).toEqual(['first', 'high', 'normal', 'low']);
    expect(routed.every((r) => r.request_body !== undefined)).toBe(true);
  });

  it('tenants take turns within a lane', async () => {
    const env = testEnv(fleetFrom(FLEET()));
    const order: string[] = [];
    const sent = new Map<string, Promise<ProcessingResponse>>([['first', send(env, 'ka', 'normal', order, 'first').answer]]);
    await sent.get('first');
    for (const [key, label] of [
      ['ka', 'a1'],
      ['ka', 'a2'],
      ['kb', 'b1'],
    ] as const)
      sent.set(label, send(env, key, 'normal', order, label).answer);
    await tick();
    for (let i = 0; i < 3; i++) {
      // The request in flight ends; the next one in turn is sent.
      env.router.ended(logEvent(await sent.get(order.at(-1) as string), { served: '10.0.0.1:8000' }));
      await tick();
    }
    expect(order).toEqual(['first', 'a1', 'b1', 'a2']);
  });

  it('past max_queue_ms: low is shed with 429 overloaded, high and normal are sent anyway', async () => {
    const env = testEnv(fleetFrom(FLEET(150)));
    const order: string[] = [];
    await send(env, 'ka', 'normal', order, 'first').answer;
    const low = send(env, 'ka', 'low', order, 'low');
    const high = send(env, 'kb', 'high', order, 'high');
    await tick();
    expect(order).toEqual(['first']);
    env.clock.t += 200; // the pool stays saturated past max_queue_ms
    const [l, h] = await Promise.all([low.answer, high.answer]);
    const shed = immediate(l);
    expect(shed.status).toBe(429);
    expect(shed.body.error.code).toBe('overloaded');
    expect(shed.headers['retry-after']).toBe('1');
    expect(h.request_body).toBeDefined();
  });

  it('max_queued: a higher priority takes the place of the newest low; a low newcomer is refused', async () => {
    const env = testEnv(fleetFrom(FLEET(60_000, 2)));
    const order: string[] = [];
    await send(env, 'ka', 'normal', order, 'first').answer;
    const low1 = send(env, 'ka', 'low', order, 'low1');
    const low2 = send(env, 'ka', 'low', order, 'low2');
    await tick();
    const high = send(env, 'kb', 'high', order, 'high');
    expect(immediate(await low2.answer).body.error.code).toBe('overloaded');
    const low3 = send(env, 'ka', 'low', order, 'low3');
    expect(immediate(await low3.answer).body.error.code).toBe('overloaded');
    expect(env.router.flow.waiting).toBe(2);
    low1.ex.close();
    high.ex.close();
    await Promise.allSettled([low1.answer, high.answer]);
    expect(env.router.flow.waiting).toBe(0);
  });

  it('a client that leaves is taken out of its lane and holds nothing', async () => {
    const env = testEnv(fleetFrom(FLEET()));
    const order: string[] = [];
    const routed = await send(env, 'ka', 'normal', order, 'first').answer;
    const gone = send(env, 'ka', 'normal', order, 'gone');
    await tick();
    gone.ex.close();
    await gone.answer;
    expect(env.router.flow.waiting).toBe(0);
    env.router.ended(logEvent(routed, { served: '10.0.0.1:8000' }));
    expect(env.live.endpoint('10.0.0.1:8000')?.inflight).toBe(0);
    expect(env.router.ends.inflight).toBe(0);
  });
});
