// Live benchmark through a real Envoy + kvfleet + simulated replicas (few requests, bounded).
import { describe, expect, it } from 'vitest';
import { runLiveLocal } from '../../src/tools/bench/command.js';

describe('kvfleet bench live-local', () => {
  it("drives Envoy + kvfleet, reads the replicas' metrics, and reports every request", async () => {
    const r = await runLiveLocal({ strategies: ['hybrid_score'], replicas: 2, requests: 30, duration: 20, timeScale: 1, load: 0.3, seed: 1, virtual: true });
    expect(r.live).toHaveLength(1);
    const live = r.live[0]!;
    expect(live.requests).toBe(30);
    expect(live.ok).toBe(30);
    expect(live.statuses).toEqual({ '200': 30 });
    // every request was served by one of the two replicas, and the sims counted them
    expect(live.perReplica.reduce((n, p) => n + p.requests, 0)).toBe(30);
    expect(Object.values(live.endpoints).reduce((n, c) => n + c, 0)).toBe(30);
    // Shared-prefix traffic: the replicas reused cached blocks, never more than an infinite cache
    // could. (30 requests: with 12, only two or three repeat a prefix, and a work-conserving pick
    // may send each repeat to the idle replica instead of the busy holder: 0 hits, by design.)
    expect(live.hitRate).toBeGreaterThan(0);
    expect(live.hitRate).toBeLessThanOrEqual((r.virtual?.ceiling ?? 0) + 1e-9);
    expect(Number.isFinite(live.ttftMs.p50)).toBe(true);
    expect(live.ttftMs.p50).toBeLessThanOrEqual(live.e2eMs.p50);
    expect(r.virtual?.results[0]?.completed).toBe(30);
    expect(r.markdown).toContain('| kvfleet |');
  }, 90_000);
});
