import { describe, expect, it } from 'vitest';
import { BlockCache } from '../../src/tools/bench/block-cache.js';
import { runDes, type ReplicaModel } from '../../src/tools/bench/des.js';
import { EventHeap } from '../../src/tools/bench/event-heap.js';
import { roundRobin, leastLoaded } from '../../src/tools/bench/policies/baselines.js';
import { scenario, streamOf } from '../../src/tools/bench/scenarios.js';
import { createWorkload, SRC_SYSTEM, type BenchRequest, type Workload } from '../../src/tools/bench/workload.js';
import { PrefixCache } from '../../src/tools/sim/prefix-cache.js';
import { rngFor } from '../../src/tools/bench/rand.js';

function listWorkload(reqs: BenchRequest[]): Workload {
  let i = 0;
  return { kind: 'random', next: () => reqs[i++] };
}

const tiny: ReplicaModel = {
  replicas: 1,
  blockTokens: 16,
  charsPerToken: 4,
  cacheBlocks: 100,
  prefillUsPerToken: 1000,
  decodeMsPerToken: 10,
  maxConcurrency: 1,
  maxWaiting: 10,
};

describe('event heap', () => {
  it('pops in (time, push order)', () => {
    const h = new EventHeap(2);
    const rng = rngFor(1, 1);
    const pushed: Array<[number, number]> = [];
    for (let i = 0; i < 500; i++) {
      const t = Math.floor(rng.next() * 50);
      h.push(t, i);
      pushed.push([t, i]);
    }
    pushed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const got: number[] = [];
    while (h.size > 0) got.push(h.pop());
    expect(got).toEqual(pushed.map((p) => p[1]));
  });
});

describe('block cache', () => {
  it('keeps the simulator prefix cache rules (same hits, same contents) on a random stream', () => {
    const rng = rngFor(9, 9);
    const sim = new PrefixCache(40, 16, 4);
    const ours = new BlockCache(40, 16);
    for (let step = 0; step < 3000; step++) {
      const n = 1 + Math.floor(rng.next() * 12);
      const root = Math.floor(rng.next() * 8);
      const keys = Array.from({ length: n }, (_, i) => root * 1000 + (i < 4 ? i : i + 100 * Math.floor(rng.next() * 3)));
      const tokens = n * 16 + Math.floor(rng.next() * 16);
      const strKeys = keys.map(String);
      expect(ours.lookup(keys, tokens)).toBe(sim.lookup(strKeys, tokens));
      sim.insert(strKeys);
      ours.insert(keys);
      expect(ours.size).toBe(sim.size);
    }
  });

  it('a full cache evicts the least recently used block', () => {
    const c = new BlockCache(3, 16);
    c.insert([1, 2, 3]);
    c.insert([1]);
    c.insert([4]);
    expect([1, 2, 3, 4].map((k) => c.has(k))).toEqual([true, false, true, true]);
    expect(c.size).toBe(3);
  });
});

describe('virtual-time simulation', () => {
  it('a tiny scenario gives the hand-computed result', () => {
    // One replica, one slot, prefill 1 ms/token, decode 10 ms/token. Two 32-token prompts (2 blocks),
    // 3 output tokens, arriving at 0 and 1 ms.
    //   A: prefill 32 ms → first token 32, done 32 + 2·10 = 52.         TTFT 32, E2E 52
    //   B: waits until 52; cached min(2, ⌊31/16⌋ = 1) block = 16 tokens; prefill 16 ms → first token 68,
    //      done 88.                                                       TTFT 67, E2E 87
    //   hit rate = 16 / 64 = 25 %
    const spans = [{ src: SRC_SYSTEM + 1, tokens: 32, role: 'system' as const }];
    const reqs: BenchRequest[] = [
      { id: 0, arrivalMs: 0, spans, promptTokens: 32, outputTokens: 3, session: -1, group: 0 },
      { id: 1, arrivalMs: 1, spans, promptTokens: 32, outputTokens: 3, session: -1, group: 0 },
    ];
    const r = runDes(roundRobin, listWorkload(reqs), { model: tiny, arrivals: { mode: 'open' }, seed: 1 });
    expect(r.completed).toBe(2);
    expect(r.hitTokens).toBe(16);
    expect(r.promptTokens).toBe(64);
    expect(r.hitRate).toBe(0.25);
    expect(r.ttftMs.p50).toBe(32);
    expect(r.ttftMs.max).toBe(67);
    expect(r.e2eMs.max).toBe(87);
    expect(r.virtualMs).toBe(88);
  });

  it('closed loop keeps `concurrency` requests outstanding', () => {
    const spans = [{ src: SRC_SYSTEM + 2, tokens: 16, role: 'system' as const }];
    const reqs: BenchRequest[] = Array.from({ length: 4 }, (_, i) => ({
      id: i,
      arrivalMs: 0,
      spans,
      promptTokens: 16,
      outputTokens: 1,
      session: -1,
      group: 0,
    }));
    // 1 slot, one client: strictly sequential; each: prefill 16 ms (first) then 15 ms (1 block cached? ⌊15/16⌋ = 0 → 16 ms)
    const r = runDes(roundRobin, listWorkload(reqs), { model: tiny, arrivals: { mode: 'closed', concurrency: 1 }, seed: 1 });
    expect(r.completed).toBe(4);
    expect(r.ttftMs.max).toBe(16);
    expect(r.virtualMs).toBe(64);
  });

  it('is deterministic for a seed', () => {
    const s = scenario('shared-prefix', { requests: 3000 });
    const run = () => runDes(leastLoaded, createWorkload(s.spec, streamOf(s)), { model: s.model, arrivals: s.arrivals, seed: 1 });
    const a = run();
    const b = run();
    expect({ ...a, wallMs: 0, cpuMs: 0 }).toEqual({ ...b, wallMs: 0, cpuMs: 0 });
    expect(a.completed).toBe(3000);
  });
});
