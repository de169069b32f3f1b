// Virtual-time benchmark runner: every policy over the same scenario (same seed, same request
// stream, fresh caches per run) plus the workload's ideal hit-rate ceiling.
import { runDes, type DesResult } from './des.js';
import type { PolicyFactory } from './policy.js';
import { chwblFactory, leastLoaded, randomPolicy, roundRobin } from './policies/baselines.js';
import { kvfleetFactory } from './policies/kvfleet.js';
import { sglangFactory } from './policies/sglang.js';
import { coldCapacity, streamOf, type Scenario } from './scenarios.js';
import { createWorkload, idealHitRate } from './workload.js';

export const BASELINE_NAMES = ['round_robin', 'random', 'least_loaded', 'chwbl', 'sglang_cache_aware', 'kvfleet'] as const;

/** The policies of issue 5, kvfleet's default last. */
export function defaultPolicies(): PolicyFactory[] {
  return [roundRobin, randomPolicy, leastLoaded, chwblFactory(1.25), sglangFactory(), kvfleetFactory({ label: 'kvfleet' })];
}

export function policiesByName(names: readonly string[]): PolicyFactory[] {
  const all = defaultPolicies();
  return names.map((n) => {
    const f = all.find((p) => p.name === n) ?? (n.startsWith('kvfleet:') ? kvfleetFactory({ strategy: n.slice(8), label: n }) : undefined);
    if (f === undefined) throw new Error(`unknown policy '${n}' (known: ${all.map((p) => p.name).join(', ')}, kvfleet:<strategy>)`);
    return f;
  });
}

export interface VirtualRun {
  readonly scenario: Scenario;
  readonly rate: number;
  readonly coldCapacity: number;
  readonly ceiling: number;
  readonly results: readonly DesResult[];
}

export function runVirtual(s: Scenario, policies: readonly PolicyFactory[], progress?: (msg: string) => void): VirtualRun {
  const stream = streamOf(s);
  const ceiling = idealHitRate(createWorkload(s.spec, stream), s.model.blockTokens).rate;
  const results: DesResult[] = [];
  for (const p of policies) {
    progress?.(`virtual ${s.name}: ${p.name} (${s.requests} requests, ${s.model.replicas} replicas)…`);
    const r = runDes(p, createWorkload(s.spec, stream), { model: s.model, arrivals: s.arrivals, seed: s.seed });
    progress?.(`virtual ${s.name}: ${p.name} done in ${(r.wallMs / 1000).toFixed(1)} s (${Math.round(r.events / (r.wallMs / 1000)).toLocaleString('en-US')} events/s)`);
    results.push(r);
  }
  return { scenario: s, rate: stream.rate, coldCapacity: coldCapacity(s.spec, s.model), ceiling, results };
}
