// `npm run bench:shadow`: what shadow traffic costs the client. A real Envoy on envoy/envoy.yaml
// (ports remapped), kvfleet (`kvfleet serve`, a child process) and two pools of two simulated
// replicas each: `primary` (the clients' model) and `candidate`. Three runs of the same closed
// loop (CONCURRENCY clients, REQUESTS non-streamed chat requests, each prompt distinct):
//   off            no `shadow:` rule
//   on             shadow: [{ model: primary, candidates: [candidate], sample_rate: 1 }]: every
//                  request is also mirrored (Envoy copies it back into its listener, kvfleet routes
//                  the copy to a candidate replica)
//   on, stalled    the same, with every candidate replica holding each request STALL_MS first
// ROUNDS rounds, the three runs interleaved in each. Prints the client's end-to-end p50/p90/p99
// per run (pooled) and each round's p50, what /shadow/report counted of the copies (mirrored,
// lost, errors, their own total time), and the cost of kvfleet's per-request shadow selection
// (in this process, no sockets). On a 2-core machine the "on" run also pays for the candidate's
// work on the same cores: the copies double the requests Envoy, kvfleet and the simulated
// replicas handle (the bench's own process runs the replicas and the clients).
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

async function load(url: string, tag: string, requests: number): Promise<{ ms: number[]; errors: number }> {
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
      while (next < requests) await one(next++);
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
  // Five batches after a warm-up; the median batch.
  const n = 20_000;
  for (let i = 0; i < n; i++) once();
  const batches: number[] = [];
  for (let b = 0; b < 5; b++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) once();
    batches.push(((performance.now() - t) * 1000) / n);
  }
  return quantile(
    batches.sort((a, b) => a - b),
    0.5,
  );
}

type Run = 'off' | 'on' | 'on, stalled candidate';
const RUNS: readonly Run[] = ['off', 'on', 'on, stalled candidate'];
const ROUNDS = Number(process.env['KVFLEET_BENCH_ROUNDS'] ?? 3);

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
  const client = new Map<Run, number[]>(RUNS.map((r) => [r, []]));
  const roundP50 = new Map<Run, string[]>(RUNS.map((r) => [r, []]));
  const copies = new Map<Run, { mirrored: number; lost: number; errors: number; totalP50: number[] }>(
    RUNS.map((r) => [r, { mirrored: 0, lost: 0, errors: 0, totalP50: [] }]),
  );
  let errors = 0;
  try {
    // Rounds, the three runs interleaved in each: a busy spell of the machine hits all three.
    for (let round = 0; round < ROUNDS; round++) {
      for (const run of RUNS) {
        kv = await startKvfleetChild(fleet(primary, candidate, run !== 'off'), dir, grpc, kvAdmin);
        for (const r of candidate.replicas) await r.setFaults({ addedLatencyMs: run === 'on, stalled candidate' ? STALL_MS : 0 });
        const reportUrl = `${kv.adminUrl}/shadow/report`;
        const pairOf = async () => ((await (await fetch(reportUrl)).json()) as { pairs: PairSummary[] }).pairs[0];
        /** Every copy made so far has ended (or was lost). */
        const drained = async () => {
          const p = await pairOf();
          return p === undefined || p.shadow.count + p.lost >= p.mirrored;
        };
        await load(url, `warm-${run}-${round}`, 40);
        await waitFor('the warm-up copies', drained, 60_000);
        const before = await pairOf();
        const r = await load(url, `${run}-${round}`, REQUESTS);
        await waitFor('the copies', drained, 60_000);
        const after = await pairOf();
        errors += r.errors;
        client.get(run)?.push(...r.ms);
        roundP50.get(run)?.push(quantile(r.ms, 0.5).toFixed(0));
        const c = copies.get(run);
        if (c !== undefined && after !== undefined) {
          c.mirrored += after.mirrored - (before?.mirrored ?? 0);
          c.lost += after.lost - (before?.lost ?? 0);
          c.errors += after.shadow.errors - (before?.shadow.errors ?? 0);
          if (after.shadow.total_ms_p50 !== null) c.totalP50.push(after.shadow.total_ms_p50);
        }
        await kv.stop();
        kv = undefined;
      }
    }
  } finally {
    await kv?.stop();
    await envoy.stop();
    await primary.close();
    await candidate.close();
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`shadow traffic: the client's end-to-end ms through Envoy + kvfleet; ${CONCURRENCY} concurrent clients, non-streamed chat, 16 tokens at 2 ms;`);
  console.log(`${ROUNDS} rounds of ${REQUESTS} requests per run, the runs interleaved; candidate stall ${STALL_MS} ms before each copy is served\n`);
  console.log('| run | requests | client p50 | p90 | p99 | p50 per round | copies mirrored | lost | copy errors | copy total ms p50 |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const run of RUNS) {
    const ms = (client.get(run) ?? []).sort((a, b) => a - b);
    const c = copies.get(run);
    const q = (x: number) => quantile(ms, x).toFixed(1);
    const copyCols =
      run === 'off' || c === undefined ? '- | - | - | -' : `${c.mirrored} | ${c.lost} | ${c.errors} | ${c.totalP50.map((v) => v.toFixed(0)).join(', ')}`;
    console.log(`| ${run} | ${ms.length} | ${q(0.5)} | ${q(0.9)} | ${q(0.99)} | ${(roundP50.get(run) ?? []).join(', ')} | ${copyCols} |`);
  }
  console.log(`\nclient errors: ${errors}`);
  console.log(`kvfleet's shadow selection and claim (sampling, policy verdicts, token, records): ${selectionCost().toFixed(2)} µs per sampled request`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
