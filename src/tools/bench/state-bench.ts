// `npm run bench:state`: what shared state costs a decision. The same Router.admit + route
// (a tenant with rpm/tpm limits and a daily budget, so every request is checked and charged)
// paced at 200 requests/s, with the usage store in memory and on a real Redis (redis-server
// started here on a free loopback port, as the tests do; stopped at the end). Prints the
// decision latency p50/p99 (µs, including the Redis round trip) per backend and the added
// latency of Redis against the target (≤ 0.3 ms p50 at 200 req/s).
import { spawn, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { parseFleet } from '../../config/load.js';
import { LiveEndpoints } from '../../fleet/live-endpoints.js';
import type { RequestInput } from '../../request/types.js';
import { isPromise } from '../../router/maybe-async.js';
import { Router, type RouteMeta } from '../../router/router.js';
import { MemoryUsageStore } from '../../state/memory-usage.js';
import { RedisUsageStore } from '../../state/redis-usage.js';
import type { UsageStore } from '../../state/usage-store.js';
import { freePort, waitFor } from '../ports.js';
import { chatInput } from './chat-input.js';

const RATE = Number(process.env['KVFLEET_BENCH_RATE'] ?? 200);
const REQUESTS = Number(process.env['KVFLEET_BENCH_REQUESTS'] ?? 2000);

const FLEET = `
models:
  - { name: m, cluster: pool-m, model_id: m, endpoints: [10.9.0.1:8000, 10.9.0.2:8000, 10.9.0.3:8000, 10.9.0.4:8000], priors: { cost_per_1k_input: 0.001, cost_per_1k_output: 0.002 } }
identity: { sources: [api_key], anonymous: t }
tenants:
  t: { limits: { rpm: 100000000, tpm: 1000000000 }, budget: { daily_usd: 1000000 } }
`;

function input(i: number): RequestInput {
  return chatInput([{ role: 'user', text: `request ${i}: summarise the quarterly report section ${i % 17} in three sentences.` }]);
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function run(name: string, store: UsageStore): Promise<{ p50: number; p99: number }> {
  const res = parseFleet(FLEET);
  if (!res.ok) throw new Error(res.problems.join('\n'));
  const fleet = res.fleet;
  const live = new LiveEndpoints();
  const router = new Router({ fleet: () => fleet, live, endpoints: live, now: () => performance.now(), usage: store });
  const tenant = fleet.policy.tenants.get('t');
  const meta: RouteMeta = { sessionId: undefined, overrides: { strategy: undefined, models: undefined, priority: 'normal' }, tenant };
  const samples: number[] = [];
  const gap = 1000 / RATE;
  const start = performance.now();
  for (let i = 0; i < REQUESTS; i++) {
    const due = start + i * gap;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    const r = router.route(router.admit(`b${i}`, input(i), meta));
    const routed = isPromise(r) ? await r : r;
    samples.push((performance.now() - t0) * 1000);
    router.finish(routed, { status: 200, served: routed.decision.endpoints[0], attempts: 1, ttfbMs: 1, headers: new Map() });
  }
  const warm = samples.slice(Math.floor(samples.length / 10)).sort((a, b) => a - b);
  const out = { p50: pct(warm, 50), p99: pct(warm, 99) };
  process.stdout.write(
    `${name.padEnd(8)} p50 ${out.p50.toFixed(0).padStart(5)} µs   p99 ${out.p99.toFixed(0).padStart(5)} µs   (${REQUESTS} decisions at ${RATE}/s)\n`,
  );
  return out;
}

const bin = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
if (bin === '') {
  process.stderr.write('bench:state needs redis-server (bash scripts/setup-redis.sh)\n');
  process.exit(1);
}
const port = await freePort();
const redis = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
try {
  const store = new RedisUsageStore({ url: `redis://127.0.0.1:${port}/0`, keyPrefix: 'bench', commandTimeoutMs: 1000, connectTimeoutMs: 2000 });
  await waitFor('redis', () => store.up(), 10_000);
  process.stdout.write(`decision latency with limits and a budget checked on every request (${process.version}):\n`);
  const mem = await run('memory', new MemoryUsageStore());
  const red = await run('redis', store);
  await store.close();
  const added = (red.p50 - mem.p50) / 1000;
  process.stdout.write(
    `redis adds ${added.toFixed(3)} ms p50, ${((red.p99 - mem.p99) / 1000).toFixed(3)} ms p99 — target ≤ 0.3 ms p50: ${added <= 0.3 ? 'met' : 'NOT met'}\n`,
  );
} finally {
  redis.kill('SIGKILL');
}
