// Overhead of being in the path: the same replicas behind Envoy, one Envoy per variant, all
// running side by side for the whole run:
//   plain                        no ext_proc, no gRPC access log, round robin ('plain' bootstrap)
//   kvfleet <mode>               kvfleet behind the shipped config, in each ext_proc body mode
//                                asked for (full-duplex as shipped, buffered)
//   floor <mode>                 floor-processor.ts behind the same config: the same phases
//                                answered with constants, the access log sunk undecoded
//   floor full-duplex +response  the floor with the response headers asked for too (the phase
//                                the shipped config skips): what skipping it saves
// Replicas answer at once (no prefill or decode time, one output token), so what a variant
// adds over plain is Envoy's ext_proc and access-log work plus the processor's. Per prompt
// size × load (serial: one request at a time, closed loop; open: `rate` req/s open loop):
//   warm-up   every variant briefly (connections, JIT), not measured
//   rounds    `rounds` passes over all variants (the order rotates each pass), each variant
//             taking its share of the requests / seconds per pass, so a busy moment of the
//             machine falls on all of them alike
//   latency   p50 / p99 of the end-to-end times the load generator measured (load-gen.ts)
//   CPU       per variant: its processor's and its Envoy's process CPU (/proc) and the load
//             generator's, per 1,000 requests answered 200
//   background  the machine's busy CPU not ours (proc-cpu.ts) during each measured phase, and
//             with the stack idle before the first (the run waits for it to settle); a phase
//             above 10 % is discarded and measured again (at most `busyRetries` times)
// kvfleet's decision time is the mean of its kvfleet_decision_seconds histogram over its phases.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { distOf } from './des.js';
import { BENCH_MODEL_ID, REPO_ROOT, type LocalStack } from './local-stack.js';
import { loadGenerator, type ClientChoice, type ClientTool, type LoadGenerator, type LoadShape } from './load-gen.js';
import { cpuWindow, snapshot, type CpuWindow } from './proc-cpu.js';
import { promSum } from './prom.js';
import type { ExtProcMode } from '../envoy/processing-mode.js';
import { chatBody } from './text.js';
import { createWorkload } from './workload.js';
import { BACKGROUND_WARN_SHARE, loadLabel, type OverheadCell, type OverheadRun, type VariantName, type VariantResult } from './overhead-report.js';

export interface OverheadOptions {
  readonly sizesKb: readonly number[];
  readonly loads: readonly LoadShape[];
  /** ext_proc request-body modes measured (kvfleet, and the floor in each). */
  readonly modes: readonly ExtProcMode[];
  readonly floor: boolean;
  /** Also the floor with the response headers phase (full-duplex only). */
  readonly responsePhase: boolean;
  readonly rounds: number;
  /** A phase whose background CPU exceeded 10 % is measured again, at most this many times. */
  readonly busyRetries: number;
  readonly client: ClientChoice;
  readonly seed: number;
  readonly progress?: (line: string) => void;
}

/** A running variant: its listener and what to read its CPU and decisions from. */
interface Part {
  readonly name: VariantName;
  readonly url: string;
  readonly envoyPid: number | undefined;
  readonly processorPid: number | undefined;
  readonly kvfleetAdmin: string | undefined;
  stop(): Promise<void>;
}

/** What one variant gathered over the rounds of one cell. */
interface Tally {
  latencies: number[];
  ok: number;
  errors: number;
  processorS: number | undefined;
  envoyS: number | undefined;
  clientS: number | undefined;
  decisionSum: number;
  decisionCount: number;
  bgWeighted: number;
  busyWeighted: number;
  wall: number;
  bgMax: number | undefined;
}

const WARM_UP_SERIAL = 100;
const WARM_UP_SECONDS = 1;
/** Pause before measuring a phase again that ran with too much background CPU. */
const BUSY_PAUSE_MS = 5000;

async function startParts(stack: LocalStack, o: OverheadOptions): Promise<Part[]> {
  const parts: Part[] = [];
  try {
    const plain = await stack.startPlain();
    parts.push({ name: 'plain', url: plain.url, envoyPid: plain.envoyPid, processorPid: undefined, kvfleetAdmin: undefined, stop: () => plain.stop() });
    for (const mode of o.modes) {
      const kv = await stack.startRouted('hybrid_score', o.seed, mode);
      parts.push({
        name: `kvfleet ${mode}`,
        url: kv.url,
        envoyPid: kv.envoyPid,
        processorPid: kv.kvfleet.pid,
        kvfleetAdmin: kv.kvfleet.adminUrl,
        stop: () => kv.stop(),
      });
      if (!o.floor) continue;
      const f = await stack.startFloor({ mode });
      parts.push({ name: `floor ${mode}`, url: f.url, envoyPid: f.envoyPid, processorPid: f.pid, kvfleetAdmin: undefined, stop: () => f.stop() });
      if (mode === 'full-duplex' && o.responsePhase) {
        const r = await stack.startFloor({ mode, responsePhase: true });
        parts.push({
          name: 'floor full-duplex +response',
          url: r.url,
          envoyPid: r.envoyPid,
          processorPid: r.pid,
          kvfleetAdmin: undefined,
          stop: () => r.stop(),
        });
      }
    }
    return parts;
  } catch (e) {
    for (const p of parts) await p.stop();
    throw e;
  }
}

/** One request body of `sizeKb` KB of prompt (the replicas' own model id: valid for plain, an alias for kvfleet). */
export function body(sizeKb: number, seed: number): string {
  const tokens = Math.round((sizeKb * 1024) / 4);
  const w = createWorkload({ kind: 'random', promptTokens: tokens, outputTokens: 1 }, { seed, requests: 1, rate: 1 });
  const r = w.next();
  if (r === undefined) throw new Error('overhead: empty workload');
  return JSON.stringify(chatBody(r, BENCH_MODEL_ID, 4, true));
}

/** A load's share for one round. */
function slice(load: LoadShape, rounds: number): LoadShape {
  return load.kind === 'serial' ? { kind: 'serial', requests: Math.max(1, Math.round(load.requests / rounds)) } : { ...load, seconds: load.seconds / rounds };
}

async function decisions(admin: string | undefined): Promise<{ sum: number; count: number }> {
  if (admin === undefined) return { sum: 0, count: 0 };
  const text = await (await fetch(`${admin}/metrics`)).text();
  return { sum: promSum(text, 'kvfleet_decision_seconds_sum'), count: promSum(text, 'kvfleet_decision_seconds_count') };
}

const addCpu = (acc: number | undefined, w: number | undefined): number | undefined => (acc !== undefined && w !== undefined ? acc + w : undefined);

function newTally(): Tally {
  return {
    latencies: [],
    ok: 0,
    errors: 0,
    processorS: 0,
    envoyS: 0,
    clientS: 0,
    decisionSum: 0,
    decisionCount: 0,
    bgWeighted: 0,
    busyWeighted: 0,
    wall: 0,
    bgMax: 0,
  };
}

function record(t: Tally, p: Part, w: CpuWindow): void {
  t.processorS = p.processorPid !== undefined ? addCpu(t.processorS, w.pidSeconds.get(p.processorPid)) : undefined;
  t.envoyS = addCpu(t.envoyS, p.envoyPid !== undefined ? w.pidSeconds.get(p.envoyPid) : undefined);
  t.clientS = addCpu(t.clientS, w.childrenSeconds);
  if (w.backgroundShare !== undefined && w.busyShare !== undefined && t.bgMax !== undefined) {
    t.bgWeighted += w.backgroundShare * w.wallSeconds;
    t.busyWeighted += w.busyShare * w.wallSeconds;
    t.bgMax = Math.max(t.bgMax, w.backgroundShare);
  } else t.bgMax = undefined;
  t.wall += w.wallSeconds;
}

function resultOf(name: VariantName, t: Tally, plain: { p50: number; p99: number } | undefined): VariantResult {
  const d = distOf(Float64Array.from(t.latencies), t.latencies.length);
  const per1000 = (s: number | undefined) => (s !== undefined && t.ok > 0 ? (s * 1000) / t.ok : undefined);
  const known = t.bgMax !== undefined && t.wall > 0;
  return {
    variant: name,
    ok: t.ok,
    errors: t.errors,
    p50: d.p50,
    p99: d.p99,
    addedP50Ms: plain !== undefined ? d.p50 - plain.p50 : undefined,
    addedP99Ms: plain !== undefined ? d.p99 - plain.p99 : undefined,
    processorCpuPer1000: per1000(t.processorS),
    envoyCpuPer1000: per1000(t.envoyS),
    clientCpuPer1000: per1000(t.clientS),
    decisionUsMean: t.decisionCount > 0 ? (t.decisionSum / t.decisionCount) * 1e6 : undefined,
    backgroundShare: known ? t.bgWeighted / t.wall : undefined,
    backgroundMaxShare: known ? t.bgMax : undefined,
    busyShare: known ? t.busyWeighted / t.wall : undefined,
  };
}

async function measureCell(
  stack: LocalStack,
  gen: LoadGenerator,
  parts: readonly Part[],
  bodyFile: string,
  scratch: string,
  sizeKb: number,
  load: LoadShape,
  o: OverheadOptions,
): Promise<OverheadCell> {
  const label = `${sizeKb} KB ${loadLabel(load)}`;
  const say = o.progress ?? (() => undefined);
  const warm: LoadShape = load.kind === 'serial' ? { kind: 'serial', requests: WARM_UP_SERIAL } : { ...load, seconds: WARM_UP_SECONDS };
  for (const p of parts) await gen.run(p.url, bodyFile, warm, scratch);
  const tallies = new Map(parts.map((p) => [p.name, newTally()]));
  const share = slice(load, o.rounds);
  let discarded = 0;
  for (let round = 0; round < o.rounds; round++) {
    // Rotate the order each round: no variant always runs right after another.
    const order = parts.map((_, i) => parts[(i + round) % parts.length] as Part);
    for (const p of order) {
      for (let attempt = 0; ; attempt++) {
        const t = tallies.get(p.name) as Tally;
        const d0 = await decisions(p.kvfleetAdmin);
        const s0 = await snapshot(stack.pids());
        const r = await gen.run(p.url, bodyFile, share, scratch);
        const s1 = await snapshot(stack.pids());
        const d1 = await decisions(p.kvfleetAdmin);
        const w = cpuWindow(s0, s1);
        const bg = w.backgroundShare;
        const busy = bg !== undefined && bg > BACKGROUND_WARN_SHARE;
        const dd = distOf(Float64Array.from(r.latenciesMs), r.latenciesMs.length);
        const line =
          `[${label}] round ${round + 1}/${o.rounds} ${p.name}: ${r.ok} ok, ${r.errors} errors, p50 ${dd.p50.toFixed(2)} ms, p99 ${dd.p99.toFixed(2)} ms, ` +
          `background CPU ${bg !== undefined ? `${(bg * 100).toFixed(1)} %` : '–'}`;
        if (busy && attempt < o.busyRetries) {
          discarded++;
          say(`${line}  <<< WARNING: background CPU above 10 % — phase discarded, measured again in ${BUSY_PAUSE_MS / 1000} s`);
          await new Promise((res) => setTimeout(res, BUSY_PAUSE_MS));
          continue;
        }
        say(`${line}${busy ? '  <<< WARNING: background CPU above 10 % — this phase ran on a busy machine (kept: no retries left)' : ''}`);
        if (r.errors > 0) say(`[${label}] ${p.name}: statuses ${JSON.stringify(r.statuses)}`);
        for (const l of r.latenciesMs) t.latencies.push(l);
        t.ok += r.ok;
        t.errors += r.errors;
        t.decisionSum += d1.sum - d0.sum;
        t.decisionCount += d1.count - d0.count;
        record(t, p, w);
        break;
      }
    }
  }
  const plainResult = resultOf('plain', tallies.get('plain') as Tally, undefined);
  const variants = parts.map((p) => (p.name === 'plain' ? plainResult : resultOf(p.name, tallies.get(p.name) as Tally, plainResult)));
  return { sizeKb, load, variants, discardedPhases: discarded };
}

const SETTLE_SHARE = 0.05;
const SETTLE_MAX_SECONDS = 30;

/**
 * Waits (1 s windows, at most 30 s) until the machine's background CPU is ≤ 5 % with our
 * processes idle: starting the Envoys and Node processes keeps the kernel busy for a few
 * seconds (page faults, memory scanning) on a small VM. Returns the last window's background.
 */
async function settle(stack: LocalStack, say: (l: string) => void): Promise<number | undefined> {
  let bg: number | undefined;
  for (let i = 0; i < SETTLE_MAX_SECONDS; i++) {
    const s0 = await snapshot(stack.pids());
    await new Promise((r) => setTimeout(r, 1000));
    bg = cpuWindow(s0, await snapshot(stack.pids())).backgroundShare;
    if (bg === undefined || bg <= SETTLE_SHARE) return bg;
  }
  say(`background CPU still ${((bg ?? 0) * 100).toFixed(1)} % after ${SETTLE_MAX_SECONDS} s with the stack idle: measuring anyway`);
  return bg;
}

export async function runOverhead(stack: LocalStack, o: OverheadOptions): Promise<OverheadRun> {
  const gen = loadGenerator(o.client, join(REPO_ROOT, 'dist'));
  const tool: ClientTool = gen.tool;
  o.progress?.(`load generator: ${tool} (${gen.path})`);
  const scratch = await mkdtemp(join(tmpdir(), 'kvfleet-overhead-'));
  const parts = await startParts(stack, o);
  const cells: OverheadCell[] = [];
  try {
    const idle = await settle(stack, o.progress ?? (() => undefined));
    o.progress?.(`background CPU with the stack idle: ${idle !== undefined ? `${(idle * 100).toFixed(1)} %` : '–'}`);
    for (const sizeKb of o.sizesKb) {
      const bodyFile = join(scratch, `body-${sizeKb}kb.json`);
      await writeFile(bodyFile, body(sizeKb, o.seed));
      for (const load of o.loads) cells.push(await measureCell(stack, gen, parts, bodyFile, scratch, sizeKb, load, o));
    }
    return { tool, nproc: cpus().length, idleBackgroundShare: idle, cells };
  } finally {
    for (const p of parts) await p.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}
