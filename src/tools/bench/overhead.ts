// Overhead of being in the path: the same replicas behind Envoy
//   (a) plain   no ext_proc, round robin            (envoy-bootstrap.ts 'plain')
//   (b) an ext_proc processor in front of the same pool (envoy-bootstrap.ts 'kvfleet'):
//       kvfleet   once per ext_proc body mode asked for: buffered (as shipped) and full-duplex
//       floor     floor-processor.ts: the same gRPC stack answering constants, deciding nothing
//                 (buffered); what the ext_proc hop costs any Node processor on this machine
// Replicas answer at once (no prefill or decode time, one output token), so the difference is
// what Envoy's ext_proc round trips and the processor add. Per prompt size (4 KB, 64 KB):
//   warm-up   both variants at the comparison rate first (connections, JIT), not measured
//   latency   open-loop at `rate` req/s for `seconds`, (a) then (b) then (a) then (b) halves,
//             added = (b) − (a) at p50 and p99 of the client-measured end-to-end time
//   capacity  ramp of open-loop rates, `stepSeconds` each, (a) and (b) alternating at each
//             rate; the highest rate each variant sustains (see sustainable()); ratio b / a
//   CPU       the processor's process CPU seconds per 1,000 routed requests (answered 200),
//             over the (b) halves only: kvfleet's from its admin /metrics, the floor's from
//             /proc (Linux; '–' elsewhere)
// Everything is measured by one client process on the same machine, so absolute capacity is
// the client's as much as the proxies'; the ratio is the figure to read. Both Envoys run with
// the same flags (--concurrency 1) and the client does the same work for both.
import { distOf } from './des.js';
import { runLive, type LiveResult } from './live.js';
import { BENCH_MODEL_ID, type LocalStack } from './local-stack.js';
import { promSum } from './prom.js';
import type { ExtProcMode } from '../envoy/processing-mode.js';
import { chatBody } from './text.js';
import { readFile } from 'node:fs/promises';
import { createWorkload } from './workload.js';

export interface OverheadOptions {
  readonly sizesKb: readonly number[];
  /** ext_proc request-body modes of kvfleet as variant (b), each measured against (a). */
  readonly modes: readonly ExtProcMode[];
  /** Also measure the floor processor as variant (b). */
  readonly floor: boolean;
  readonly rate: number;
  /** Rate of the latency comparison for prompts of 32 KB and more (the machine may not carry `rate`). */
  readonly rateLarge: number;
  readonly seconds: number;
  readonly rampRates: readonly number[];
  readonly stepSeconds: number;
  readonly seed: number;
  readonly progress?: (line: string) => void;
}

/** Variant (b): kvfleet in one body mode, or the floor processor. */
export type OverheadVariant = `kvfleet ${ExtProcMode}` | 'floor';

export interface OverheadSize {
  readonly sizeKb: number;
  readonly variant: OverheadVariant;
  /** Rate of the latency comparison, req/s. */
  readonly rate: number;
  /** kvfleet's own decision time from x-kvfleet-decision-us, µs (undefined for the floor). */
  readonly decisionUs: { p50: number; p99: number } | undefined;
  readonly plain: { p50: number; p99: number; ok: number; errors: number };
  /** Through Envoy and the processor under test. */
  readonly routed: { p50: number; p99: number; ok: number; errors: number };
  readonly addedP50Ms: number;
  readonly addedP99Ms: number;
  readonly p50Ratio: number;
  readonly p99Ratio: number;
  readonly sustainPlain: number;
  readonly sustainRouted: number;
  readonly sustainRatio: number;
  readonly cpuSecondsPer1000: number | undefined;
  readonly decisions: number;
}

const WARM_UP_SECONDS = 2;

/** A variant (b) under test: its Envoy listener and its process CPU seconds so far. */
interface Processor {
  readonly url: string;
  readonly cpuSeconds: () => Promise<number | undefined>;
  stop(): Promise<void>;
}

async function kvfleetCpu(adminUrl: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  // prom-client's default process metrics under kvfleet's prefix (kvfleet_process_ + process_cpu_…)
  return promSum(text, 'kvfleet_process_cpu_seconds_total') || promSum(text, 'kvfleet_process_process_cpu_seconds_total');
}

/** utime + stime of a process from /proc (Linux), in seconds at the usual 100 ticks/s. */
async function procCpu(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

async function startProcessor(stack: LocalStack, variant: OverheadVariant, seed: number): Promise<Processor> {
  if (variant === 'floor') {
    const f = await stack.startFloor();
    return { url: f.url, cpuSeconds: () => procCpu(f.pid), stop: () => f.stop() };
  }
  const r = await stack.startRouted('hybrid_score', seed, variant === 'kvfleet full-duplex' ? 'full-duplex' : 'buffered');
  return { url: r.url, cpuSeconds: () => kvfleetCpu(r.kvfleet.adminUrl), stop: () => r.stop() };
}

function bodies(sizeKb: number, seed: number, model: string): string[] {
  const tokens = Math.round((sizeKb * 1024) / 4);
  const w = createWorkload({ kind: 'random', promptTokens: tokens, outputTokens: 1 }, { seed, requests: 128, rate: 1 });
  const out: string[] = [];
  for (let r = w.next(); r !== undefined; r = w.next()) out.push(JSON.stringify(chatBody(r, model, 4, true)));
  return out;
}

async function phase(
  url: string,
  sizeKb: number,
  rate: number,
  seconds: number,
  pool: string[],
  seed: number,
  label: string,
  progress?: (l: string) => void,
): Promise<{ result: LiveResult; e2e: number[]; decisionUs: number[] }> {
  const w = createWorkload({ kind: 'random', promptTokens: 1, outputTokens: 1 }, { seed, requests: Math.ceil(rate * seconds) + 1, rate });
  const { result, records } = await runLive(
    {
      target: url,
      metrics: [],
      workload: w,
      mode: { kind: 'open' },
      model: 'bench-model',
      durationMs: seconds * 1000,
      timeoutMs: 10_000,
      body: (r) => pool[r.id % pool.length] as string,
      progress,
    },
    `${label} ${sizeKb}KB @${rate}/s`,
  );
  const ok = records.filter((r) => r.status === 200);
  return { result, e2e: ok.map((r) => r.e2eMs), decisionUs: ok.flatMap((r) => (r.decisionUs !== undefined ? [r.decisionUs] : [])) };
}

/** The variant kept up: the client issued ≥ 80 % of rate × seconds, ≥ 99 % completed OK, p99 < 1 s, done within 1 s of the last arrival. */
function sustainable(r: LiveResult, offered: number, seconds: number): boolean {
  return r.requests >= 0.8 * offered * seconds && r.ok >= 0.99 * r.requests && r.e2eMs.p99 < 1000 && r.wallMs <= seconds * 1000 + 1000;
}

export async function runOverhead(stack: LocalStack, o: OverheadOptions): Promise<OverheadSize[]> {
  const plain = await stack.startPlain();
  const out: OverheadSize[] = [];
  try {
    const variants: OverheadVariant[] = [...o.modes.map((m) => `kvfleet ${m}` as const), ...(o.floor ? (['floor'] as const) : [])];
    for (const v of variants) out.push(...(await runVariant(stack, plain, v, o)));
  } finally {
    await plain.stop();
  }
  return out;
}

async function runVariant(stack: LocalStack, plain: { url: string }, variant: OverheadVariant, o: OverheadOptions): Promise<OverheadSize[]> {
  const routed = await startProcessor(stack, variant, o.seed);
  const out: OverheadSize[] = [];
  try {
    for (const sizeKb of o.sizesKb) {
      // The replicas' own model id: valid for the plain route, an alias (no body rewrite) for kvfleet.
      const poolA = bodies(sizeKb, o.seed, BENCH_MODEL_ID);
      const half = o.seconds / 2;
      const rate = sizeKb >= 32 ? o.rateLarge : o.rate;
      // warm-up at the comparison rate: connections, JIT (kvfleet's HTTP/2 path included)
      await phase(plain.url, sizeKb, rate, WARM_UP_SECONDS, poolA, o.seed + 3, 'warm-up plain');
      await phase(routed.url, sizeKb, rate, WARM_UP_SECONDS, poolA, o.seed + 3, `warm-up ${variant}`);
      let cpu: number | undefined = 0;
      let decisions = 0;
      const routedPhase = async (seed: number) => {
        const c0 = await routed.cpuSeconds();
        const r = await phase(routed.url, sizeKb, rate, half, poolA, seed, variant, o.progress);
        const c1 = await routed.cpuSeconds();
        cpu = cpu !== undefined && c0 !== undefined && c1 !== undefined ? cpu + (c1 - c0) : undefined;
        decisions += r.result.ok;
        return r;
      };
      const a1 = await phase(plain.url, sizeKb, rate, half, poolA, o.seed, 'plain', o.progress);
      const b1 = await routedPhase(o.seed);
      const a2 = await phase(plain.url, sizeKb, rate, half, poolA, o.seed + 1, 'plain', o.progress);
      const b2 = await routedPhase(o.seed + 1);
      const pooled = (x: Awaited<ReturnType<typeof phase>>, y: Awaited<ReturnType<typeof phase>>) => {
        const all = Float64Array.from([...x.e2e, ...y.e2e]);
        const d = distOf(all, all.length);
        return { p50: d.p50, p99: d.p99, ok: x.result.ok + y.result.ok, errors: x.result.errors + y.result.errors };
      };
      const pa = pooled(a1, a2);
      const pb = pooled(b1, b2);
      // Both variants step up together, so a busy moment of the machine hits both alike.
      const ramp = [
        { url: plain.url, label: 'ramp plain', best: 0, going: true },
        { url: routed.url, label: `ramp ${variant}`, best: 0, going: true },
      ];
      for (const step of o.rampRates) {
        for (const v of ramp) {
          if (!v.going) continue;
          const r = await phase(v.url, sizeKb, step, o.stepSeconds, poolA, o.seed + 7, v.label, o.progress);
          if (sustainable(r.result, step, o.stepSeconds)) v.best = step;
          else v.going = false;
        }
        if (ramp.every((v) => !v.going)) break;
      }
      const [sPlain, sKv] = ramp.map((v) => v.best) as [number, number];
      const dus = Float64Array.from([...b1.decisionUs, ...b2.decisionUs]);
      const dd = distOf(dus, dus.length);
      out.push({
        sizeKb,
        variant,
        rate,
        decisionUs: dus.length > 0 ? { p50: dd.p50, p99: dd.p99 } : undefined,
        plain: pa,
        routed: pb,
        addedP50Ms: pb.p50 - pa.p50,
        addedP99Ms: pb.p99 - pa.p99,
        p50Ratio: pb.p50 / pa.p50,
        p99Ratio: pb.p99 / pa.p99,
        sustainPlain: sPlain,
        sustainRouted: sKv,
        sustainRatio: sPlain > 0 ? sKv / sPlain : Number.NaN,
        cpuSecondsPer1000: cpu !== undefined && decisions > 0 ? (cpu * 1000) / decisions : undefined,
        decisions,
      });
    }
  } finally {
    await routed.stop();
  }
  return out;
}
