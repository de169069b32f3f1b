// Overhead of being in the path: the same replicas behind Envoy
//   (a) plain   no ext_proc, round robin            (envoy-bootstrap.ts 'plain')
//   (b) kvfleet ext_proc → kvfleet, override_host   (envoy-bootstrap.ts 'kvfleet')
// Replicas answer at once (no prefill or decode time, one output token), so the difference is
// what Envoy's ext_proc round trip and kvfleet's decision add. Per prompt size (4 KB, 64 KB):
//   latency   open-loop at `rate` req/s for `seconds`, (a) then (b) then (a) then (b) halves,
//             added = (b) − (a) at p50 and p99 of the client-measured end-to-end time
//   capacity  ramp of open-loop rates, `stepSeconds` each; the highest rate each variant
//             sustains (≥ 95 % of offered completed OK, < 1 % errors, p99 < 1 s); ratio b / a
//   CPU       kvfleet's process CPU seconds (its admin /metrics) per 1,000 decisions during (b)
// Everything is measured by one client process on the same machine, so absolute capacity is
// the client's as much as the proxies'; the ratio is the figure to read.
import { distOf } from './des.js';
import { runLive, type LiveResult } from './live.js';
import type { LocalStack } from './local-stack.js';
import { promSum } from './prom.js';
import { chatBody } from './text.js';
import { createWorkload } from './workload.js';

export interface OverheadOptions {
  readonly sizesKb: readonly number[];
  readonly rate: number;
  readonly seconds: number;
  readonly rampRates: readonly number[];
  readonly stepSeconds: number;
  readonly seed: number;
  readonly progress?: (line: string) => void;
}

export interface OverheadSize {
  readonly sizeKb: number;
  readonly plain: { p50: number; p99: number; ok: number; errors: number };
  readonly kvfleet: { p50: number; p99: number; ok: number; errors: number };
  readonly addedP50Ms: number;
  readonly addedP99Ms: number;
  readonly p50Ratio: number;
  readonly p99Ratio: number;
  readonly sustainPlain: number;
  readonly sustainKvfleet: number;
  readonly sustainRatio: number;
  readonly cpuSecondsPer1000: number | undefined;
  readonly decisions: number;
}

async function kvCounters(adminUrl: string): Promise<{ cpu: number; decisions: number }> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return { cpu: promSum(text, 'kvfleet_process_cpu_seconds_total'), decisions: promSum(text, 'kvfleet_decisions_total') };
}

function bodies(sizeKb: number, seed: number, model: string): string[] {
  const tokens = Math.round((sizeKb * 1024) / 4);
  const w = createWorkload({ kind: 'random', promptTokens: tokens, outputTokens: 1 }, { seed, requests: 128, rate: 1 });
  const out: string[] = [];
  for (let r = w.next(); r !== undefined; r = w.next()) out.push(JSON.stringify(chatBody(r, model, 4, true)));
  return out;
}

async function phase(url: string, sizeKb: number, rate: number, seconds: number, pool: string[], seed: number, label: string, progress?: (l: string) => void): Promise<{ result: LiveResult; e2e: number[] }> {
  const w = createWorkload({ kind: 'random', promptTokens: 1, outputTokens: 1 }, { seed, requests: Math.ceil(rate * seconds) + 1, rate });
  const { result, records } = await runLive(
    { target: url, metrics: [], workload: w, mode: { kind: 'open' }, model: 'bench-model', durationMs: seconds * 1000, timeoutMs: 10_000, body: (r) => pool[r.id % pool.length] as string, progress },
    `${label} ${sizeKb}KB @${rate}/s`,
  );
  return { result, e2e: records.filter((r) => r.status === 200).map((r) => r.e2eMs) };
}

function sustainable(r: LiveResult, offered: number, seconds: number): boolean {
  const expected = offered * seconds;
  return r.ok >= 0.95 * expected && r.errors <= 0.01 * Math.max(1, r.requests) && r.e2eMs.p99 < 1000;
}

export async function runOverhead(stack: LocalStack, o: OverheadOptions): Promise<OverheadSize[]> {
  const plain = await stack.startPlain();
  const routed = await stack.startRouted('hybrid_score', o.seed);
  const out: OverheadSize[] = [];
  try {
    for (const sizeKb of o.sizesKb) {
      const poolA = bodies(sizeKb, o.seed, 'bench-model');
      // warm-up: connections, JIT
      await phase(plain.url, sizeKb, 50, 1, poolA, o.seed, 'warm-up plain');
      await phase(routed.url, sizeKb, 50, 1, poolA, o.seed, 'warm-up kvfleet');
      const half = o.seconds / 2;
      const a1 = await phase(plain.url, sizeKb, o.rate, half, poolA, o.seed, 'plain', o.progress);
      const c0 = await kvCounters(routed.kvfleet.adminUrl);
      const b1 = await phase(routed.url, sizeKb, o.rate, half, poolA, o.seed, 'kvfleet', o.progress);
      const a2 = await phase(plain.url, sizeKb, o.rate, half, poolA, o.seed + 1, 'plain', o.progress);
      const b2 = await phase(routed.url, sizeKb, o.rate, half, poolA, o.seed + 1, 'kvfleet', o.progress);
      const c1 = await kvCounters(routed.kvfleet.adminUrl);
      const pooled = (x: Awaited<ReturnType<typeof phase>>, y: Awaited<ReturnType<typeof phase>>) => {
        const all = Float64Array.from([...x.e2e, ...y.e2e]);
        const d = distOf(all, all.length);
        return { p50: d.p50, p99: d.p99, ok: x.result.ok + y.result.ok, errors: x.result.errors + y.result.errors };
      };
      const pa = pooled(a1, a2);
      const pb = pooled(b1, b2);
      const ramp = async (url: string, label: string): Promise<number> => {
        let best = 0;
        for (const rate of o.rampRates) {
          const r = await phase(url, sizeKb, rate, o.stepSeconds, poolA, o.seed + 7, label, o.progress);
          if (!sustainable(r.result, rate, o.stepSeconds)) break;
          best = rate;
        }
        return best;
      };
      const sPlain = await ramp(plain.url, 'ramp plain');
      const sKv = await ramp(routed.url, 'ramp kvfleet');
      const decisions = c1.decisions - c0.decisions;
      out.push({
        sizeKb,
        plain: pa,
        kvfleet: pb,
        addedP50Ms: pb.p50 - pa.p50,
        addedP99Ms: pb.p99 - pa.p99,
        p50Ratio: pb.p50 / pa.p50,
        p99Ratio: pb.p99 / pa.p99,
        sustainPlain: sPlain,
        sustainKvfleet: sKv,
        sustainRatio: sPlain > 0 ? sKv / sPlain : Number.NaN,
        cpuSecondsPer1000: decisions > 0 ? ((c1.cpu - c0.cpu) * 1000) / decisions : undefined,
        decisions,
      });
    }
  } finally {
    await routed.stop();
    await plain.stop();
  }
  return out;
}

