// The issue 14 matrix: the pooled-cache reference and the per-row verdicts a reader acts on.
import { describe, expect, it } from 'vitest';
import { runDes, type DesResult, type Dist } from '../../src/tools/bench/des.js';
import { matrixRow, matrixSummaryRows, runMatrix } from '../../src/tools/bench/matrix.js';
import { roundRobin } from '../../src/tools/bench/policies/baselines.js';
import { kvfleetFactory } from '../../src/tools/bench/policies/kvfleet.js';
import { runPooled } from '../../src/tools/bench/pooled.js';
import { scenario, streamOf } from '../../src/tools/bench/scenarios.js';
import type { VirtualRun } from '../../src/tools/bench/virtual.js';
import { createWorkload } from '../../src/tools/bench/workload.js';

const dist = (p90: number, p99: number): Dist => ({ mean: p90, p50: p90, p90, p99, max: p99 });

function result(policy: string, p90: number, p99: number, hitRate: number): DesResult {
  return {
    policy,
    requests: 1,
    completed: 1,
    rejected: 0,
    hitTokens: 0,
    promptTokens: 0,
    hitRate,
    ttftMs: dist(p90, p99),
    e2eMs: dist(p90, p99),
    virtualMs: 1,
    throughput: 1,
    perReplica: { requests: [1], meanInflight: [1], peakInflight: [1] },
    imbalance: 1,
    events: 1,
    wallMs: 0,
    cpuMs: 0,
  };
}

function row(results: DesResult[], pooledHit: number) {
  const s = scenario('shared-prefix', { requests: 10 });
  const pooled = result('pooled', 1, 1, pooledHit);
  const run: VirtualRun = { scenario: s, rate: 1, coldCapacity: 1, ceiling: 1, results, pooled, total: { wallMs: 0, cpuMs: 0 } };
  return matrixRow('shared-prefix', 8, 0.7, run, pooled);
}

describe('pooled cache', () => {
  it('a one-replica fleet pooled is that replica: same figures as routing everything to it', () => {
    const s = scenario('adversarial', { replicas: 1, requests: 300, seed: 4 });
    const alone = runDes(roundRobin, createWorkload(s.spec, streamOf(s)), { model: s.model, arrivals: s.arrivals, seed: s.seed });
    const pooled = runPooled(s);
    expect({ ...pooled, policy: '', wallMs: 0, cpuMs: 0 }).toEqual({ ...alone, policy: '', wallMs: 0, cpuMs: 0 });
  });

  it('on shared-prefix traffic the pooled cache hits at least what any routing over the split memory hits', () => {
    const s = scenario('shared-prefix', { replicas: 8, requests: 4000, seed: 2 });
    const pooled = runPooled(s);
    for (const f of [roundRobin, kvfleetFactory({ label: 'kvfleet' })]) {
      const r = runDes(f, createWorkload(s.spec, streamOf(s)), { model: s.model, arrivals: s.arrivals, seed: s.seed });
      expect(pooled.hitRate).toBeGreaterThanOrEqual(r.hitRate);
    }
  });
});

describe('matrix verdicts', () => {
  it('best when strictly lower than every other policy on p90 and p99, and met at ≥ 90 % of the pooled hit rate', () => {
    const r = row([result('round_robin', 50, 90, 0.4), result('kvfleet', 40, 80, 0.72)], 0.8);
    expect(r.p90?.rank).toBe('best');
    expect(r.p99?.rank).toBe('best');
    expect(r.ofPooled).toBeCloseTo(0.9);
    expect(r.met).toBe(true);
  });

  it('an equal quantile is a tie (met); a higher one is behind (not met), naming the policy ahead and the ratio', () => {
    const tie = row([result('chwbl', 6.4, 57.6, 0.5), result('kvfleet', 6.4, 57.6, 0.5)], 0.5);
    expect(tie.p90?.rank).toBe('tie');
    expect(tie.met).toBe(true);
    const behind = row([result('chwbl', 6.4, 57.6, 0.5), result('sglang_cache_aware', 6.4, 50, 0.5), result('kvfleet', 6.4, 60, 0.5)], 0.5);
    expect(behind.p99).toMatchObject({ rank: 'behind', bestOtherPolicy: 'sglang_cache_aware', bestOther: 50 });
    expect(behind.met).toBe(false);
    const cells = matrixSummaryRows([behind])[0] ?? [];
    expect(cells.join(' ')).toContain('**behind** 1.20× sglang_cache_aware 50.0');
    expect(cells.at(-1)).toBe('**no**');
  });

  it('below 90 % of the pooled hit rate is not met even when fastest; a pooled hit rate of 0 makes the hit target n/a', () => {
    expect(row([result('round_robin', 50, 90, 0.4), result('kvfleet', 40, 80, 0.5)], 0.8).met).toBe(false);
    const none = row([result('round_robin', 50, 90, 0), result('kvfleet', 40, 80, 0)], 0);
    expect(Number.isNaN(none.ofPooled)).toBe(true);
    expect(none.met).toBe(true);
  });

  it('runs every scenario × replicas × load with every policy and the pooled cache', async () => {
    const rows = await runMatrix({
      scenarios: ['no-sharing', 'adversarial'],
      replicas: [4],
      loads: [0.7, 0.95],
      requests: 200,
      policies: () => [roundRobin, kvfleetFactory({ label: 'kvfleet' })],
    });
    expect(rows.map((r) => `${r.scenario}/${r.replicas}/${r.load}`)).toEqual([
      'no-sharing/4/0.7',
      'no-sharing/4/0.95',
      'adversarial/4/0.7',
      'adversarial/4/0.95',
    ]);
    for (const r of rows) {
      expect(r.run.results.map((x) => x.policy)).toEqual(['round_robin', 'kvfleet']);
      expect(r.pooled.completed).toBe(200);
    }
    expect(Number.isNaN((rows[0] as { ofPooled: number }).ofPooled)).toBe(true);
  });
});
