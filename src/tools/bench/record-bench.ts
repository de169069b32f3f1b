// `npm run bench:record`: what `record:` costs kvfleet per request — Recorder.record() on the
// Router's report at a request's end (the line built: unsalted block keys, the tail key, the
// decision; serialised; queued) — at 4 KB and 64 KB chat prompts, prompts off and on; then
// how fast the background writer empties its queue to a file, and what a burst past the
// buffer does (lines dropped and counted, memory bounded). Prints p50 / p99 µs and lines/s.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseFleet } from '../../config/load.js';
import type { RecordConfig } from '../../config/record-schema.js';
import { createLearnedState } from '../../core/learned/learned-state.js';
import { seededRng } from '../../core/rng.js';
import type { LiveView } from '../../core/types.js';
import { Recorder } from '../../router/recorder.js';
import type { RequestReport } from '../../router/report.js';
import { Router } from '../../router/router.js';
import { benchText } from './pii-corpus.js';
import { chatInput } from './chat-input.js';

const SAMPLES = 5_000;

const parsed = parseFleet(`
default_model: m
policy: { pii: { enabled: false } }
models:
  - name: m
    cluster: pool-m
    model_id: org/M
    endpoints: [${Array.from({ length: 16 }, (_, i) => `10.9.0.${i + 1}:8000`).join(', ')}]
    capabilities: { context_length: 1000000 }
`);
if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
const fleet = parsed.fleet;
const live: LiveView = { endpoint: () => ({ inflight: 0, healthy: true }) };

/** A report as the Router makes it at the end of a routed chat request of `kb` KB. */
function report(kb: number): RequestReport {
  let out: RequestReport | undefined;
  const router = new Router({
    fleet: () => fleet,
    live,
    state: createLearnedState(fleet, seededRng(1)),
    now: () => performance.now(),
    report: (r) => (out = r),
  });
  const system = benchText(kb * 1024 - 200, 7, false);
  const segments = [
    { role: 'system', text: system },
    { role: 'user', text: 'What does the second paragraph say about the ledger?' },
  ];
  const input = chatInput(segments, {
    stream: true,
    body: { model: 'm', messages: segments.map((s) => ({ role: s.role, content: s.text })), stream: true, max_tokens: 256 },
  });
  const a = router.admit('bench-1', input, { sessionId: 'sess-1', overrides: { strategy: undefined, models: undefined, priority: undefined } });
  const routed = router.routeNow(a);
  router.finish(routed, { status: 200, served: routed.decision.endpoints[0], attempts: 1, ttfbMs: 40, durationMs: 900, headers: new Map() });
  if (out === undefined) throw new Error('no report');
  return out;
}

function quantile(xs: Float64Array, p: number): number {
  return xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;
}

const dir = await mkdtemp(join(tmpdir(), 'kvfleet-record-bench-'));
const cfg = (path: string, extra: Partial<RecordConfig> = {}): RecordConfig => ({
  path,
  include_prompts: false,
  max_file_mb: 1024,
  max_files: 2,
  sample_rate: 1,
  buffer_mb: 1024,
  ...extra,
});
const lines: string[] = [];
try {
  lines.push(
    `kvfleet record: benchmark (Node ${process.versions.node}; 16 endpoints, one routed chat request per line; the record() call is what runs on kvfleet's event loop)`,
  );
  lines.push('prompt  prompts   record() p50 µs   p99 µs   bytes/line   written lines/s');
  for (const kb of [4, 64]) {
    const r = report(kb);
    for (const prompts of [false, true]) {
      const path = join(dir, `r-${kb}-${prompts}.jsonl`);
      const rec = await Recorder.open(cfg(path, { include_prompts: prompts }), { now: () => performance.now() });
      for (let i = 0; i < 500; i++) rec.record(r);
      await rec.flush();
      const before = (await stat(path)).size;
      const us = new Float64Array(SAMPLES);
      const t0 = performance.now();
      for (let i = 0; i < SAMPLES; i++) {
        // Let the writer run between requests, as it does between a server's requests.
        if (i % 20 === 0) await new Promise<void>((r) => setImmediate(r));
        const s = performance.now();
        rec.record(r);
        us[i] = (performance.now() - s) * 1000;
      }
      await rec.flush();
      const secs = (performance.now() - t0) / 1000;
      const bytes = ((await stat(path)).size - before) / SAMPLES;
      await rec.close();
      us.sort();
      lines.push(
        `${`${kb} KB`.padStart(6)}  ${(prompts ? 'on' : 'off').padEnd(7)} ${quantile(us, 0.5).toFixed(1).padStart(16)}  ${quantile(us, 0.99).toFixed(1).padStart(7)}  ${Math.round(bytes).toString().padStart(11)}  ${Math.round(
          SAMPLES / secs,
        )
          .toString()
          .padStart(16)}`,
      );
    }
  }
  // A burst far past the buffer: 20,000 lines of 64 KB prompts with include_prompts into a 16 MiB buffer.
  const path = join(dir, 'burst.jsonl');
  const counts: Record<string, number> = {};
  const rec = await Recorder.open(cfg(path, { include_prompts: true, buffer_mb: 16 }), {
    now: () => performance.now(),
    onCount: (k, n) => (counts[k] = (counts[k] ?? 0) + n),
  });
  const r = report(64);
  const heap0 = process.memoryUsage().heapUsed;
  let heapMax = heap0;
  for (let i = 0; i < 20_000; i++) {
    rec.record(r);
    if (i % 1000 === 0) heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
  }
  await rec.close();
  lines.push(
    `burst: 20000 lines of 64 KB with prompts into a 16 MiB buffer at once: written ${counts['written'] ?? 0}, dropped ${counts['dropped'] ?? 0} (kvfleet_record_lines_total), heap grew at most ${((heapMax - heap0) / 1048576).toFixed(1)} MiB`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
process.stdout.write(`${lines.join('\n')}\n`);
