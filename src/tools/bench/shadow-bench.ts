// `npm run bench:shadow`: what shadow traffic costs the client. A real Envoy on envoy/envoy.yaml
// (ports remapped), kvfleet (`kvfleet serve`, a child process) and two pools of two simulated
// replicas each: `primary` (the clients' model) and `candidate`. Three runs of the same closed
// loop (CONCURRENCY clients, REQUESTS non-streamed chat requests, each prompt distinct):
//   off            no `shadow:` rule
//   on             shadow: [{ model: primary, candidates: [candidate], sample_rate: 1 }]: every
//                  request is also mirrored (Envoy copies it back into its listener, kvfleet routes
//                  the copy to a candidate replica)
//   on, stalled    the same, with every candidate replica holding each request STALL_MS first
// Prints the client's end-to-end p50/p90/p99 per run, errors, what /shadow/report counted, and
// the cost of kvfleet's per-request shadow selection (in this process, no sockets). On a
// 2-core machine the "on" run also pays for the candidate's work on the same cores: the copies
// double the requests Envoy, kvfleet and the simulated replicas handle.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse, stringify } from 'yaml';
import { parseFleet } from '../../config/load.js';
import { LiveEndpoints } from '../../fleet/live-endpoints.js';
import { parseRequestBody } from '../../request/parse-body.js';
import { Router } from '../../router/router.js';
import type { PairSummary } from '../../router/shadow/pair-stats.js';
import { ShadowTraffic } from '../../router/shadow/traffic.js';
import { startEnvoyProcess } from '../envoy/envoy-process.js';
import { locateEnvoy } from '../envoy/locate.js';
import { freePort, waitFor } from '../ports.js';
import { startSim, type SimHandle } from '../sim/index.js';
import { REPO_ROOT, startKvfleetChild, type KvfleetChild } from './local-stack.js';

const REQUESTS = Number(process.env['KVFLEET_BENCH_REQUESTS'] ?? 300);
const CONCURRENCY = 4;
const STALL_MS = 2000;
const SIM = { replicas: 2, basePort: 0, decodeMsPerToken: 2, defaultMaxTokens: 16, maxConcurrency: 8 } as const;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Every socket_address.port_value through `map` (envoy.yaml's fixed ports → this run's). */
function remap(node: unknown, map: ReadonlyMap<number, number>): void {
  if (Array.isArray(node)) for (const n of node) remap(n, map);
  else if (isObj(node)) {
    const sa = node['socket_address'];
    if (isObj(sa) && typeof sa['port_value'] === 'number') sa['port_value'] = map.get(sa['port_value']) ?? sa['port_value'];
    for (const v of Object.values(node)) remap(v, map);
  }
}

function fleet(primary: SimHandle, candidate: SimHandle, shadow: boolean): Obj {
  const eps = (s: SimHandle) => s.replicas.map((r) => `127.0.0.1:${r.port}`);
  return {
    models: [
      { name: 'primary', cluster: 'pool-llama-3-8b', model_id: 'sim-primary', endpoints: eps(primary) },
      { name: 'candidate', cluster: 'pool-qwen-2.5-7b', model_id: 'sim-candidate', endpoints: eps(candidate) },
    ],
    shadow: shadow ? [{ model: 'primary', candidates: ['candidate'], sample_rate: 1 }] : [],
  };
}

const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;

async function load(url: string, tag: string): Promise<{ ms: number[]; errors: number }> {
  const ms: number[] = [];
  let errors = 0;
  let next = 0;
  const one = async (i: number) => {
    const started = performance.now();
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'primary', messages: [{ role: 'user', content: `${tag} request ${i}: summarise the news of the day in one line.` }] }),
    });
    await res.arrayBuffer();
    if (res.status !== 200) errors++;
    else ms.push(performance.now() - started);
  };
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) await one(next++);
    }),
  );
  return { ms: ms.sort((a, b) => a - b), errors };
}

/** µs per sampled request of kvfleet's shadow selection (sampling, policy verdicts, token, records) and its copy's claim. */
function selectionCost(): number {
  const parsed = parseFleet(
    stringify({
      models: [
        { name: 'primary', cluster: 'p', model_id: 'p', endpoints: ['10.0.0.1:80', '10.0.0.2:80'] },
        { name: 'candidate', cluster: 'c', model_id: 'c', endpoints: ['10.0.1.1:80'] },
      ],
      shadow: [{ model: 'primary', candidates: ['candidate'], sample_rate: 1 }],
    }),
  );
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  const f = parsed.fleet;
  const live = new LiveEndpoints();
  const router = new Router({ fleet: () => f, live, endpoints: live, now: () => performance.now() });
  const shadow = new ShadowTraffic({ router, endpoints: live, now: () => performance.now() });
  const input = parseRequestBody('chat', Buffer.from(JSON.stringify({ model: 'primary', messages: [{ role: 'user', content: 'hello there' }] })));
  const a = router.admit('r', input, { sessionId: undefined, overrides: { strategy: undefined, models: undefined, priority: undefined } });
  const routed = router.routeNow(a);
  // Each sampled request's token is claimed by its copy (as through Envoy, within milliseconds).
  const once = () => {
    const plan = shadow.mirror(routed);
    if (plan !== undefined) shadow.claim(plan.token, '1');
  };
  const n = 20_000;
  for (let i = 0; i < 2000; i++) once();
  const t = performance.now();
  for (let i = 0; i < n; i++) once();
  return ((performance.now() - t) * 1000) / n;
}

async function main(): Promise<void> {
  const bin = locateEnvoy(REPO_ROOT);
  if (bin === undefined) throw new Error('no Envoy binary: run `bash scripts/setup-envoy.sh`');
  const dir = await mkdtemp(join(tmpdir(), 'kvfleet-shadow-bench-'));
  const primary = await startSim({ ...SIM, model: 'sim-primary' });
  const candidate = await startSim({ ...SIM, model: 'sim-candidate' });
  const [listener, admin, grpc, kvAdmin] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const boot = parse(await readFile(join(REPO_ROOT, 'envoy', 'envoy.yaml'), 'utf8')) as unknown;
  const ports = new Map<number, number>([
    [10000, listener],
    [9901, admin],
    [9002, grpc],
    [18001, primary.replicas[0]?.port ?? 0],
    [18002, primary.replicas[1]?.port ?? 0],
    [18011, candidate.replicas[0]?.port ?? 0],
    [18012, candidate.replicas[1]?.port ?? 0],
  ]);
  remap(boot, ports);
  const bootFile = join(dir, 'envoy.yaml');
  await writeFile(bootFile, stringify(boot));
  const envoy = await startEnvoyProcess({ binary: bin, configFile: bootFile, adminUrl: `http://127.0.0.1:${admin}`, cwd: REPO_ROOT });
  const url = `http://127.0.0.1:${listener}`;
  let kv: KvfleetChild | undefined;
  const rows: string[] = [];
  try {
    for (const run of ['off', 'on', 'on, stalled candidate'] as const) {
      kv = await startKvfleetChild(fleet(primary, candidate, run !== 'off'), dir, grpc, kvAdmin);
      for (const r of candidate.replicas) await r.setFaults({ addedLatencyMs: run === 'on, stalled candidate' ? STALL_MS : 0 });
      await load(url, `warm-${run}`);
      const reportUrl = `${kv.adminUrl}/shadow/report`;
      const pairOf = async () => ((await (await fetch(reportUrl)).json()) as { pairs: PairSummary[] }).pairs[0];
      const before = await pairOf();
      const r = await load(url, run);
      const after = await pairOf();
      const p = (q: number) => quantile(r.ms, q).toFixed(1);
      const mirrored = (after?.mirrored ?? 0) - (before?.mirrored ?? 0);
      const ended = (after?.shadow.count ?? 0) - (before?.shadow.count ?? 0);
      rows.push(
        `| ${run} | ${REQUESTS} | ${p(0.5)} | ${p(0.9)} | ${p(0.99)} | ${r.errors} | ${run === 'off' ? '-' : mirrored} | ${run === 'off' ? '-' : ended} |`,
      );
      // Let the copies of an unstalled run finish before the next run starts.
      if (run === 'on') await waitFor('the shadows to end', async () => (await pairOf())?.shadow.count === after?.mirrored, 60_000).catch(() => undefined);
      await kv.stop();
      kv = undefined;
    }
  } finally {
    await kv?.stop();
    await envoy.stop();
    await primary.close();
    await candidate.close();
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`shadow traffic: client end-to-end ms through Envoy + kvfleet, ${CONCURRENCY} concurrent clients, non-streamed, 16 tokens at 2 ms`);
  console.log(`candidate stall: ${STALL_MS} ms before each copy is served ("shadows ended" = copies answered while the run lasted)\n`);
  console.log('| run | requests | p50 ms | p90 ms | p99 ms | errors | mirrored | shadows ended |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  console.log(`\nkvfleet's shadow selection and claim (sampling, policy verdicts, token, records): ${selectionCost().toFixed(2)} µs per sampled request`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
