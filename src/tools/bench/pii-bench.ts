// `node dist/bench/pii-bench.js` (after `npm run build`): PII detection cost at 4 KB and 64 KB
// prompts, for clean prose/code full of ordinary numbers and for the same text with a few PII
// items planted. Prints p50 / p99 in microseconds for detectPii and scanPii and compares p50
// with the policy step's budget (≤ 30 µs at 4 KB, ≤ 300 µs at 64 KB; detection is most of it).
import { performance } from 'node:perf_hooks';
import { detectPii, scanPii } from '../../core/policy/pii/index.js';
import { benchText } from './pii-corpus.js';

const BUDGET_US: Readonly<Record<number, number>> = { 4: 30, 64: 300 };
const VARIANTS = 8;

function measure(texts: readonly string[], fn: (t: string) => unknown, samples: number): { p50: number; p99: number } {
  const n = texts.length;
  for (let i = 0; i < Math.min(2000, samples); i++) fn(texts[i % n] as string);
  const out = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const t = texts[i % n] as string;
    const t0 = performance.now();
    fn(t);
    out[i] = (performance.now() - t0) * 1000;
  }
  out.sort();
  return { p50: out[Math.floor(samples * 0.5)] ?? 0, p99: out[Math.floor(samples * 0.99)] ?? 0 };
}

const rows: string[] = [];
let over = false;
for (const kb of [4, 64]) {
  const samples = kb === 4 ? 20_000 : 3_000;
  for (const withPii of [false, true]) {
    // Through JSON like a request body, so the strings are flat as they are in kvfleet.
    const texts = Array.from({ length: VARIANTS }, (_, i) => JSON.parse(JSON.stringify(benchText(kb * 1024, 100 + i, withPii))) as string);
    const found = scanPii(texts[0] as string).length;
    for (const [name, fn] of [
      ['detectPii', detectPii],
      ['scanPii', scanPii],
    ] as const) {
      const r = measure(texts, (t) => fn(t), samples);
      const budget = BUDGET_US[kb] ?? 0;
      const ok = r.p50 <= budget;
      if (!ok) over = true;
      rows.push(
        `${name.padEnd(10)} ${`${kb} KB`.padStart(6)}  ${(withPii ? 'with PII' : 'clean').padEnd(9)} ${String(found).padStart(8)}  ${r.p50.toFixed(1).padStart(8)}  ${r.p99.toFixed(1).padStart(8)}  ${`${budget}`.padStart(9)}  ${ok ? 'ok' : 'OVER'}`,
      );
    }
  }
}
const sample = benchText(64 * 1024, 100, false);
const digitShare = (sample.match(/\d/g)?.length ?? 0) / sample.length;
process.stdout.write(
  `kvfleet PII detection benchmark (Node ${process.versions.node}; clean text is prose and code, ${(digitShare * 100).toFixed(1)}% digits; the p50 budget is for the whole policy step)\n`,
);
process.stdout.write(`function   prompt  text      findings    p50 µs    p99 µs  budget µs\n`);
process.stdout.write(`${rows.join('\n')}\n`);
if (over) process.exitCode = 1;
