// Two Routers (two kvfleet instances) on one real Redis: a session pinned through one stays
// pinned through the other, a cooldown and an opened circuit reach the other, an access log
// end and a meter reading that reached the wrong instance go to the one that routed the
// request, and a pin made
// before an instance started is loaded by it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Exchange } from '../../src/extproc/exchange.js';
import { exchangeEnv } from '../../src/extproc/exchange-env.js';
import type { ProcessingResponse } from '../../src/extproc/proto-types.js';
import { LiveEndpoints } from '../../src/fleet/live-endpoints.js';
import { Router } from '../../src/router/router.js';
import { RedisSignals } from '../../src/state/redis-signals.js';
import { waitFor } from '../../src/tools/ports.js';
import { fleetFrom } from '../helpers/fleet.js';
import { keyOf, logEvent, post, setHeaders } from '../helpers/exchange.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const fleet = fleetFrom(`
server: { max_body_bytes: 65536 }
models:
  - { name: small, cluster: pool-small, model_id: small, endpoints: [10.0.0.1:8000, 10.0.0.2:8000, 10.0.0.3:8000] }
`);

let n = 0;
function instance(prefix: string, f = fleet, onUsage?: (tokens: number) => void) {
  const live = new LiveEndpoints();
  const router = new Router({
    fleet: () => f,
    live,
    endpoints: live,
    now: () => performance.now(),
    onUsage: onUsage === undefined ? undefined : (_r, actual) => onUsage(actual.promptTokens + actual.completionTokens),
  });
  const signals = new RedisSignals({ url: redis.url, keyPrefix: prefix, commandTimeoutMs: 500, connectTimeoutMs: 1000 }, router.instance);
  router.share(signals);
  return { live, router, signals };
}

/** Where an instance with no shared state sends this session (its consistent-hash choice). */
function natural(session: string): string | undefined {
  const live = new LiveEndpoints();
  return primary(route(new Router({ fleet: () => fleet, live, endpoints: live, now: () => performance.now() }), session));
}

const metered = fleetFrom(`
server: { max_body_bytes: 65536 }
metering: { mode: all }
models:
  - { name: small, cluster: pool-small, model_id: small, endpoints: [10.0.0.1:8000, 10.0.0.2:8000, 10.0.0.3:8000] }
`);

function route(router: Router, session?: string): ProcessingResponse {
  const ex = new Exchange(exchangeEnv(router, {}));
  ex.handle({ request_headers: post('/v1/chat/completions', session !== undefined ? { 'x-session-id': session } : {}) });
  const b = ex.handle({
    request_body: { body: Buffer.from(JSON.stringify({ model: 'small', messages: [{ role: 'user', content: `q${++n}` }] })), end_of_stream: true },
  });
  ex.close();
  return b;
}
const primary = (r: ProcessingResponse) => setHeaders(r.request_body?.response.header_mutation?.set_headers)['x-gateway-destination-endpoint']?.split(',')[0];
const settle = () => new Promise((r) => setTimeout(r, 150));

describe('signals between instances (Redis pub/sub)', () => {
  it('a session pinned through A is routed to the same endpoint by B, even when B would pick another', async () => {
    const a = instance('sig1');
    const b = instance('sig1');
    await settle();
    // A cannot use the session's natural endpoint, so it pins the conversation elsewhere.
    const x = natural('conv-42') as string;
    a.live.setHealthy(x, false);
    const pinned = primary(route(a.router, 'conv-42'));
    expect(pinned).not.toBe(x);
    await waitFor('the pin to reach B', () => b.router.state.sessions.size > 0, 3000);
    // B can use x, and would on its own; the shared pin wins.
    expect(primary(route(b.router, 'conv-42'))).toBe(pinned);
    await Promise.all([a.signals.close(), b.signals.close()]);
  });

  it('a cooldown and an opened circuit on A reach B', async () => {
    const a = instance('sig2');
    const b = instance('sig2');
    await settle();
    const r = route(a.router);
    const ep = primary(r) as string;
    a.router.ended(logEvent(r, { kind: 'attempt', status: 429, served: ep, headers: { 'retry-after': '30' } }));
    await waitFor('the cooldown on B', () => (b.live.endpoint(ep)?.coolUntil ?? 0) > performance.now() + 20_000, 3000);
    for (let i = 0; i < 5; i++) a.router.ended(logEvent(route(a.router), { kind: 'attempt', status: 0, served: '10.0.0.3:8000' }));
    await waitFor('the circuit on B', () => b.live.endpoint('10.0.0.3:8000')?.healthy === false, 3000);
    await Promise.all([a.signals.close(), b.signals.close()]);
  });

  it("an access log end that reached B releases A's slot", async () => {
    const a = instance('sig3');
    const b = instance('sig3');
    await settle();
    const r = route(a.router);
    const ep = primary(r) as string;
    expect(a.live.endpoint(ep)?.inflight).toBe(1);
    b.router.ended(logEvent(r, { status: 200, served: ep }));
    await waitFor("A's slot released", () => a.live.endpoint(ep)?.inflight === 0, 3000);
    expect(b.live.endpoint(ep)?.inflight ?? 0).toBe(0);
    await Promise.all([a.signals.close(), b.signals.close()]);
  });

  it("the meter's reading of a response A routed, read by B, is settled by A (once, not by B)", async () => {
    const seen = { a: 0, b: 0 };
    const a = instance('sig5', metered, (t) => (seen.a += t));
    const b = instance('sig5', metered, (t) => (seen.b += t));
    await settle();
    const key = keyOf(route(a.router));
    b.router.metered(key, { usage: { promptTokens: 11, completionTokens: 7 }, chunks: 0, streamed: false, complete: true });
    await waitFor('A settles the reading', () => seen.a === 18, 3000);
    // Read again (a duplicate): A has settled it already; B never owned it.
    b.router.metered(key, { usage: { promptTokens: 11, completionTokens: 7 }, chunks: 0, streamed: false, complete: true });
    await settle();
    expect(seen).toEqual({ a: 18, b: 0 });
    await Promise.all([a.signals.close(), b.signals.close()]);
  });

  it('an instance that starts later loads the pins already made', async () => {
    const a = instance('sig4');
    await settle();
    const x = natural('conv-7') as string;
    a.live.setHealthy(x, false);
    const pinned = primary(route(a.router, 'conv-7'));
    expect(pinned).not.toBe(x);
    await settle();
    const late = instance('sig4');
    await waitFor('pins loaded', () => late.router.state.sessions.size > 0, 3000);
    expect(primary(route(late.router, 'conv-7'))).toBe(pinned);
    await Promise.all([a.signals.close(), late.signals.close()]);
  });
});
