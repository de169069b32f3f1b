// Does a replay stand for the traffic it recorded? Multi-turn conversations (the benchmark's
// workload: shared system prompts, follow-ups without ids) go through Envoy + kvfleet with
// `record:` on and prompts off; `kvfleet replay` then sends the file again, text synthesised
// from the block keys, with the recorded timing. The replay must keep the traffic's prefix
// structure — kvfleet finds the same share of prefix hits and the replicas' KV caches hit about
// as often as they did live — and its schedule. The figures are printed (README "Record and
// replay"); rerun: npm run build && npx vitest run test/e2e/replay-fidelity.e2e.test.ts
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { runLive } from '../../src/tools/bench/live.js';
import { scenario, streamOf } from '../../src/tools/bench/scenarios.js';
import { createWorkload } from '../../src/tools/bench/workload.js';
import type { ReplayReport } from '../../src/tools/replay/report.js';
import { REPO_ROOT } from '../helpers/envoy.js';
import { startStack } from '../helpers/stack.js';

const REQUESTS = 120;

it('a replay of recorded multi-turn traffic keeps its prefix hits, cache hits and timing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kvfleet-replay-fidelity-'));
  const rec = join(dir, 'requests.jsonl');
  const stack = await startStack({
    sim: { decodeMsPerToken: 2, cacheBlocks: 512 },
    editFleet: (f) => {
      f['record'] = { path: rec };
      f['metering'] = { mode: 'all' };
    },
  });
  try {
    const s = scenario('multi-turn', { requests: REQUESTS });
    const { result } = await runLive({
      target: stack.url,
      metrics: stack.llama.replicas.map((r) => `${r.url}/metrics`),
      workload: createWorkload(s.spec, { ...streamOf(s), rate: 8 }),
      mode: { kind: 'open' },
      model: 'llama-3-8b',
      durationMs: 120_000,
      timeoutMs: 30_000,
    });
    expect(result.ok).toBe(REQUESTS);
    const liveHit = result.hitRate ?? 0;
    expect(liveHit).toBeGreaterThan(0.3);
    // Every line written (the recorder flushes every 200 ms; usage readings join within 2 s).
    for (let i = 0; i < 100; i++) {
      const n = (await readFile(rec, 'utf8').catch(() => '')).split('\n').filter((l) => l.trim() !== '').length;
      if (n >= REQUESTS) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 2500));
    const out = join(dir, 'replay.json');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(REPO_ROOT, 'bin', 'kvfleet.js'), 'replay', rec, '--target', stack.url, '--json', out],
      {
        timeout: 120_000,
      },
    );
    const report = JSON.parse(await readFile(out, 'utf8')) as ReplayReport;
    const replayed = report.summaries.find((m) => m.model === 'llama-3-8b');
    console.log(
      `live: KV cache hit ${(liveHit * 100).toFixed(1)} %, TTFT p50 ${result.ttftMs.p50.toFixed(1)} ms p90 ${result.ttftMs.p90.toFixed(1)} ms\n${stdout}`,
    );
    expect(report.records.replayed).toBe(REQUESTS);
    expect(replayed?.ok).toBe(REQUESTS);
    const recordedHits = report.recorded.prefix_hit_rate ?? 0;
    expect(recordedHits).toBeGreaterThan(0.5); // multi-turn traffic: most requests continue a conversation
    // The synthesised text shares what the original shared: kvfleet finds as many prefix hits…
    expect(replayed?.prefix_hit_rate ?? 0).toBeGreaterThanOrEqual(recordedHits - 0.05);
    // …and the replicas' KV caches hit about as often as they did live (cached / prompt tokens).
    expect(replayed?.cached_token_share ?? 0).toBeGreaterThanOrEqual(liveHit * 0.85);
    // Recorded timing kept (speed 1): the schedule spans what the recording spanned.
    expect(report.scheduled_ms).toBeGreaterThan(((REQUESTS - 1) / 8) * 1000 * 0.5);
    expect(report.scheduled_ms).toBeLessThan(((REQUESTS - 1) / 8) * 1000 * 2);
  } finally {
    await stack.stop();
    await rm(dir, { recursive: true, force: true });
  }
}, 300_000);
