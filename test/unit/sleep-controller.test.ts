// Idle sleep and wake-on-request without a socket: the controller against a scripted engine
// API, and the engines' sleep routes of the simulator through the real HTTP client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '../../src/config/fleet.js';
import { engineSleepApi, type EngineSleepApi } from '../../src/fleet/engine-sleep.js';
import { LiveEndpoints } from '../../src/fleet/live-endpoints.js';
import { ModelTraffic } from '../../src/fleet/model-traffic.js';
import { SleepController, type ModelSleepState } from '../../src/fleet/sleep-controller.js';
import { isKvError, type KvError } from '../../src/errors.js';
import { startSim, type SimHandle } from '../../src/tools/sim/index.js';
import { fleetFrom } from '../helpers/fleet.js';

const YAML = (sleep: string) => `
models:
  - name: sleepy
    cluster: pool-sleepy
    model_id: org/Sleepy
    endpoints: [10.0.0.1:8000, 10.0.0.2:8000]
    sleep: ${sleep}
  - name: plain
    cluster: pool-plain
    model_id: org/Plain
    engine: tgi
    endpoints: [10.0.1.1:8000]
`;

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An engine API that records calls; each replica sleeps and wakes after `delays` ms (or fails). */
class FakeEngines implements EngineSleepApi {
  readonly calls: string[] = [];
  readonly asleep = new Set<string>();
  wakeMs: Record<string, number> = {};
  failWake = new Set<string>();
  sleepDelay = 20;

  async sleep(address: string): Promise<void> {
    this.calls.push(`sleep ${address}`);
    await sleepMs(this.sleepDelay);
    this.asleep.add(address);
  }
  async wake(address: string): Promise<void> {
    this.calls.push(`wake ${address}`);
    await sleepMs(this.wakeMs[address] ?? 30);
    if (this.failWake.has(address)) throw new Error('HTTP 500');
    this.asleep.delete(address);
  }
  isSleeping(address: string): Promise<boolean> {
    return Promise.resolve(this.asleep.has(address));
  }
}

function setup(sleep = '{ idle_seconds: 0.2 }') {
  const fleet = fleetFrom(YAML(sleep));
  const live = new LiveEndpoints();
  let wall = 1_000_000;
  const traffic = new ModelTraffic(() => wall);
  const api = new FakeEngines();
  const forgotten: string[] = [];
  const changes: Array<[string, ModelSleepState]> = [];
  const ctl = new SleepController({
    fleet: () => fleet,
    live,
    traffic,
    api,
    now: () => performance.now(),
    forget: (a) => forgotten.push(a),
    coolDown: (a, until) => live.coolDown(a, until, 'waking'),
    endCoolDown: (a) => live.endCoolDown(a, 'waking'),
    events: { changed: (m, s) => changes.push([m, s]) },
  });
  const model = fleet.byName.get('sleepy') as Model;
  return { fleet, live, traffic, api, ctl, model, forgotten, changes, advance: (ms: number) => (wall += ms) };
}

describe('idle sleep', () => {
  it('puts an idle model to sleep after idle_seconds, not before, and forgets its replicas’ caches', async () => {
    const t = setup();
    t.traffic.begin('sleepy')();
    t.ctl.tick();
    expect(t.api.calls).toEqual([]);
    t.advance(250);
    t.ctl.tick();
    expect(t.ctl.state('sleepy')).toBe('falling_asleep');
    await sleepMs(60);
    expect(t.ctl.state('sleepy')).toBe('sleeping');
    expect(t.api.calls.sort()).toEqual(['sleep 10.0.0.1:8000', 'sleep 10.0.0.2:8000']);
    expect(t.forgotten.sort()).toEqual(['10.0.0.1:8000', '10.0.0.2:8000']);
    // A model without `sleep` is never put to sleep by the clock.
    expect(t.ctl.state('plain')).toBe('awake');
  });

  it('keeps a model awake while a request is in flight, the engine reports work, or auto is off', () => {
    const t = setup();
    const done = t.traffic.begin('sleepy');
    t.advance(1000);
    t.ctl.tick();
    expect(t.ctl.state('sleepy')).toBe('awake');
    done();
    t.live.watchEngine('10.0.0.2:8000', 60_000);
    t.live.setEngine('10.0.0.2:8000', { running: 1, waiting: 0, kvUsage: 0.1, capacityBlocks: undefined, blockTokens: undefined });
    t.ctl.tick();
    expect(t.ctl.state('sleepy')).toBe('awake');

    const off = setup('{ idle_seconds: 0.2, auto: false }');
    off.advance(1000);
    off.ctl.tick();
    expect(off.ctl.state('sleepy')).toBe('awake');
    expect(off.api.calls).toEqual([]);
  });

  it('refuses an operator sleep while requests run (409) and for engines without a sleep API (400)', async () => {
    const t = setup();
    const done = t.traffic.begin('sleepy');
    const busy = await t.ctl.sleep(t.model, 'admin').catch((e: unknown) => e);
    expect(isKvError(busy) && busy.code).toBe('model_busy');
    expect(isKvError(busy) && busy.status).toBe(409);
    done();
    const plain = t.fleet.byName.get('plain') as Model;
    const unsupported = await t.ctl.sleep(plain, 'admin').catch((e: unknown) => e);
    expect(isKvError(unsupported) && unsupported.code).toBe('sleep_unsupported');
    expect(await t.ctl.sleep(t.model, 'admin')).toBe('sleeping');
  });
});

describe('wake on request', () => {
  it('holds every request until the model is awake and wakes each replica once', async () => {
    const t = setup();
    await t.ctl.sleep(t.model, 'admin');
    const waits = Array.from({ length: 5 }, () => t.ctl.ready(t.model)).filter((w): w is Promise<void> => w !== true);
    expect(waits).toHaveLength(5);
    expect(t.ctl.state('sleepy')).toBe('waking');
    await Promise.all(waits);
    expect(t.ctl.state('sleepy')).toBe('awake');
    expect(t.api.calls.filter((c) => c.startsWith('wake')).sort()).toEqual(['wake 10.0.0.1:8000', 'wake 10.0.0.2:8000']);
    expect(t.ctl.ready(t.model)).toBe(true);
  });

  it('a wake restarts the idle clock: a model just woken is not put back to sleep at once', async () => {
    const t = setup('{ idle_seconds: 5 }');
    await t.ctl.sleep(t.model, 'admin');
    await t.ctl.wake(t.model);
    t.advance(60_000);
    t.ctl.tick();
    expect(t.ctl.state('sleepy')).toBe('awake');
  });

  it('a request that arrives while the model falls asleep waits for that and then wakes it', async () => {
    const t = setup();
    t.api.sleepDelay = 80;
    const sleeping = t.ctl.sleep(t.model, 'admin');
    expect(t.ctl.state('sleepy')).toBe('falling_asleep');
    const wait = t.ctl.ready(t.model);
    expect(wait).not.toBe(true);
    await expect(wait).resolves.toBeUndefined();
    await sleeping;
    expect(t.ctl.state('sleepy')).toBe('awake');
    expect(t.api.calls.filter((c) => c.startsWith('wake'))).toHaveLength(2);
  });

  it('answers 503 model_waking with retry-after when the wake outlasts wake_timeout_ms', async () => {
    const t = setup('{ idle_seconds: 300, wake_timeout_ms: 50 }');
    t.api.wakeMs = { '10.0.0.1:8000': 400, '10.0.0.2:8000': 400 };
    await t.ctl.sleep(t.model, 'admin');
    const err = (await (t.ctl.ready(t.model) as Promise<void>).catch((e: unknown) => e)) as KvError;
    expect(err.code).toBe('model_waking');
    expect(err.status).toBe(503);
    expect(err.retryAfter).toBeGreaterThanOrEqual(1);
    expect(err.message).toContain("'sleepy'");
  });

  it('keeps the model asleep for min_sleep_seconds: a request waits that long, then the wake', async () => {
    const t = setup('{ idle_seconds: 300, min_sleep_seconds: 0.3 }');
    await t.ctl.sleep(t.model, 'admin');
    const started = performance.now();
    await t.ctl.ready(t.model);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(t.ctl.state('sleepy')).toBe('awake');
  });

  it('lets requests go when the first replica is awake; the slower one cools down until it is', async () => {
    const t = setup();
    t.api.wakeMs = { '10.0.0.1:8000': 20, '10.0.0.2:8000': 300 };
    await t.ctl.sleep(t.model, 'admin');
    await t.ctl.ready(t.model);
    expect(t.ctl.state('sleepy')).toBe('awake');
    expect(t.live.endpoint('10.0.0.2:8000')?.coolUntil).toBeDefined();
    expect(t.live.endpoint('10.0.0.1:8000')?.coolUntil).toBeUndefined();
    await sleepMs(400);
    expect(t.live.endpoint('10.0.0.2:8000')?.coolUntil).toBeUndefined();
  });

  it('a wake no replica survives leaves the model asleep and answers 503; the next request tries again', async () => {
    const t = setup();
    await t.ctl.sleep(t.model, 'admin');
    t.api.failWake = new Set(['10.0.0.1:8000', '10.0.0.2:8000']);
    const err = (await (t.ctl.ready(t.model) as Promise<void>).catch((e: unknown) => e)) as KvError;
    expect(err.code).toBe('model_waking');
    expect(err.message).toContain('did not wake');
    expect(t.ctl.state('sleepy')).toBe('sleeping');
    t.api.failWake.clear();
    await t.ctl.ready(t.model);
    expect(t.ctl.state('sleepy')).toBe('awake');
  });

  it('a client that goes away stops waiting (the wake carries on)', async () => {
    const t = setup();
    t.api.wakeMs = { '10.0.0.1:8000': 200, '10.0.0.2:8000': 200 };
    await t.ctl.sleep(t.model, 'admin');
    const ac = new AbortController();
    const wait = t.ctl.ready(t.model, () => ac.signal) as Promise<void>;
    expect(t.ctl.held).toBe(1);
    ac.abort();
    await expect(wait).rejects.toMatchObject({ code: 'model_waking' });
    expect(t.ctl.held).toBe(0);
    await t.ctl.wake(t.model);
    expect(t.ctl.state('sleepy')).toBe('awake');
  });

  it('adopts another instance’s word, and finds replicas asleep after a restart', async () => {
    const t = setup();
    t.ctl.adopt('sleepy', 'sleeping');
    expect(t.ctl.state('sleepy')).toBe('sleeping');
    expect(t.forgotten).toHaveLength(2);
    t.ctl.adopt('plain', 'sleeping');
    expect(t.ctl.state('plain')).toBe('awake');

    const r = setup();
    r.api.asleep.add('10.0.0.1:8000').add('10.0.0.2:8000');
    await r.ctl.probe();
    expect(r.ctl.state('sleepy')).toBe('sleeping');
  });
});

describe('traffic per model', () => {
  it('counts requests per window, the last request and what is in flight', () => {
    let wall = 10_000_000;
    const t = new ModelTraffic(() => wall, 60);
    const a = t.begin('m');
    wall += 1000;
    const b = t.begin('m');
    wall += 10_000;
    t.begin('m')();
    expect(t.stats('m', 5)).toMatchObject({ requestsInWindow: 1, total: 3, inflight: 2 });
    expect(t.stats('m', 60).requestsInWindow).toBe(3);
    expect(t.stats('m', 60).requestsPerSecond).toBeCloseTo(3 / 60);
    a();
    a();
    b();
    expect(t.inflight('m')).toBe(0);
    wall += 70_000;
    expect(t.stats('m', 60).requestsInWindow).toBe(0);
    expect(t.idleMs('m')).toBe(70_000);
    t.touch('m', wall - 5000);
    expect(t.idleMs('m')).toBe(5000);
    expect(t.stats('never', 60)).toMatchObject({ total: 0, lastWall: undefined });
  });

  it('a reload that changes the longest window keeps the in-flight counts', () => {
    const t = new ModelTraffic(() => 5_000_000, 60);
    const done = t.begin('m');
    t.retain(new Set(['m']), 120);
    done();
    expect(t.inflight('m')).toBe(0);
    t.retain(new Set(), 120);
    expect(t.stats('m', 60).total).toBe(0);
  });
});

describe('the fleet file', () => {
  it('accepts sleep on vllm and sglang models only, naming the field', () => {
    expect(() => fleetFrom(YAML('{ idle_seconds: 60 }'))).not.toThrow();
    const tgi = YAML('{}').replace('engine: tgi', 'engine: tgi\n    sleep: {}');
    expect(() => fleetFrom(tgi)).toThrow(/models\.1\.sleep|models\[1\]\.sleep/);
    expect(() => fleetFrom(YAML('{ level: 2 }'))).toThrow(/level/);
    expect(() => fleetFrom(YAML('{ wake_timeout_ms: 900000 }'))).toThrow(/wake_timeout_ms/);
  });
});

describe('the simulator’s sleep routes through the engine client', () => {
  let sim: SimHandle;
  beforeAll(async () => {
    sim = await startSim({ replicas: 1, basePort: 0, sleepMs: 30, wakeMs: 60 });
  });
  afterAll(async () => sim.close());

  it.each(['vllm', 'sglang'] as const)('%s: sleep, refuse inference while asleep, wake', async (engine) => {
    const api = engineSleepApi(5000);
    const address = `127.0.0.1:${sim.replicas[0]?.port ?? 0}`;
    await api.sleep(address, engine, 1);
    expect(await api.isSleeping(address, 'vllm')).toBe(true);
    const res = await fetch(`http://${address}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-model', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(503);
    await api.wake(address, engine);
    expect(await api.isSleeping(address, 'vllm')).toBe(false);
    expect(await api.isSleeping(address, 'sglang')).toBeUndefined();
    const ok = await fetch(`http://${address}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim-model', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(ok.status).toBe(200);
  });

  it('a replica that is down fails the call with its address named', async () => {
    const api = engineSleepApi(500);
    await expect(api.wake('127.0.0.1:1', 'vllm')).rejects.toThrow(/127\.0\.0\.1:1\/wake_up/);
  });
});
