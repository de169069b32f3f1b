// `npm run bench:priority`: priority lanes under overload. Two simulated replicas of one
// model (2 concurrent generations each, 40 tokens at 15 ms: ≈ 6.6 req/s in all, the pool's
// capacity) behind kvfleet's Router (in this process; the bench plays Envoy: it sends each
// request to the endpoint kvfleet chose, streams it, and reports its end as the access log
// would). Three runs of the same length:
//   unloaded        high-priority requests only, at 1.2 req/s
//   2× overload     the same high requests plus low ones up to 2× the pool's capacity
//                   — once without flow control, once with it
// Prints high-priority TTFT p50/p90 (client-measured: decision + queue + first token) for
// each run, the ratio of the overloaded high p90 to the unloaded one (target ≤ 1.5× with flow
// control), and what happened to low requests (served, shed with 429 overloaded).
import { performance } from 'node:perf_hooks';
import { request } from 'node:http';
import { parseFleet } from '../../config/load.js';
import { isKvError } from '../../errors.js';
import { LiveEndpoints } from '../../fleet/live-endpoints.js';
import type { RequestInput } from '../../request/types.js';
import { Router, type RouteMeta } from '../../router/router.js';
import { startSim } from '../sim/index.js';
import { chatInput } from './chat-input.js';

const SECONDS = Number(process.env['KVFLEET_BENCH_SECONDS'] ?? 20);
const TOKENS = 40;
const DECODE_MS = 15;
const CONCURRENCY = 2;
const REPLICAS = 2;
const CAPACITY = (REPLICAS * CONCURRENCY * 1000) / (TOKENS * DECODE_MS); // req/s
const HIGH_RATE = 1.2;

interface Result {
  readonly priority: 'high' | 'low';
  readonly ttftMs: number | undefined;
  readonly status: number | 'shed';
}

function fleetYaml(ports: readonly number[], flow: boolean): string {
  return `
scrape: { enabled: false }
flow_control: { enabled: ${flow}, max_queue_ms: 3000, saturation: { inflight: ${CONCURRENCY} } }
routing: { strategy: least_loaded }
models:
  - { name: m, cluster: pool-m, model_id: sim, endpoints: [${ports.map((p) => `127.0.0.1:${p}`).join(', ')}] }
`;
}

const input = (i: number): RequestInput =>
  chatInput([{ role: 'user', text: `request ${i}: tell me something new` }], { stream: true, maxOutputTokens: TOKENS });

/** Stream one completion from `endpoint`; resolves with the time to the first token (ms from `t0`) and the status. */
function stream(endpoint: string, i: number, t0: number): Promise<{ status: number; ttftMs: number | undefined }> {
  const [host, port] = endpoint.split(':');
  const body = JSON.stringify({ model: 'sim', stream: true, max_tokens: TOKENS, messages: [{ role: 'user', content: `request ${i}` }] });
  return new Promise((resolve) => {
    const req = request(
      {
        host,
        port: Number(port),
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let ttft: number | undefined;
        res.on('data', (c: Buffer) => {
          if (ttft === undefined && c.includes('"content":"tok')) ttft = performance.now() - t0;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ttftMs: ttft }));
        res.on('error', () => resolve({ status: 0, ttftMs: ttft }));
      },
    );
    req.on('error', () => resolve({ status: 0, ttftMs: undefined }));
    req.end(body);
  });
}

async function run(label: string, ports: readonly number[], flow: boolean, lowRate: number): Promise<Result[]> {
  const parsed = parseFleet(fleetYaml(ports, flow));
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  const fleet = parsed.fleet;
  const live = new LiveEndpoints();
  const router = new Router({ fleet: () => fleet, live, endpoints: live, now: () => performance.now() });
  const results: Promise<Result>[] = [];
  let n = 0;
  const one = async (priority: 'high' | 'low'): Promise<Result> => {
    const i = ++n;
    const t0 = performance.now();
    const meta: RouteMeta = { sessionId: undefined, overrides: { strategy: undefined, models: undefined, priority } };
    try {
      const routed = await router.route(router.admit(`p${i}`, input(i), meta));
      const ep = routed.decision.endpoints[0] as string;
      const r = await stream(ep, i, t0);
      router.finish(routed, { status: r.status, served: ep, attempts: 1, ttfbMs: r.ttftMs, headers: new Map() });
      router.flow.kick();
      return { priority, ttftMs: r.ttftMs, status: r.status };
    } catch (e) {
      if (isKvError(e) && e.code === 'overloaded') return { priority, ttftMs: undefined, status: 'shed' };
      throw e;
    }
  };
  const end = performance.now() + SECONDS * 1000;
  const schedule = (rate: number, priority: 'high' | 'low') => {
    if (rate <= 0) return Promise.resolve();
    return (async () => {
      for (let next = performance.now(); next < end; next += 1000 / rate) {
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        results.push(one(priority));
      }
    })();
  };
  await Promise.all([schedule(HIGH_RATE, 'high'), schedule(lowRate, 'low')]);
  const out = await Promise.all(results);
  router.flow.stop();
  process.stderr.write(`  ${label}: ${out.length} requests\n`);
  return out;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

function summary(label: string, rs: readonly Result[]): { p90: number } {
  const high = rs.filter((r) => r.priority === 'high' && r.ttftMs !== undefined).map((r) => r.ttftMs as number);
  const low = rs.filter((r) => r.priority === 'low');
  const shed = low.filter((r) => r.status === 'shed').length;
  const p50 = pct(high, 50);
  const p90 = pct(high, 90);
  process.stdout.write(
    `${label.padEnd(28)} high TTFT p50 ${p50.toFixed(0).padStart(5)} ms  p90 ${p90.toFixed(0).padStart(5)} ms` +
      (low.length > 0 ? `   low: ${low.length - shed} served, ${shed} shed (429 overloaded)` : '') +
      '\n',
  );
  return { p90 };
}

const sim = await startSim({
  replicas: REPLICAS,
  basePort: 0,
  model: 'sim',
  decodeMsPerToken: DECODE_MS,
  maxConcurrency: CONCURRENCY,
  defaultMaxTokens: TOKENS,
  prefillUsPerToken: 0,
});
try {
  const ports = sim.replicas.map((r) => r.port);
  const lowRate = 2 * CAPACITY - HIGH_RATE;
  process.stdout.write(
    `pool capacity ≈ ${CAPACITY.toFixed(1)} req/s (${REPLICAS} replicas × ${CONCURRENCY} concurrent, ${TOKENS} tokens at ${DECODE_MS} ms); ${SECONDS} s per run; high ${HIGH_RATE}/s, low ${lowRate.toFixed(1)}/s under overload\n`,
  );
  const unloaded = summary('unloaded (high only)', await run('unloaded', ports, true, 0));
  const noFlow = summary('2× overload, no flow control', await run('no flow control', ports, false, lowRate));
  const withFlow = summary('2× overload, flow control', await run('flow control', ports, true, lowRate));
  const ratio = withFlow.p90 / unloaded.p90;
  process.stdout.write(
    `high p90 under 2× overload: ${(noFlow.p90 / unloaded.p90).toFixed(2)}× unloaded without flow control, ${ratio.toFixed(2)}× with it — target ≤ 1.5×: ${ratio <= 1.5 ? 'met' : 'NOT met'}\n`,
  );
} finally {
  await sim.close();
}
