// Results of `kvfleet bench overhead` and how they are judged and printed (pure: no I/O).
//   targets      issue 12: kvfleet's added latency over plain Envoy ≤ 1.1 × the floor's at
//                p50 and ≤ 1.5 × at p99, its CPU per 1,000 requests ≤ 1.2 × the floor's, each
//                compared in the same ext_proc mode, prompt size and load
//   background   every row carries the machine's background CPU of its phases (busy − ours,
//                proc-cpu.ts); above 10 % of the machine the row is flagged and a warning printed
//   response     the floor with and without the response-headers phase (full duplex)
import type { ExtProcMode } from '../envoy/processing-mode.js';
import type { ClientTool, LoadShape } from './load-gen.js';
import { fmt, markdownTable, textTable, type Cell } from './report.js';

export type VariantName = 'plain' | `kvfleet ${ExtProcMode}` | `floor ${ExtProcMode}` | 'floor full-duplex +response';

export interface VariantResult {
  readonly variant: VariantName;
  readonly ok: number;
  readonly errors: number;
  /** End-to-end ms at the client, requests answered 200. */
  readonly p50: number;
  readonly p99: number;
  /** Over plain at the same size and load (undefined for plain itself). */
  readonly addedP50Ms: number | undefined;
  readonly addedP99Ms: number | undefined;
  /** CPU seconds per 1,000 requests answered 200 (undefined: no processor, or no /proc). */
  readonly processorCpuPer1000: number | undefined;
  readonly envoyCpuPer1000: number | undefined;
  readonly clientCpuPer1000: number | undefined;
  /** kvfleet's own decision time, µs (mean of its histogram over the phases). */
  readonly decisionUsMean: number | undefined;
  /** The machine's CPU not ours during the variant's phases, share of the whole machine (time-weighted mean, and the worst phase). */
  readonly backgroundShare: number | undefined;
  readonly backgroundMaxShare: number | undefined;
  /** The whole machine's busy share during the phases (ours + background). */
  readonly busyShare: number | undefined;
}

export interface OverheadCell {
  readonly sizeKb: number;
  readonly load: LoadShape;
  readonly variants: readonly VariantResult[];
  /** Phases measured again because of background CPU above 10 % (not in the figures). */
  readonly discardedPhases: number;
}

export interface OverheadRun {
  readonly tool: ClientTool;
  readonly nproc: number;
  /** Background CPU with the whole stack idle, before the first phase. */
  readonly idleBackgroundShare: number | undefined;
  readonly cells: readonly OverheadCell[];
}

export const TARGETS = { p50: 1.1, p99: 1.5, cpu: 1.2 } as const;
export const BACKGROUND_WARN_SHARE = 0.1;

export type Verdict = 'PASS' | 'FAIL' | 'n/a';

export function verdict(ratio: number, limit: number): Verdict {
  if (!Number.isFinite(ratio)) return 'n/a';
  return ratio <= limit ? 'PASS' : 'FAIL';
}

/** kvfleet's added ÷ the floor's; NaN when the floor added nothing measurable (≤ 0) or either is unknown. */
export function addedRatio(kvfleet: number | undefined, floor: number | undefined): number {
  if (kvfleet === undefined || floor === undefined || floor <= 0) return Number.NaN;
  return kvfleet / floor;
}

export function cpuRatio(kvfleet: number | undefined, floor: number | undefined): number {
  if (kvfleet === undefined || floor === undefined || floor <= 0) return Number.NaN;
  return kvfleet / floor;
}

export function loadLabel(l: LoadShape): string {
  return l.kind === 'serial' ? 'serial' : `${l.rate} req/s`;
}

export interface Comparison {
  readonly sizeKb: number;
  readonly load: LoadShape;
  readonly mode: ExtProcMode;
  readonly plain: VariantResult;
  readonly kvfleet: VariantResult;
  readonly floor: VariantResult;
  readonly p50Ratio: number;
  readonly p99Ratio: number;
  readonly cpuRatio: number;
  readonly p50Verdict: Verdict;
  readonly p99Verdict: Verdict;
  readonly cpuVerdict: Verdict;
  /** Worst of the three variants' mean background, and the worst single phase. */
  readonly backgroundShare: number | undefined;
  readonly backgroundMaxShare: number | undefined;
}

const worst = (xs: ReadonlyArray<number | undefined>): number | undefined => (xs.some((x) => x === undefined) ? undefined : Math.max(...(xs as number[])));

/** kvfleet vs the floor, per size × load × mode where both (and plain) were measured. */
export function comparisons(run: OverheadRun): Comparison[] {
  const out: Comparison[] = [];
  for (const cell of run.cells) {
    const by = (n: VariantName) => cell.variants.find((v) => v.variant === n);
    const plain = by('plain');
    if (plain === undefined) continue;
    for (const mode of ['full-duplex', 'buffered'] as const) {
      const kvfleet = by(`kvfleet ${mode}`);
      const floor = by(`floor ${mode}`);
      if (kvfleet === undefined || floor === undefined) continue;
      const p50Ratio = addedRatio(kvfleet.addedP50Ms, floor.addedP50Ms);
      const p99Ratio = addedRatio(kvfleet.addedP99Ms, floor.addedP99Ms);
      const cr = cpuRatio(kvfleet.processorCpuPer1000, floor.processorCpuPer1000);
      const three = [plain, kvfleet, floor];
      out.push({
        sizeKb: cell.sizeKb,
        load: cell.load,
        mode,
        plain,
        kvfleet,
        floor,
        p50Ratio,
        p99Ratio,
        cpuRatio: cr,
        p50Verdict: verdict(p50Ratio, TARGETS.p50),
        p99Verdict: verdict(p99Ratio, TARGETS.p99),
        cpuVerdict: verdict(cr, TARGETS.cpu),
        backgroundShare: worst(three.map((v) => v.backgroundShare)),
        backgroundMaxShare: worst(three.map((v) => v.backgroundMaxShare)),
      });
    }
  }
  return out;
}

/** Background CPU as printed: mean / worst phase, flagged above the warning level. */
export function backgroundCell(mean: number | undefined, max: number | undefined): string {
  if (mean === undefined || max === undefined) return '–';
  const flag = max > BACKGROUND_WARN_SHARE ? ' ⚠' : '';
  return `${fmt(mean * 100, 1)} / ${fmt(max * 100, 1)}${flag}`;
}

const ms = (v: number | undefined) => (v === undefined ? '–' : fmt(v, 2));
const cpu = (v: number | undefined) => (v === undefined ? '–' : fmt(v, 3));
const ratioCell = (r: number, v: Verdict) => (Number.isFinite(r) ? `${fmt(r, 2)}× ${v}` : 'n/a');

export const TARGET_HEAD = [
  'prompt',
  'load',
  'ext_proc mode',
  'plain p50 / p99 ms',
  'kvfleet added p50 / p99 ms',
  'floor added p50 / p99 ms',
  `p50 ratio (≤ ${TARGETS.p50})`,
  `p99 ratio (≤ ${TARGETS.p99})`,
  'CPU s / 1000 req kvfleet / floor',
  `CPU ratio (≤ ${TARGETS.cpu})`,
  'background CPU % mean / max',
] as const;

export function targetRows(cs: readonly Comparison[]): Cell[][] {
  return cs.map((c) => [
    `${c.sizeKb} KB`,
    loadLabel(c.load),
    c.mode,
    `${ms(c.plain.p50)} / ${ms(c.plain.p99)}`,
    `${ms(c.kvfleet.addedP50Ms)} / ${ms(c.kvfleet.addedP99Ms)}`,
    `${ms(c.floor.addedP50Ms)} / ${ms(c.floor.addedP99Ms)}`,
    ratioCell(c.p50Ratio, c.p50Verdict),
    ratioCell(c.p99Ratio, c.p99Verdict),
    `${cpu(c.kvfleet.processorCpuPer1000)} / ${cpu(c.floor.processorCpuPer1000)}`,
    ratioCell(c.cpuRatio, c.cpuVerdict),
    backgroundCell(c.backgroundShare, c.backgroundMaxShare),
  ]);
}

export const VARIANT_HEAD = [
  'prompt',
  'load',
  'variant',
  'ok / errors',
  'E2E p50 ms',
  'E2E p99 ms',
  'added p50 ms',
  'added p99 ms',
  'processor CPU s / 1000',
  'Envoy CPU s / 1000',
  'client CPU s / 1000',
  'decision µs mean',
  'machine busy %',
  'background CPU % mean / max',
] as const;

export function variantRows(run: OverheadRun): Cell[][] {
  return run.cells.flatMap((cell) =>
    cell.variants.map((v) => [
      `${cell.sizeKb} KB`,
      loadLabel(cell.load),
      v.variant,
      `${v.ok} / ${v.errors}`,
      ms(v.p50),
      ms(v.p99),
      ms(v.addedP50Ms),
      ms(v.addedP99Ms),
      cpu(v.processorCpuPer1000),
      cpu(v.envoyCpuPer1000),
      cpu(v.clientCpuPer1000),
      v.decisionUsMean !== undefined ? fmt(v.decisionUsMean, 0) : '–',
      v.busyShare !== undefined ? fmt(v.busyShare * 100, 1) : '–',
      backgroundCell(v.backgroundShare, v.backgroundMaxShare),
    ]),
  );
}

export const RESPONSE_HEAD = [
  'prompt',
  'load',
  'floor full-duplex: added p50 ms, response phase skipped / sent',
  'change',
  'E2E p50 ms skipped / sent',
  'change',
  'background CPU % mean / max',
] as const;

const change = (now: number | undefined, before: number | undefined) =>
  now !== undefined && before !== undefined && before > 0 ? `${now >= before ? '+' : '−'}${fmt((Math.abs(now - before) / before) * 100, 0)} %` : '–';

/** The floor without vs with the response-headers phase (cells where both ran). */
export function responseRows(run: OverheadRun): Cell[][] {
  return run.cells.flatMap((cell) => {
    const skip = cell.variants.find((v) => v.variant === 'floor full-duplex');
    const send = cell.variants.find((v) => v.variant === 'floor full-duplex +response');
    if (skip === undefined || send === undefined) return [];
    return [
      [
        `${cell.sizeKb} KB`,
        loadLabel(cell.load),
        `${ms(skip.addedP50Ms)} / ${ms(send.addedP50Ms)}`,
        change(skip.addedP50Ms, send.addedP50Ms),
        `${ms(skip.p50)} / ${ms(send.p50)}`,
        change(skip.p50, send.p50),
        backgroundCell(worst([skip.backgroundShare, send.backgroundShare]), worst([skip.backgroundMaxShare, send.backgroundMaxShare])),
      ],
    ];
  });
}

/** One line per cell whose phases ran with more than 10 % background CPU. */
export function backgroundWarnings(run: OverheadRun): string[] {
  return run.cells.flatMap((cell) => {
    const maxes = cell.variants.map((v) => v.backgroundMaxShare);
    const m = worst(maxes);
    if (m === undefined || m <= BACKGROUND_WARN_SHARE) return [];
    return [
      `WARNING: ${cell.sizeKb} KB ${loadLabel(cell.load)}: background CPU up to ${fmt(m * 100, 1)} % of the machine in a phase — figures from a busy machine`,
    ];
  });
}

/** How many targets passed / failed / could not be judged. */
export function verdictCounts(cs: readonly Comparison[]): Record<Verdict, number> {
  const n: Record<Verdict, number> = { PASS: 0, FAIL: 0, 'n/a': 0 };
  for (const c of cs) for (const v of [c.p50Verdict, c.p99Verdict, c.cpuVerdict]) n[v]++;
  return n;
}

function summary(run: OverheadRun, cs: readonly Comparison[]): string {
  const n = verdictCounts(cs);
  const idle = run.idleBackgroundShare !== undefined ? `${fmt(run.idleBackgroundShare * 100, 1)} %` : '–';
  const discarded = run.cells.reduce((k, c) => k + c.discardedPhases, 0);
  return (
    `Load generator: ${run.tool}. Machine: ${run.nproc} CPUs; background CPU with the stack idle: ${idle}; ` +
    `phases discarded and measured again for background CPU above 10 %: ${discarded}. Targets: ${n.PASS} PASS, ${n.FAIL} FAIL, ${n['n/a']} n/a.`
  );
}

export function overheadText(run: OverheadRun): string {
  const cs = comparisons(run);
  const parts = [summary(run, cs), '', textTable(VARIANT_HEAD, variantRows(run)), '', textTable(TARGET_HEAD, targetRows(cs))];
  const resp = responseRows(run);
  if (resp.length > 0) parts.push('', textTable(RESPONSE_HEAD, resp));
  const warn = backgroundWarnings(run);
  if (warn.length > 0) parts.push('', ...warn);
  return parts.join('\n');
}

/** The markdown of docs/benchmarks.md's overhead section (description first). */
export function overheadMarkdown(run: OverheadRun, description: string): string {
  const cs = comparisons(run);
  const parts = [description, '', summary(run, cs), '', markdownTable(TARGET_HEAD, targetRows(cs)), '', markdownTable(VARIANT_HEAD, variantRows(run))];
  const resp = responseRows(run);
  if (resp.length > 0) parts.push('', markdownTable(RESPONSE_HEAD, resp));
  const warn = backgroundWarnings(run);
  if (warn.length > 0) parts.push('', ...warn.map((w) => `**${w}**`));
  return parts.join('\n');
}
