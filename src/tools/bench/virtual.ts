// Virtual-time benchmark runner: every policy over the same scenario (same seed, same request
// stream, fresh caches per run) plus the workload's ideal hit-rate ceiling.
import { cpuMsSince, runDes, type DesResult } from './des.js';
import type { PolicyFactory } from './policy.js';
import { chwblFactory, leastLoaded, randomPolicy, roundRobin } from './policies/baselines.js';
import { kvfleetFactory } from './policies/kvfleet.js';
import { sglangFactory } from './policies/sglang.js';
import { fmt, pct, type Cell } from './report.js';
import { coldCapacity, streamOf, type Scenario } from './scenarios.js';
import { computeReferences, referenceChildPath, referencesInChild, type References } from './references.js';
import { createWorkload } from './workload.js';

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
  /** The fleet as one replica with all its memory and slots (pooled.ts): the hit-rate ceiling of that memory. */
  readonly pooled: DesResult;
  /** The whole run (ceiling, every policy, pooled cache): wall and CPU ms. */
  readonly total: { readonly wallMs: number; readonly cpuMs: number };
}

export interface VirtualOptions {
  /**
   * Compute the ceiling and the pooled cache in a child process while the policies run
   * (references.ts; default: when the compiled child exists). False: in this process, first the
   * ceiling, then the policies, then the pooled cache.
   */
  readonly parallelReferences?: boolean;
}

export async function runVirtual(
  s: Scenario,
  policies: readonly PolicyFactory[],
  progress?: (msg: string) => void,
  o: VirtualOptions = {},
): Promise<VirtualRun> {
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const stream = streamOf(s);
  const childPath = o.parallelReferences === false ? undefined : referenceChildPath();
  if (o.parallelReferences === true && childPath === undefined) throw new Error('parallel references need the compiled reference-child.js (npm run build)');
  if (childPath !== undefined) progress?.(`virtual ${s.name}: ceiling and pooled cache in a child process, in parallel…`);
  const refs: Promise<References> | undefined = childPath !== undefined ? referencesInChild(s, childPath) : undefined;
  // Unhandled until awaited below: a child that fails early must not crash the process first.
  refs?.catch(() => undefined);
  const results: DesResult[] = [];
  for (const p of policies) {
    progress?.(`virtual ${s.name}: ${p.name} (${s.requests} requests, ${s.model.replicas} replicas)…`);
    const r = runDes(p, createWorkload(s.spec, stream), { model: s.model, arrivals: s.arrivals, seed: s.seed });
    progress?.(
      `virtual ${s.name}: ${p.name} done in ${(r.wallMs / 1000).toFixed(1)} s (${Math.round(r.events / (r.wallMs / 1000)).toLocaleString('en-US')} events/s)`,
    );
    results.push(r);
  }
  if (refs === undefined) progress?.(`virtual ${s.name}: ceiling and pooled cache (one replica with the fleet's memory)…`);
  else progress?.(`virtual ${s.name}: waiting for the ceiling and pooled cache…`);
  const ref = refs !== undefined ? await refs : computeReferences(s);
  // The child's CPU is its own process's: add it to ours for the whole run.
  const total = { wallMs: performance.now() - wall0, cpuMs: cpuMsSince(cpu0) + (refs !== undefined ? ref.cpuMs : 0) };
  progress?.(
    `virtual ${s.name}: pooled cache done in ${(ref.pooled.wallMs / 1000).toFixed(1)} s; whole run ${(total.wallMs / 1000).toFixed(1)} s wall, ${(total.cpuMs / 1000).toFixed(1)} s CPU`,
  );
  return { scenario: s, rate: stream.rate, coldCapacity: coldCapacity(s.spec, s.model), ceiling: ref.ceiling, results, pooled: ref.pooled, total };
}

export const VIRTUAL_HEAD = [
  'policy',
  'hit rate',
  '% of ceiling',
  'TTFT p50 ms',
  'TTFT p90 ms',
  'TTFT p99 ms',
  'TTFT mean ms',
  'p90 vs RR',
  'E2E p99 ms',
  'max/mean in-flight',
  'rejected',
  'wall s',
  'CPU s',
  'req/s (wall)',
] as const;

export function virtualRows(run: VirtualRun): Cell[][] {
  const rr = run.results.find((r) => r.policy === 'round_robin');
  return run.results.map((r) => [
    r.policy,
    pct(r.hitRate),
    run.ceiling > 0 ? pct(r.hitRate / run.ceiling) : '–',
    fmt(r.ttftMs.p50),
    fmt(r.ttftMs.p90),
    fmt(r.ttftMs.p99),
    fmt(r.ttftMs.mean, 2),
    rr !== undefined && rr.ttftMs.p90 > 0 ? `${fmt(r.ttftMs.p90 / rr.ttftMs.p90, 2)}×` : '–',
    fmt(r.e2eMs.p99),
    fmt(r.imbalance, 2),
    r.rejected,
    fmt(r.wallMs / 1000, 1),
    fmt(r.cpuMs / 1000, 1),
    Math.round(r.requests / (r.wallMs / 1000)).toLocaleString('en-US'),
  ]);
}

export interface TargetCheck {
  readonly target: string;
  readonly value: string;
  readonly met: boolean;
}

/** Issue 5 item 6 targets, evaluated on a run (kvfleet = the policy named 'kvfleet'). */
export function checkTargets(run: VirtualRun): TargetCheck[] {
  const kv = run.results.find((r) => r.policy === 'kvfleet');
  if (kv === undefined) return [];
  const out: TargetCheck[] = [];
  const others = run.results.filter((r) => r !== kv);
  if (run.scenario.spec.kind === 'shared-prefix') {
    const rr = run.results.find((r) => r.policy === 'round_robin');
    out.push({
      target: 'hit rate ≥ 90% of the ceiling',
      value: `${pct(kv.hitRate)} of ${pct(run.ceiling)} = ${pct(kv.hitRate / run.ceiling)}`,
      met: kv.hitRate >= 0.9 * run.ceiling,
    });
    if (rr !== undefined)
      out.push({
        target: 'TTFT p90 ≤ ⅓ of round-robin',
        value: `${fmt(kv.ttftMs.p90)} vs ${fmt(rr.ttftMs.p90)} ms (${fmt(kv.ttftMs.p90 / rr.ttftMs.p90, 2)}×)`,
        met: kv.ttftMs.p90 <= rr.ttftMs.p90 / 3,
      });
    const best = others.reduce((a, b) => (b.ttftMs.p90 < a.ttftMs.p90 ? b : a), others[0] ?? kv);
    out.push({
      target: 'TTFT p90 better than every baseline',
      value: `kvfleet ${fmt(kv.ttftMs.p90)} ms; best baseline ${best.policy} ${fmt(best.ttftMs.p90)} ms`,
      met: others.every((o) => kv.ttftMs.p90 < o.ttftMs.p90),
    });
    out.push({ target: 'max/mean in-flight ≤ 1.3', value: fmt(kv.imbalance, 2), met: kv.imbalance <= 1.3 });
  } else if (run.scenario.spec.kind === 'random') {
    const ll = run.results.find((r) => r.policy === 'least_loaded');
    if (ll !== undefined) {
      for (const q of ['p50', 'p90', 'p99'] as const) {
        out.push({
          target: `no-sharing TTFT ${q} ≤ 1.05 × least-loaded`,
          value: `${fmt(kv.ttftMs[q])} vs ${fmt(ll.ttftMs[q])} ms (${fmt(kv.ttftMs[q] / ll.ttftMs[q], 3)}×)`,
          met: kv.ttftMs[q] <= 1.05 * ll.ttftMs[q],
        });
      }
    }
  }
  return out;
}
