// The pooled-cache reference of a virtual run: the fleet as ONE replica with one LRU prefix
// cache of Σ replicas' cache blocks and Σ their slots (maxConcurrency, maxWaiting), FIFO,
// the same workload, timing and cache rules (des.ts: blocks cached at the first token).
// Its hit rate is what a single cache of the fleet's total memory reaches: the ceiling a
// router's placement is measured against (the infinite-cache ceiling ignores memory).
import { runDes, type DesResult } from './des.js';
import type { PolicyFactory } from './policy.js';
import { streamOf, type Scenario } from './scenarios.js';
import { createWorkload } from './workload.js';

const pooledPolicy: PolicyFactory = {
  name: 'pooled',
  create: () => ({
    name: 'pooled',
    pick(_r, _fleet, _now, out) {
      out[0] = 0;
      return 1;
    },
  }),
};

/** The scenario's fleet as one replica with all its cache blocks and slots (the hit-rate ceiling of that memory). */
export function runPooled(s: Scenario): DesResult {
  const m = s.model;
  const model = {
    ...m,
    replicas: 1,
    cacheBlocks: m.cacheBlocks * m.replicas,
    maxConcurrency: m.maxConcurrency * m.replicas,
    maxWaiting: Math.min(Number.MAX_SAFE_INTEGER, m.maxWaiting * m.replicas),
  };
  return runDes(pooledPolicy, createWorkload(s.spec, streamOf(s)), { model, arrivals: s.arrivals, seed: s.seed });
}
