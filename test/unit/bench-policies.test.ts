import { describe, expect, it } from 'vitest';
import { addresses, policyEnv, runDes } from '../../src/tools/bench/des.js';
import { chwblFactory } from '../../src/tools/bench/policies/baselines.js';
import { kvfleetFactory } from '../../src/tools/bench/policies/kvfleet.js';
import { ApproxTree, sglangFactory, sglangSelect } from '../../src/tools/bench/policies/sglang.js';
import type { FleetView, RoutedRequest } from '../../src/tools/bench/policy.js';
import { scenario, simModel, streamOf } from '../../src/tools/bench/scenarios.js';
import { blockKeys, createWorkload, SRC_QUESTION, SRC_SYSTEM, type BenchRequest } from '../../src/tools/bench/workload.js';

function routed(id: number, group: number, q: number, sysTokens = 64, qTokens = 32): RoutedRequest {
  const spans = [
    { src: SRC_SYSTEM + group, tokens: sysTokens, role: 'system' as const },
    { src: SRC_QUESTION + q, tokens: qTokens, role: 'user' as const },
  ];
  const req: BenchRequest = { id, arrivalMs: 0, spans, promptTokens: sysTokens + qTokens, outputTokens: 1, session: -1, group };
  return { req, keys: blockKeys(spans, 16) };
}

const rules = (abs: number) => ({ cacheThreshold: 0.3, balanceRelThreshold: 1.5, abs, blockTokens: 16 });

describe('SGLang-style cache-aware policy', () => {
  it('balanced + match rate above the threshold → the worker holding the prefix', () => {
    const tree = new ApproxTree(3, 1000);
    tree.insert(routed(0, 1, 1).keys, 2);
    // 64 of 96 tokens match (4 of 6 blocks) = 0.67 > 0.3
    const c = sglangSelect(tree, routed(1, 1, 2), Int32Array.from([0, 0, 3]), 3, rules(8));
    expect(c).toMatchObject({ worker: 2, branch: 'prefix-match' });
    expect(c.matchRate).toBeCloseTo(64 / 96, 9);
  });

  it('balanced + match rate at or below the threshold → the worker with the smallest tree', () => {
    const tree = new ApproxTree(3, 1000);
    tree.insert(routed(0, 1, 1).keys, 0);
    tree.insert(routed(1, 2, 2).keys, 1);
    tree.insert(routed(2, 3, 3).keys, 1);
    // 16-token shared system, 96-token question: 1 of 7 blocks = 0.14 ≤ 0.3
    const r = routed(3, 1, 9, 16, 96);
    tree.insert(routed(4, 1, 1, 16, 96).keys, 1);
    const c = sglangSelect(tree, r, Int32Array.from([0, 0, 0]), 3, rules(8));
    expect(c.branch).toBe('smallest-tree');
    expect(c.worker).toBe(2);
  });

  it('imbalanced (abs AND rel thresholds exceeded) → shortest queue, whatever the cache says', () => {
    const tree = new ApproxTree(3, 1000);
    tree.insert(routed(0, 1, 1).keys, 0);
    expect(sglangSelect(tree, routed(1, 1, 1), Int32Array.from([20, 5, 9]), 3, rules(8))).toMatchObject({ worker: 1, branch: 'imbalanced' });
    // max − min = 9 > 8 but 30 ≤ 21 · 1.5 → balanced → prefix match
    expect(sglangSelect(tree, routed(1, 1, 1), Int32Array.from([30, 21, 25]), 3, rules(8))).toMatchObject({ worker: 0, branch: 'prefix-match' });
    // 20 > 1.5 · 5 but max − min = 7 ≤ 8 → balanced
    expect(sglangSelect(tree, routed(1, 1, 1), Int32Array.from([12, 5, 9]), 3, rules(8)).branch).toBe('prefix-match');
  });

  it('the tree forgets a worker when its blocks are evicted', () => {
    const tree = new ApproxTree(2, 6);
    tree.insert(routed(0, 1, 1).keys, 0);
    expect(tree.match(routed(0, 1, 1).keys)).toEqual({ blocks: 6, worker: 0 });
    tree.insert(routed(1, 2, 2).keys, 0);
    expect(tree.size(0)).toBe(6);
    expect(tree.match(routed(0, 1, 1).keys).blocks).toBe(0);
  });
});

describe('CHWBL baseline', () => {
  it('sends one prefix to one replica until the load bound, then spills', () => {
    const env = policyEnv(simModel({ replicas: 4 }), 1);
    const p = chwblFactory(1.25).create(env);
    const view: FleetView = {
      n: 4,
      inflight: new Int32Array(4),
      running: new Int32Array(4),
      waiting: new Int32Array(4),
      kvBlocksInUse: new Int32Array(4),
      cacheBlocks: 100,
      blockTokens: 16,
      maxConcurrency: 8,
      addresses: addresses(4),
    };
    const out = new Int32Array(4);
    const r = routed(0, 1, 1);
    p.pick(r, view, 0, out);
    const owner = out[0]!;
    for (let i = 0; i < 20; i++) {
      p.pick(r, view, 0, out);
      const total = view.inflight.reduce((a, b) => a + b, 0);
      const cap = Math.ceil((1.25 * (total + 1)) / 4 - 1e-9);
      expect(view.inflight[out[0]!]! + 1).toBeLessThanOrEqual(cap);
      view.inflight[out[0]!]! += 1;
    }
    expect(view.inflight[owner]).toBeGreaterThan(0);
  });
});

describe('kvfleet adapter', () => {
  it('runs the core decide() in the simulation, deterministically, and beats round robin on hits', () => {
    const s = scenario('shared-prefix', { requests: 1500, replicas: 4 });
    const run = () => runDes(kvfleetFactory({ label: 'kvfleet' }), createWorkload(s.spec, streamOf(s)), { model: s.model, arrivals: s.arrivals, seed: 3 });
    const a = run();
    const b = run();
    expect(a.completed).toBe(1500);
    expect({ ...a, wallMs: 0, cpuMs: 0 }).toEqual({ ...b, wallMs: 0, cpuMs: 0 });
    const sg = runDes(sglangFactory(), createWorkload(s.spec, streamOf(s)), { model: s.model, arrivals: s.arrivals, seed: 3 });
    expect(sg.completed).toBe(1500);
    expect(a.hitRate).toBeGreaterThan(0);
  });
});
