// `kvfleet bench …`: the benchmark harness shipped with the product.
//   virtual     discrete-event simulation, every policy on the same seeded workload
//   matrix      the issue 14 targets: every scenario × 8/16 replicas × 70/95 % load, every
//               policy, against the pooled cache (one cache of the fleet's whole memory)
//   live        drive a running Envoy (--target) and read the replicas' /metrics
//   live-local  start sims + kvfleet + Envoy on free loopback ports, run live per strategy,
//               and the same setup in virtual time (do the rankings agree?)
//   overhead    Envoy alone vs Envoy + kvfleet vs Envoy + a floor processor: added latency, ratios, CPU, background CPU
//   report      assemble docs/benchmarks.md from the JSON results the other commands wrote
// Progress goes to stderr; tables to stdout; --out DIR receives JSON, markdown and SVG.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { EXT_PROC_MODES, type ExtProcMode } from '../envoy/processing-mode.js';
import { runLive, type LiveResult } from './live.js';
import { startLocalStack } from './local-stack.js';
import type { ClientChoice, LoadShape } from './load-gen.js';
import { runOverhead } from './overhead.js';
import { backgroundWarnings, comparisons, loadLabel, overheadMarkdown, overheadText, type OverheadRun } from './overhead-report.js';
import { barChartSvg, fmt, markdownTable, pct, textTable, type Cell } from './report.js';
import { scenario, SCENARIO_NAMES, simModel, streamOf, type Scenario, type ScenarioName } from './scenarios.js';
import { checkTargets, defaultPolicies, policiesByName, runVirtual, VIRTUAL_HEAD, virtualRows, type VirtualRun } from './virtual.js';
import { createWorkload } from './workload.js';
import {
  MATRIX_LOADS,
  MATRIX_REPLICAS,
  MATRIX_SCENARIOS,
  MATRIX_SUMMARY_HEAD,
  matrixDetailHead,
  matrixDetailRows,
  matrixJson,
  matrixSummaryRows,
  POOLED_SHARE,
  runMatrix,
  TIE_REL,
  type MatrixRow,
} from './matrix.js';

const say = (s: string) => process.stderr.write(`${s}\n`);

function num(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number in [${min}, ${max}]`);
    return n;
  };
}
const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

function extProcModes(v: string): ExtProcMode[] {
  const modes = list(v);
  for (const m of modes)
    if (!(EXT_PROC_MODES as readonly string[]).includes(m)) throw new InvalidArgumentError(`unknown ext_proc mode '${m}' (${EXT_PROC_MODES.join(', ')})`);
  return modes as ExtProcMode[];
}

function scenarioNames(v: string[]): ScenarioName[] {
  for (const n of v)
    if (!(SCENARIO_NAMES as readonly string[]).includes(n)) throw new InvalidArgumentError(`unknown scenario '${n}' (${SCENARIO_NAMES.join(', ')})`);
  return v as ScenarioName[];
}

async function writeOut(dir: string | undefined, name: string, content: string): Promise<void> {
  if (dir === undefined) return;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, name), content);
  say(`wrote ${join(dir, name)}`);
}

export function machine(): { nproc: number; node: string; cpu: string; platform: string } {
  const c = cpus();
  return { nproc: c.length, node: process.version, cpu: c[0]?.model ?? 'unknown', platform: `${process.platform}-${process.arch}` };
}

// ── virtual ──────────────────────────────────────────────────────────────────────────────

function kvOfPooled(run: VirtualRun): string {
  const kv = run.results.find((r) => r.policy === 'kvfleet');
  return kv !== undefined && run.pooled.hitRate > 0 ? pct(kv.hitRate / run.pooled.hitRate) : 'n/a';
}

export function virtualMarkdown(run: VirtualRun): string {
  const s = run.scenario;
  const targets = checkTargets(run);
  const lines = [
    `**${s.name}** — ${s.description}. ${s.requests.toLocaleString('en-US')} requests, open-loop Poisson ${fmt(run.rate)} req/s = ${pct(s.load)} of cold capacity (${fmt(run.coldCapacity)} req/s), seed ${s.seed}. Ideal hit-rate ceiling (infinite shared cache): **${pct(run.ceiling)}**; pooled cache (the fleet as one replica with all its memory and slots): **${pct(run.pooled.hitRate)}**, kvfleet at ${kvOfPooled(run)} of it. Whole run (ceiling, every policy, pooled cache): ${fmt(run.total.wallMs / 1000, 0)} s wall, ${fmt(run.total.cpuMs / 1000, 0)} s CPU.`,
    '',
    markdownTable(VIRTUAL_HEAD, virtualRows(run)),
  ];
  if (targets.length > 0) {
    const head =
      s.name === 'shared-prefix' || s.spec.kind === 'random'
        ? 'target (issue 5)'
        : 'issue 5 target (set for the 8-replica shared-prefix scenario; for reference)';
    lines.push(
      '',
      markdownTable(
        [head, 'measured', 'met'],
        targets.map((t) => [t.target, t.value, t.met ? 'yes' : '**no**']),
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

function virtualChart(run: VirtualRun): string {
  const cats = run.results.map((r) => r.policy);
  return barChartSvg(
    `${run.scenario.name}: TTFT (virtual ms) and hit rate — ${run.scenario.requests.toLocaleString('en-US')} requests, ${run.scenario.model.replicas} replicas`,
    '',
    cats,
    [
      { label: 'TTFT p50 ms', values: run.results.map((r) => r.ttftMs.p50) },
      { label: 'TTFT p90 ms', values: run.results.map((r) => r.ttftMs.p90) },
      { label: 'hit rate %', values: run.results.map((r) => r.hitRate * 100) },
    ],
    'kvfleet',
  );
}

async function cmdVirtual(o: {
  scenario: string[];
  requests?: number;
  replicas?: number;
  load?: number;
  seed: number;
  policies?: string[];
  out?: string;
}): Promise<void> {
  for (const name of scenarioNames(o.scenario)) {
    const s = scenario(name, { requests: o.requests, replicas: o.replicas, load: o.load, seed: o.seed });
    const policies = o.policies !== undefined ? policiesByName(o.policies) : defaultPolicies();
    const run = await runVirtual(s, policies, say);
    process.stdout.write(
      `\n${name}: ${s.description}\nrate ${fmt(run.rate)} req/s, ceiling ${pct(run.ceiling)}, pooled cache ${pct(run.pooled.hitRate)} (kvfleet ${kvOfPooled(run)} of it)\n${textTable(VIRTUAL_HEAD, virtualRows(run))}\n`,
    );
    for (const t of checkTargets(run)) process.stdout.write(`  target ${t.met ? 'MET ' : 'MISS'} ${t.target}: ${t.value}\n`);
    process.stdout.write(
      `  whole run (ceiling, every policy, pooled cache): ${fmt(run.total.wallMs / 1000, 1)} s wall, ${fmt(run.total.cpuMs / 1000, 1)} s CPU\n`,
    );
    await writeOut(
      o.out,
      `virtual-${name}.json`,
      `${JSON.stringify({ machine: machine(), scenario: s, rate: run.rate, coldCapacity: run.coldCapacity, ceiling: run.ceiling, results: run.results, pooled: { ...run.pooled, perReplica: undefined }, total: run.total, targets: checkTargets(run) }, null, 1)}\n`,
    );
    await writeOut(o.out, `virtual-${name}.md`, virtualMarkdown(run));
    await writeOut(o.out, `virtual-${name}.svg`, virtualChart(run));
  }
}

// ── matrix ───────────────────────────────────────────────────────────────────────────────

interface MatrixCli {
  scenarios: string[];
  replicas: string[];
  loads: string[];
  requests?: number;
  seed: number;
  policies?: string[];
  out?: string;
}

function numbers(v: readonly string[], what: string, min: number, max: number): number[] {
  return v.map((x) => {
    const n = Number(x);
    if (x.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`${what}: expected numbers in [${min}, ${max}], got '${x}'`);
    return n;
  });
}

export function matrixMarkdown(rows: readonly MatrixRow[], wallS: number): string {
  const met = rows.filter((r) => r.met).length;
  const first = rows[0]?.run.scenario;
  const lines = [
    `**matrix** — every scenario × replicas × load, every policy on the same seeded stream (seed ${first?.seed ?? '–'}; requests per run: each scenario's default unless given). ` +
      `**pooled** = the fleet as one replica: one LRU prefix cache holding all the replicas' blocks and all their slots, same workload and rules — the hit rate a single cache of the same total memory reaches. ` +
      `A row is met when kvfleet's default has the best TTFT p90 and p99 of all policies (equal within ${TIE_REL * 100} % counts as a tie: the simulated TTFT takes discrete values) and ${pct(POOLED_SHARE)} of the pooled hit rate (n/a when the pooled cache hits nothing). ` +
      `**${met} of ${rows.length} rows met.** Wall time of the whole matrix: ${fmt(wallS, 0)} s on this machine (2 CPUs shared with other work: wall times are noisy, figures are not).`,
    '',
    markdownTable(MATRIX_SUMMARY_HEAD, matrixSummaryRows(rows)),
    '',
    'Every policy, TTFT p90 / p99 ms · hit rate:',
    '',
    markdownTable(matrixDetailHead(rows), matrixDetailRows(rows)),
  ];
  return `${lines.join('\n')}\n`;
}

async function cmdMatrix(o: MatrixCli): Promise<void> {
  const started = performance.now();
  const rows = await runMatrix({
    scenarios: scenarioNames(o.scenarios),
    replicas: numbers(o.replicas, '--replicas', 1, 100_000),
    loads: numbers(o.loads, '--loads', 0.01, 10),
    requests: o.requests,
    seed: o.seed,
    policies: () => (o.policies !== undefined ? policiesByName(o.policies) : defaultPolicies()),
    progress: say,
  });
  const wallS = (performance.now() - started) / 1000;
  process.stdout.write(`\n${textTable(MATRIX_SUMMARY_HEAD, matrixSummaryRows(rows))}\n\n${textTable(matrixDetailHead(rows), matrixDetailRows(rows))}\n`);
  const missed = rows.filter((r) => !r.met);
  process.stdout.write(`\n${rows.length - missed.length} of ${rows.length} rows met; wall ${fmt(wallS, 0)} s\n`);
  for (const r of missed) process.stdout.write(`  NOT MET ${r.scenario} ${r.replicas} replicas @ ${pct(r.load)}\n`);
  await writeOut(o.out, 'matrix.json', `${JSON.stringify({ machine: machine(), options: o, wallS, rows: matrixJson(rows) }, null, 1)}\n`);
  await writeOut(o.out, 'matrix.md', matrixMarkdown(rows, wallS));
}

// ── live ─────────────────────────────────────────────────────────────────────────────────

export const LIVE_HEAD = [
  'run',
  'requests',
  'ok',
  'errors',
  'TTFT p50 ms',
  'TTFT p90 ms',
  'TTFT p99 ms',
  'E2E p50 ms',
  'E2E p99 ms',
  'req/s',
  'hit rate',
  'max/mean in-flight',
] as const;

export function liveRow(r: LiveResult): Cell[] {
  return [
    r.label,
    r.requests,
    r.ok,
    r.errors,
    fmt(r.ttftMs.p50),
    fmt(r.ttftMs.p90),
    fmt(r.ttftMs.p99),
    fmt(r.e2eMs.p50),
    fmt(r.e2eMs.p99),
    fmt(r.throughput),
    r.hitRate !== undefined ? pct(r.hitRate) : '–',
    r.imbalance !== undefined ? fmt(r.imbalance, 2) : '–',
  ];
}

function liveChart(title: string, rs: readonly LiveResult[]): string {
  return barChartSvg(
    title,
    '',
    rs.map((r) => r.label),
    [
      { label: 'TTFT p50 ms', values: rs.map((r) => r.ttftMs.p50) },
      { label: 'TTFT p90 ms', values: rs.map((r) => r.ttftMs.p90) },
      { label: 'hit rate %', values: rs.map((r) => (r.hitRate ?? Number.NaN) * 100) },
    ],
  );
}

interface LiveCli {
  target: string;
  metrics: string[];
  scenario: string;
  requests: number;
  duration: number;
  rate?: number;
  concurrency?: number;
  model: string;
  seed: number;
  timeout: number;
  strategy?: string;
  out?: string;
}

async function cmdLive(o: LiveCli): Promise<void> {
  const [name] = scenarioNames([o.scenario]);
  const s = scenario(name as ScenarioName, { requests: o.requests, seed: o.seed });
  const stream = { ...streamOf(s), rate: o.rate ?? 20 };
  const u = new URL(o.target);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) say(`note: ${o.target} is not loopback; make sure you may load it`);
  const { result, records } = await runLive(
    {
      target: o.target.replace(/\/$/, ''),
      metrics: o.metrics,
      workload: createWorkload(s.spec, stream),
      mode: o.concurrency !== undefined ? { kind: 'closed', concurrency: o.concurrency } : { kind: 'open' },
      model: o.model,
      durationMs: o.duration * 1000,
      timeoutMs: o.timeout * 1000,
      headers: o.strategy !== undefined ? { 'x-kvfleet-strategy': o.strategy } : undefined,
      progress: say,
    },
    o.strategy ?? 'live',
  );
  process.stdout.write(`${textTable(LIVE_HEAD, [liveRow(result)])}\nstatuses: ${JSON.stringify(result.statuses)}\n`);
  for (const p of result.perReplica) process.stdout.write(`  ${p.url}: ${p.requests} requests, mean in-flight ${fmt(p.meanInflight, 2)}\n`);
  await writeOut(o.out, 'live.json', `${JSON.stringify({ machine: machine(), options: o, result, records }, null, 1)}\n`);
  await writeOut(o.out, 'live.md', `${markdownTable(LIVE_HEAD, [liveRow(result)])}\n`);
  await writeOut(o.out, 'live.svg', liveChart(`live: ${o.target}`, [result]));
}

// ── live-local ───────────────────────────────────────────────────────────────────────────

interface LiveLocalCli {
  strategies: string[];
  replicas: number;
  requests: number;
  duration: number;
  timeScale: number;
  load: number;
  seed: number;
  out?: string;
  virtual: boolean;
}

/**
 * Do two runs rank the same labels the same way? Pairs whose values differ by more than `tol`
 * in BOTH runs must be ordered alike; closer pairs count as ties. Lower is better.
 */
export function rankAgreement(
  live: ReadonlyMap<string, number>,
  virt: ReadonlyMap<string, number>,
  tol: (a: number, b: number) => number,
): { concordant: number; discordant: number; ties: number } {
  const labels = [...live.keys()].filter((l) => virt.has(l));
  let concordant = 0;
  let discordant = 0;
  let ties = 0;
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) {
      const [a, b] = [labels[i] as string, labels[j] as string];
      const dl = (live.get(a) as number) - (live.get(b) as number);
      const dv = (virt.get(a) as number) - (virt.get(b) as number);
      if (Math.abs(dl) <= tol(live.get(a) as number, live.get(b) as number) || Math.abs(dv) <= tol(virt.get(a) as number, virt.get(b) as number)) ties++;
      else if (Math.sign(dl) === Math.sign(dv)) concordant++;
      else discordant++;
    }
  }
  return { concordant, discordant, ties };
}

function order(m: ReadonlyMap<string, number>): string {
  return [...m.entries()]
    .sort((x, y) => x[1] - y[1])
    .map(([k]) => k)
    .join(' ≤ ');
}

export async function runLiveLocal(o: LiveLocalCli): Promise<{ live: LiveResult[]; virtual: VirtualRun | undefined; markdown: string; scenario: Scenario }> {
  const base = scenario('shared-prefix', { requests: o.requests, replicas: o.replicas, load: o.load, seed: o.seed });
  const k = o.timeScale;
  const model = simModel({ ...base.model, prefillUsPerToken: base.model.prefillUsPerToken * k, decodeMsPerToken: base.model.decodeMsPerToken * k });
  const s: Scenario = {
    ...base,
    model,
    description: `${base.description}; replica timing ×${k} (prefill ${model.prefillUsPerToken} µs/token, decode ${model.decodeMsPerToken} ms/token)`,
  };
  const stream = streamOf(s);
  say(`live-local: ${s.model.replicas} replicas, ${stream.rate.toFixed(1)} req/s, ≤ ${o.requests} requests / ${o.duration} s per strategy`);
  const stack = await startLocalStack({
    replicas: model.replicas,
    blockTokens: model.blockTokens,
    charsPerToken: model.charsPerToken,
    cacheBlocks: model.cacheBlocks,
    prefillUsPerToken: model.prefillUsPerToken,
    decodeMsPerToken: model.decodeMsPerToken,
    maxConcurrency: model.maxConcurrency,
    maxWaiting: model.maxWaiting,
    defaultMaxTokens: 16,
  });
  const live: LiveResult[] = [];
  try {
    for (const strategy of o.strategies) {
      stack.resetReplicas();
      const routed = await stack.startRouted(strategy, o.seed);
      try {
        const { result } = await runLive(
          {
            target: routed.url,
            metrics: stack.metricsUrls,
            workload: createWorkload(s.spec, stream),
            mode: { kind: 'open' },
            model: 'bench-model',
            durationMs: o.duration * 1000,
            timeoutMs: 60_000,
            progress: say,
          },
          strategy === 'hybrid_score' ? 'kvfleet' : `kvfleet:${strategy}`,
        );
        live.push(result);
      } finally {
        await routed.stop();
      }
    }
  } finally {
    await stack.close();
  }
  let virtual: VirtualRun | undefined;
  if (o.virtual) {
    const issued = Math.max(...live.map((r) => r.requests));
    const vs: Scenario = { ...s, requests: issued };
    virtual = await runVirtual(vs, policiesByName(o.strategies.map((x) => (x === 'hybrid_score' ? 'kvfleet' : `kvfleet:${x}`))), say);
  }
  const md: string[] = [
    `**live-local** — ${s.description}. Open-loop ${fmt(stream.rate)} req/s (${pct(s.load)} of cold capacity), at most ${o.requests} requests or ${o.duration} s per strategy; sims in the bench process, kvfleet and Envoy as child processes, all on loopback. Strategies are kvfleet's own, set per run in the fleet file (kvfleet restarted and replica caches reset between runs).`,
    '',
    markdownTable(LIVE_HEAD, live.map(liveRow)),
  ];
  if (virtual !== undefined) {
    md.push('', `Same setup in virtual time (${virtual.scenario.requests} requests):`, '', markdownTable(VIRTUAL_HEAD, virtualRows(virtual)));
    const lh = new Map(live.map((r) => [r.label, -(r.hitRate ?? 0)]));
    const vh = new Map(virtual.results.map((r) => [r.policy, -r.hitRate]));
    const lt = new Map(live.map((r) => [r.label, r.ttftMs.p50]));
    const vt = new Map(virtual.results.map((r) => [r.policy, r.ttftMs.p50]));
    const hit = rankAgreement(lh, vh, () => 0.02);
    const ttft = rankAgreement(lt, vt, (a, b) => 0.1 * Math.max(Math.abs(a), Math.abs(b)));
    const cell = (x: { concordant: number; discordant: number; ties: number }) =>
      `${x.discordant === 0 ? 'yes' : '**no**'} (${x.concordant} pairs concordant, ${x.discordant} discordant, ${x.ties} within tolerance)`;
    md.push(
      '',
      markdownTable(
        ['ranking (best first)', 'live', 'virtual', 'agree'],
        [
          ['hit rate (ties: within 2 points)', order(lh).replaceAll('≤', '≥'), order(vh).replaceAll('≤', '≥'), cell(hit)],
          ['TTFT p50 (ties: within 10 %)', order(lt), order(vt), cell(ttft)],
        ],
      ),
    );
  }
  return { live, virtual, markdown: `${md.join('\n')}\n`, scenario: s };
}

async function cmdLiveLocal(o: LiveLocalCli): Promise<void> {
  const r = await runLiveLocal(o);
  process.stdout.write(`${textTable(LIVE_HEAD, r.live.map(liveRow))}\n`);
  if (r.virtual !== undefined) process.stdout.write(`virtual:\n${textTable(VIRTUAL_HEAD, virtualRows(r.virtual))}\n`);
  await writeOut(
    o.out,
    'live-local.json',
    `${JSON.stringify({ machine: machine(), options: o, scenario: r.scenario, live: r.live, virtual: r.virtual?.results }, null, 1)}\n`,
  );
  await writeOut(o.out, 'live-local.md', r.markdown);
  await writeOut(o.out, 'live-local.svg', liveChart(`live-local: shared-prefix through Envoy + kvfleet (${r.scenario.model.replicas} sim replicas)`, r.live));
}

// ── overhead ─────────────────────────────────────────────────────────────────────────────

interface OverheadCli {
  sizes: string[];
  loads: string[];
  serial: number;
  rate: number;
  seconds: number;
  rounds: number;
  busyRetries: number;
  modes: ExtProcMode[];
  floor: boolean;
  responsePhase: boolean;
  client: ClientChoice;
  replicas: number;
  seed: number;
  out?: string;
}

function loadShapes(o: OverheadCli): LoadShape[] {
  return o.loads.map((l) => {
    if (l === 'serial') return { kind: 'serial', requests: o.serial };
    if (l === 'open') return { kind: 'open', rate: o.rate, seconds: o.seconds };
    throw new InvalidArgumentError(`unknown load '${l}' (serial, open)`);
  });
}

function clientChoice(v: string): ClientChoice {
  if (v !== 'auto' && v !== 'h2load' && v !== 'node') throw new InvalidArgumentError(`unknown client '${v}' (auto, h2load, node)`);
  return v;
}

function overheadDescription(o: OverheadCli, run: OverheadRun): string {
  const loads = loadShapes(o)
    .map((l) =>
      l.kind === 'serial' ? `serial (one request at a time, ${l.requests} per variant)` : `open loop at ${l.rate} req/s (${l.seconds} s per variant)`,
    )
    .join(' and ');
  return (
    `**overhead** — the same ${o.replicas} sim replicas (answering at once, 1 output token) behind one Envoy per variant, all running side by side: *plain* (no ext_proc, no gRPC access log), *kvfleet* behind the shipped envoy.yaml in each ext_proc body mode (${o.modes.join(', ')}; src/tools/envoy/processing-mode.ts)` +
    (o.floor
      ? `, and the *floor* (src/tools/bench/floor-processor.ts) behind the same config in the same modes: kvfleet's gRPC stack answering the same phases with constants (full duplex: the headers answer with the cluster header, clear_route_cache and constant kvfleet metadata, then the body streamed back) and sinking the access log undecoded${o.responsePhase ? '; *floor full-duplex +response* also gets the response headers (the phase the shipped config skips)' : ''}`
      : '') +
    `. Loads: ${loads}, in ${o.rounds} rounds over all variants (order rotated each round) after a short warm-up of each; a phase that ran with more than 10 % background CPU is discarded and measured again (at most ${o.busyRetries} times); load generator: ${run.tool}${run.tool === 'h2load' ? ' (nghttp2, HTTP/1.1, one body file; open loop = ⌈rate/20⌉ h2load processes of one connection each at rate/processes req/s, started 1/rate s apart)' : ' (Node child process, node:http keep-alive)'}. ` +
    `Added = variant − plain at the same size and load; ratio = kvfleet's added ÷ the floor's in the same mode (n/a when the floor added ≤ 0). CPU s / 1000 req = the process's CPU (/proc) over its phases ÷ requests answered 200 (kvfleet's includes its engine-metrics scraping). Background CPU = the machine's busy CPU (/proc/stat, all CPUs) minus our processes' (Envoys, processors, replicas + harness, load generator), as % of the whole machine: time-weighted mean over the variant's phases / worst phase; ⚠ above 10 %. Everything shares one machine with ${run.nproc} CPUs.`
  );
}

async function cmdOverhead(o: OverheadCli): Promise<void> {
  const loads = loadShapes(o);
  const stack = await startLocalStack({
    replicas: o.replicas,
    prefillUsPerToken: 0,
    decodeMsPerToken: 0,
    defaultMaxTokens: 1,
    maxConcurrency: 4096,
    maxWaiting: 100000,
  });
  let run: OverheadRun;
  try {
    run = await runOverhead(stack, {
      sizesKb: o.sizes.map(Number),
      loads,
      modes: o.modes,
      floor: o.floor,
      responsePhase: o.responsePhase,
      rounds: o.rounds,
      busyRetries: o.busyRetries,
      client: o.client,
      seed: o.seed,
      progress: say,
    });
  } finally {
    await stack.close();
  }
  process.stdout.write(`${overheadText(run)}\n`);
  for (const w of backgroundWarnings(run)) say(w);
  const md = overheadMarkdown(run, overheadDescription(o, run));
  await writeOut(o.out, 'overhead.json', `${JSON.stringify({ machine: machine(), options: o, run, comparisons: comparisons(run) }, null, 1)}\n`);
  await writeOut(o.out, 'overhead.md', `${md}\n`);
  const shown = run.cells.flatMap((c) => c.variants.filter((v) => v.variant !== 'plain').map((v) => ({ c, v })));
  await writeOut(
    o.out,
    'overhead.svg',
    barChartSvg(
      'Added end-to-end latency over plain Envoy, ms',
      ' ms',
      shown.map(({ c, v }) => `${c.sizeKb} KB ${loadLabel(c.load)} ${v.variant}`),
      [
        { label: 'added p50', values: shown.map(({ v }) => v.addedP50Ms ?? Number.NaN) },
        { label: 'added p99', values: shown.map(({ v }) => v.addedP99Ms ?? Number.NaN) },
      ],
    ),
  );
}

// ── report ───────────────────────────────────────────────────────────────────────────────

async function cmdReport(o: { results: string; write: string; commands: string }): Promise<void> {
  const read = async (f: string) => readFile(join(o.results, f), 'utf8').catch(() => undefined);
  const m = machine();
  const parts: string[] = [
    '# Benchmarks',
    '',
    '<!-- Generated by `kvfleet bench report`; every figure below comes from the JSON results of the runs listed. Do not edit by hand. -->',
    '',
    `Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpu}, Node ${m.node}, ${m.platform}. Generated ${new Date().toISOString().slice(0, 10)}.`,
    '',
  ];
  const cmds = await readFile(o.commands, 'utf8').catch(() => undefined);
  if (cmds !== undefined) parts.push(cmds.trim(), '');
  const sections: Array<[string, string, string]> = [
    ['Virtual time: shared prefix (issue 5 target scenario)', 'virtual-shared-prefix', 'virtual-shared-prefix.svg'],
    ['Virtual time: multi-turn conversations', 'virtual-multi-turn', 'virtual-multi-turn.svg'],
    ['Virtual time: no sharing', 'virtual-no-sharing', 'virtual-no-sharing.svg'],
    ['Virtual time at scale: 1,000 replicas × 1,000,000 requests', 'virtual-scale', 'virtual-scale.svg'],
    ['Virtual time: the issue 14 matrix (every scenario × 8/16 replicas × 70/95 % load)', 'matrix', ''],
    ['Virtual time at scale: adversarial traffic on 1,000 replicas', 'virtual-adversarial-scale', 'virtual-adversarial-scale.svg'],
    ['Live through Envoy (live-local)', 'live-local', 'live-local.svg'],
    ['Overhead of the ext_proc hop', 'overhead', 'overhead.svg'],
  ];
  for (const [title, base, svg] of sections) {
    const md = await read(`${base}.md`);
    if (md === undefined) continue;
    parts.push(`## ${title}`, '', md.trim(), '');
    if (svg !== '') parts.push(`![${title}](charts/${svg})`, '');
  }
  const notes = await readFile(join(o.results, 'notes.md'), 'utf8').catch(() => undefined);
  if (notes !== undefined) parts.push(notes.trim(), '');
  await writeFile(o.write, `${parts.join('\n')}\n`);
  say(`wrote ${o.write}`);
}

export function registerBenchCommand(program: Command): void {
  const bench = program.command('bench').description('benchmarks: virtual-time simulation, live runs through Envoy, ext_proc overhead');

  bench
    .command('virtual')
    .description('discrete-event simulation: every baseline and kvfleet on the same seeded workload (no sockets)')
    .option('--scenario <list>', `scenarios (${SCENARIO_NAMES.join(', ')})`, list, ['shared-prefix', 'multi-turn', 'no-sharing'])
    .option('--requests <n>', 'requests per run', num(1, 100_000_000))
    .option('--replicas <n>', 'replicas', num(1, 100_000))
    .option('--load <x>', 'offered load as a share of cold capacity', num(0.01, 10))
    .option('--seed <n>', 'seed', num(0, 2 ** 31), 1)
    .option('--policies <list>', 'policies (round_robin, random, least_loaded, chwbl, sglang_cache_aware, kvfleet, kvfleet:<strategy>)', list)
    .option('--out <dir>', 'write JSON, markdown and SVG here')
    .action((o: Parameters<typeof cmdVirtual>[0]) => cmdVirtual(o));

  bench
    .command('matrix')
    .description("issue 14 targets: every scenario × replicas × load, every policy, against the pooled cache (one cache of the fleet's whole memory)")
    .option('--scenarios <list>', `scenarios (${SCENARIO_NAMES.join(', ')})`, list, [...MATRIX_SCENARIOS])
    .option('--replicas <list>', 'replica counts', list, MATRIX_REPLICAS.map(String))
    .option('--loads <list>', 'offered loads (share of cold capacity)', list, MATRIX_LOADS.map(String))
    .option('--requests <n>', "requests per run (default: each scenario's)", num(1, 100_000_000))
    .option('--seed <n>', 'seed', num(0, 2 ** 31), 1)
    .option('--policies <list>', 'policies (default: every baseline and kvfleet)', list)
    .option('--out <dir>', 'write matrix.json and matrix.md here')
    .action((o: MatrixCli) => cmdMatrix(o));

  bench
    .command('live')
    .description("drive a running Envoy with a workload; read the replicas' /metrics")
    .requiredOption('--target <url>', 'Envoy listener, e.g. http://127.0.0.1:10000')
    .option('--metrics <urls>', 'comma list of replica /metrics URLs', list, [])
    .option('--scenario <name>', 'workload (shared-prefix, multi-turn, no-sharing)', 'shared-prefix')
    .option('--requests <n>', 'at most this many requests', num(1, 1_000_000), 200)
    .option('--duration <s>', 'stop issuing after this many seconds', num(1, 3600), 30)
    .option('--rate <r>', 'open-loop requests/s', num(0.01, 100_000))
    .option('--concurrency <c>', 'closed loop with this many clients instead of open loop', num(1, 10_000))
    .option('--model <name>', 'model field of the requests', 'auto')
    .option('--strategy <name>', 'send x-kvfleet-strategy')
    .option('--timeout <s>', 'per-request timeout', num(1, 3600), 60)
    .option('--seed <n>', 'seed', num(0, 2 ** 31), 1)
    .option('--out <dir>', 'write JSON, markdown and SVG here')
    .action((o: LiveCli) => cmdLive(o));

  bench
    .command('live-local')
    .description('start sims + kvfleet + Envoy on free loopback ports and run the shared-prefix workload live, per strategy')
    .option('--strategies <list>', 'kvfleet strategies to compare', list, ['round_robin', 'least_loaded', 'prefix_affinity', 'hybrid_score'])
    .option('--replicas <n>', 'simulated replicas', num(1, 64), 8)
    .option('--requests <n>', 'at most this many requests per strategy', num(1, 100_000), 1500)
    .option('--duration <s>', 'at most this many seconds per strategy', num(1, 600), 40)
    .option('--time-scale <k>', 'replica prefill/decode times × k (and the rate ÷ k) so the machine keeps up', num(1, 1000), 10)
    .option('--load <x>', 'offered load as a share of cold capacity', num(0.01, 10), 0.7)
    .option('--seed <n>', 'seed', num(0, 2 ** 31), 1)
    .option('--no-virtual', 'skip the virtual-time run of the same setup')
    .option('--out <dir>', 'write JSON, markdown and SVG here')
    .action((o: LiveLocalCli) => cmdLiveLocal(o));

  bench
    .command('overhead')
    .description(
      'Envoy alone vs Envoy + kvfleet vs Envoy + a floor processor answering the same phases with constants (each ext_proc mode), serial and open loop: added latency, ratios to the floor, CPU per request, background CPU',
    )
    .option('--sizes <list>', 'prompt sizes in KB', list, ['4', '64'])
    .option('--loads <list>', 'serial (one request at a time) and/or open (open loop at --rate)', list, ['serial', 'open'])
    .option('--serial <n>', 'requests per variant of the serial load', num(1, 1_000_000), 2000)
    .option('--rate <r>', 'rate of the open load, req/s', num(1, 100_000), 200)
    .option('--seconds <s>', 'seconds per variant of the open load', num(1, 600), 20)
    .option('--rounds <n>', 'passes over all variants (each takes its share of the requests / seconds per pass)', num(1, 100), 4)
    .option('--busy-retries <n>', 'measure a phase again when background CPU exceeded 10 % of the machine, at most this many times', num(0, 100), 2)
    .option('--modes <list>', `ext_proc request-body modes of kvfleet and the floor (${EXT_PROC_MODES.join(', ')})`, extProcModes, ['full-duplex', 'buffered'])
    .option('--no-floor', 'skip the floor processor')
    .option('--no-response-phase', 'skip the floor with the response-headers phase (full-duplex)')
    .option('--client <tool>', 'load generator: auto (h2load when on PATH, else node), h2load, node', clientChoice, 'auto')
    .option('--replicas <n>', 'simulated replicas', num(1, 64), 4)
    .option('--seed <n>', 'seed', num(0, 2 ** 31), 1)
    .option('--out <dir>', 'write JSON, markdown and SVG here')
    .action((o: OverheadCli) => cmdOverhead(o));

  bench
    .command('report')
    .description('assemble the markdown results page from the outputs of the other commands')
    .option('--results <dir>', 'directory the runs wrote to', 'docs/charts')
    .option('--commands <file>', 'markdown with the exact commands (inserted verbatim)', 'docs/charts/commands.md')
    .option('--write <file>', 'page to write', 'docs/benchmarks.md')
    .action((o: Parameters<typeof cmdReport>[0]) => cmdReport(o));
}
