// The issue 14 target matrix: every scenario × replicas × load, every policy, against the
// pooled cache (the hit-rate ceiling of the fleet's memory).
//   pooled   the fleet as one replica (pooled.ts): the hit rate of one cache of the same
//            total memory.
//   best     per row, kvfleet's default ('kvfleet') against every other policy, on TTFT p90
//            and p99: 'best' strictly lower than all, 'tie' equal to the lowest within
//            TIE_REL (the simulated TTFT takes discrete values), else 'behind' (ratio to the
//            lowest other).
//   hits     kvfleet's hit rate ≥ 90 % of the pooled cache's (n/a when the pooled hit rate is 0).
import type { DesResult } from './des.js';
import type { PolicyFactory } from './policy.js';
import { fmt, pct, type Cell } from './report.js';
import { scenario, type ScenarioName } from './scenarios.js';
import { runVirtual, type VirtualRun } from './virtual.js';

export const MATRIX_SCENARIOS: readonly ScenarioName[] = ['shared-prefix', 'multi-turn', 'no-sharing', 'adversarial'];
export const MATRIX_REPLICAS: readonly number[] = [8, 16];
export const MATRIX_LOADS: readonly number[] = [0.7, 0.95];
/** Two TTFT quantiles within 0.5 % are a tie. */
export const TIE_REL = 0.005;
/** kvfleet's hit rate target, as a share of the pooled cache's. */
export const POOLED_SHARE = 0.9;

export type Rank = 'best' | 'tie' | 'behind';

export interface QuantileVerdict {
  readonly kvfleet: number;
  /** Lowest value among the other policies, and which policy has it. */
  readonly bestOther: number;
  readonly bestOtherPolicy: string;
  readonly rank: Rank;
}

export interface MatrixRow {
  readonly scenario: ScenarioName;
  readonly replicas: number;
  readonly load: number;
  readonly run: VirtualRun;
  readonly pooled: DesResult;
  readonly p90: QuantileVerdict | undefined;
  readonly p99: QuantileVerdict | undefined;
  /** kvfleet's hit rate ÷ the pooled cache's (NaN when the pooled cache hits nothing). */
  readonly ofPooled: number;
  /** kvfleet is best or tied on p90 and p99 and reaches POOLED_SHARE of the pooled hit rate (or n/a). */
  readonly met: boolean;
}

function verdict(run: VirtualRun, q: 'p90' | 'p99'): QuantileVerdict | undefined {
  const kv = run.results.find((r) => r.policy === 'kvfleet');
  const others = run.results.filter((r) => r.policy !== 'kvfleet');
  if (kv === undefined || others.length === 0) return undefined;
  let best = others[0] as DesResult;
  for (const o of others) if (o.ttftMs[q] < best.ttftMs[q]) best = o;
  const a = kv.ttftMs[q];
  const b = best.ttftMs[q];
  const rank: Rank = a < b * (1 - TIE_REL) ? 'best' : a <= b * (1 + TIE_REL) ? 'tie' : 'behind';
  return { kvfleet: a, bestOther: b, bestOtherPolicy: best.policy, rank };
}

export function matrixRow(name: ScenarioName, replicas: number, load: number, run: VirtualRun, pooled: DesResult): MatrixRow {
  const kv = run.results.find((r) => r.policy === 'kvfleet');
  const p90 = verdict(run, 'p90');
  const p99 = verdict(run, 'p99');
  const ofPooled = kv !== undefined && pooled.hitRate > 0 ? kv.hitRate / pooled.hitRate : Number.NaN;
  const met = p90?.rank !== 'behind' && p99?.rank !== 'behind' && (Number.isNaN(ofPooled) || ofPooled >= POOLED_SHARE - 1e-9);
  return { scenario: name, replicas, load, run, pooled, p90, p99, ofPooled, met };
}

export interface MatrixOptions {
  readonly scenarios?: readonly ScenarioName[];
  readonly replicas?: readonly number[];
  readonly loads?: readonly number[];
  readonly requests?: number;
  readonly seed?: number;
  readonly policies: () => PolicyFactory[];
  readonly progress?: (msg: string) => void;
}

export async function runMatrix(o: MatrixOptions): Promise<MatrixRow[]> {
  const rows: MatrixRow[] = [];
  for (const name of o.scenarios ?? MATRIX_SCENARIOS) {
    for (const replicas of o.replicas ?? MATRIX_REPLICAS) {
      for (const load of o.loads ?? MATRIX_LOADS) {
        const s = scenario(name, { replicas, load, requests: o.requests, seed: o.seed });
        const run = await runVirtual(s, o.policies(), o.progress);
        rows.push(matrixRow(name, replicas, load, run, run.pooled));
        o.progress?.(`matrix ${name} ${replicas}@${pct(load)}: ${rows[rows.length - 1]?.met === true ? 'met' : 'NOT met'}`);
      }
    }
  }
  return rows;
}

function rankCell(v: QuantileVerdict | undefined): string {
  if (v === undefined) return '–';
  if (v.rank === 'best') return `best (${fmt(v.kvfleet)} < ${fmt(v.bestOther)})`;
  if (v.rank === 'tie') return `tie (${fmt(v.kvfleet)} = ${v.bestOtherPolicy})`;
  return `**behind** ${fmt(v.kvfleet / v.bestOther, 2)}× ${v.bestOtherPolicy} ${fmt(v.bestOther)}`;
}

export const MATRIX_SUMMARY_HEAD = [
  'scenario',
  'replicas',
  'load',
  'pooled hit',
  'kvfleet hit',
  '% of pooled',
  'kvfleet TTFT p90 / p99 ms',
  'p90 vs best other',
  'p99 vs best other',
  'met',
] as const;

export function matrixSummaryRows(rows: readonly MatrixRow[]): Cell[][] {
  return rows.map((r) => {
    const kv = r.run.results.find((x) => x.policy === 'kvfleet');
    return [
      r.scenario,
      r.replicas,
      pct(r.load),
      pct(r.pooled.hitRate),
      kv !== undefined ? pct(kv.hitRate) : '–',
      Number.isNaN(r.ofPooled) ? 'n/a' : r.ofPooled >= POOLED_SHARE - 1e-9 ? pct(r.ofPooled) : `**${pct(r.ofPooled)}**`,
      kv !== undefined ? `${fmt(kv.ttftMs.p90)} / ${fmt(kv.ttftMs.p99)}` : '–',
      rankCell(r.p90),
      rankCell(r.p99),
      r.met ? 'yes' : '**no**',
    ];
  });
}

/** Per row, every policy: TTFT p90 / p99 ms · hit rate. */
export function matrixDetailHead(rows: readonly MatrixRow[]): string[] {
  const names = rows[0]?.run.results.map((r) => r.policy) ?? [];
  return ['scenario', 'replicas', 'load', ...names, 'pooled'];
}

export function matrixDetailRows(rows: readonly MatrixRow[]): Cell[][] {
  return rows.map((r) => [
    r.scenario,
    r.replicas,
    pct(r.load),
    ...r.run.results.map((x) => `${fmt(x.ttftMs.p90)} / ${fmt(x.ttftMs.p99)} · ${pct(x.hitRate)}`),
    `${fmt(r.pooled.ttftMs.p90)} / ${fmt(r.pooled.ttftMs.p99)} · ${pct(r.pooled.hitRate)}`,
  ]);
}

/** Plain data for the JSON output (no class instances, no per-request samples). */
export function matrixJson(rows: readonly MatrixRow[]): unknown {
  return rows.map((r) => ({
    scenario: r.scenario,
    replicas: r.replicas,
    load: r.load,
    requests: r.run.scenario.requests,
    seed: r.run.scenario.seed,
    rate: r.run.rate,
    idealCeiling: r.run.ceiling,
    pooled: { hitRate: r.pooled.hitRate, ttftMs: r.pooled.ttftMs },
    ofPooled: Number.isNaN(r.ofPooled) ? null : r.ofPooled,
    p90: r.p90,
    p99: r.p99,
    met: r.met,
    results: r.run.results.map((x) => ({
      policy: x.policy,
      hitRate: x.hitRate,
      ttftMs: x.ttftMs,
      e2eMs: x.e2eMs,
      imbalance: x.imbalance,
      rejected: x.rejected,
      wallMs: x.wallMs,
    })),
  }));
}
