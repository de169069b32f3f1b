// `npm run bench:cache`: what the response cache buys and costs. Two simulated replicas
// (16 output tokens at 2 ms, 50 µs per uncached prompt token), kvfleet (`kvfleet serve`, a
// child process) with response_cache on, and a real Envoy on envoy/envoy.yaml (ports
// rewritten), all on loopback. Sequential requests from this process, ≈ 1 KB prompts:
//   replica (bypass)   temperature 0.7: not cacheable, to a replica, no meter
//   replica (miss)     temperature 0, a new prompt each time: to a replica by the metered path,
//                      the response kept
//   cache hit          the same temperature-0 request again: answered by kvfleet itself
//   GET /v1/models     kvfleet's own answer to a bodiless request: the floor of any answer
//                      through Envoy and the ext_proc hop on this machine
// Prints client-measured latency p50/p90/p99 for each, then the lookup's own cost in-process
// (canonical body + 128-bit key, µs) at 4 KB and 64 KB prompts.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse, stringify } from 'yaml';
import { requestKey } from '../../core/response-cache/request-key.js';
import { startEnvoyProcess } from '../envoy/envoy-process.js';
import { locateEnvoy } from '../envoy/locate.js';
import { startSim } from '../sim/index.js';
import { freePort, waitFor } from '../ports.js';
import { REPO_ROOT, startKvfleetChild } from './local-stack.js';

const REQUESTS = Number(process.env['KVFLEET_BENCH_REQUESTS'] ?? 200);
const MODEL_ID = 'sim-model';

/** Every socket_address.port_value found in `map`, rewritten (envoy.yaml's fixed ports → free ones). */
function remapPorts(node: unknown, map: ReadonlyMap<number, number>): void {
  if (Array.isArray(node)) {
    for (const item of node) remapPorts(item, map);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  const sa = obj['socket_address'];
  if (sa !== null && typeof sa === 'object' && !Array.isArray(sa)) {
    const addr = sa as Record<string, unknown>;
    const to = typeof addr['port_value'] === 'number' ? map.get(addr['port_value']) : undefined;
    if (to !== undefined) addr['port_value'] = to;
  }
  for (const v of Object.values(obj)) remapPorts(v, map);
}

const pct = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99) };
};

/** A prompt of `n` characters; `tag` and `i` lead it, so no two prompts share the simulator's prefix cache. */
const filler = (n: number, i: number, tag = 'q'): string => {
  let s = `${tag} ${i}: `;
  while (s.length < n) s += `the quarterly report of division ${i % 13} lists figure ${s.length} among others; `;
  return s.slice(0, n);
};

async function timed(url: string, body: unknown, expectCache: string): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await r.arrayBuffer();
  const ms = performance.now() - t0;
  if (r.status !== 200 || r.headers.get('x-kvfleet-cache') !== expectCache) {
    throw new Error(`expected 200 with x-kvfleet-cache: ${expectCache}, got ${r.status} ${String(r.headers.get('x-kvfleet-cache'))}`);
  }
  return ms;
}

async function storedCount(adminUrl: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const m = /^kvfleet_response_cache_fills_total\{outcome="stored"\} (\d+)/m.exec(text);
  return m !== null ? Number(m[1]) : 0;
}

function lookupCost(chars: number): number {
  const body = {
    model: 'm',
    temperature: 0,
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: filler(chars, 1) },
    ],
  };
  const samples: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t0 = performance.now();
    requestKey({ tenant: 'acme', api: 'chat', model: 'm', strategy: undefined, models: undefined, dataClass: undefined, body });
    samples.push((performance.now() - t0) * 1000);
  }
  return summary(samples.slice(200)).p50;
}

async function main(): Promise<void> {
  const envoyBin = locateEnvoy(REPO_ROOT);
  if (envoyBin === undefined) throw new Error('no Envoy binary: run `bash scripts/setup-envoy.sh`');
  const dir = await mkdtemp(join(tmpdir(), 'kvfleet-cache-bench-'));
  const sim = await startSim({ replicas: 2, basePort: 0, host: '127.0.0.1', model: MODEL_ID, decodeMsPerToken: 2, defaultMaxTokens: 16 });
  const stops: Array<() => Promise<unknown>> = [() => sim.close(), () => rm(dir, { recursive: true, force: true })];
  try {
    const [grpc, admin, listener, envoyAdmin] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const ports = sim.replicas.map((r) => r.port);
    const kvfleet = await startKvfleetChild(
      {
        server: { grpc: { port: grpc }, admin: { port: admin } },
        scrape: { enabled: false },
        models: [{ name: 'llama-3-8b', cluster: 'pool-llama-3-8b', model_id: MODEL_ID, endpoints: ports.map((p) => `127.0.0.1:${p}`) }],
        response_cache: { enabled: true, max_bytes: 64 * 1024 * 1024, ttl_seconds: 600 },
      },
      dir,
      grpc,
      admin,
    );
    stops.unshift(() => kvfleet.stop());
    const config: unknown = parse(await readFile(join(REPO_ROOT, 'envoy', 'envoy.yaml'), 'utf8'));
    remapPorts(
      config,
      new Map([
        [10000, listener],
        [9901, envoyAdmin],
        [9002, grpc],
        [18001, ports[0] ?? 0],
        [18002, ports[1] ?? 0],
      ]),
    );
    const file = join(dir, 'envoy.yaml');
    await writeFile(file, stringify(config));
    const envoy = await startEnvoyProcess({ binary: envoyBin, configFile: file, adminUrl: `http://127.0.0.1:${envoyAdmin}`, cwd: REPO_ROOT });
    stops.unshift(() => envoy.stop());
    const url = `http://127.0.0.1:${listener}`;

    const req = (i: number, temperature: number) => ({
      model: 'llama-3-8b',
      temperature,
      max_tokens: 16,
      messages: [{ role: 'user', content: filler(1000, i, temperature === 0 ? 'cached' : 'sampled') }],
    });
    // Warm up every path (JIT, connections).
    for (let i = 0; i < 20; i++) await timed(url, req(-1 - i, 0.7), 'bypass');

    const bypass: number[] = [];
    const miss: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      bypass.push(await timed(url, req(i, 0.7), 'bypass'));
      miss.push(await timed(url, req(i, 0), 'miss'));
    }
    await waitFor('every miss stored', async () => (await storedCount(kvfleet.adminUrl)) >= REQUESTS);
    const hit: number[] = [];
    for (let i = 0; i < REQUESTS; i++) hit.push(await timed(url, req(i, 0), 'hit'));

    // The floor of an answer kvfleet gives itself: GET /v1/models (request headers only, no body).
    const models: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t0 = performance.now();
      await (await fetch(`${url}/v1/models`)).arrayBuffer();
      models.push(performance.now() - t0);
    }

    const rows: Array<[string, ReturnType<typeof summary>]> = [
      ['replica (bypass)', summary(bypass)],
      ['replica (miss, metered)', summary(miss)],
      ['cache hit', summary(hit)],
      ['GET /v1/models (floor)', summary(models)],
    ];
    console.log(`response cache through Envoy: ${REQUESTS} sequential requests per row, 1 KB prompts, 16 output tokens at 2 ms`);
    console.log('path                      p50 ms   p90 ms   p99 ms');
    for (const [name, s] of rows)
      console.log(`${name.padEnd(24)} ${s.p50.toFixed(2).padStart(7)}  ${s.p90.toFixed(2).padStart(7)}  ${s.p99.toFixed(2).padStart(7)}`);
    const [, b] = rows[0] as [string, ReturnType<typeof summary>];
    const [, h] = rows[2] as [string, ReturnType<typeof summary>];
    console.log(`hit p50 = ${((h.p50 / b.p50) * 100).toFixed(1)} % of the replica's (${(b.p50 / h.p50).toFixed(1)}x faster)`);
    console.log(
      `lookup in-process (canonical body + 128-bit key), p50: ${lookupCost(4 * 1024).toFixed(1)} µs at 4 KB, ${lookupCost(64 * 1024).toFixed(1)} µs at 64 KB`,
    );
  } finally {
    for (const s of stops) await s().catch(() => undefined);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
