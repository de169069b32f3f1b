// Probing the endpoints of a fleet file with each engine's own health or readiness endpoint
// (`kvfleet health`). What each engine answers (checked against each project's docs):
//   vLLM    GET /health            200 when the engine is up (the OpenAI-compatible server)
//   SGLang  GET /health            200 when the server is up (/health_generate also runs a
//                                  one-token generation; not used: it costs GPU time)
//   TGI     GET /health            200 when the router and its shards are healthy, else 503
//   Triton  GET /v2/health/ready   200 when the server is ready for inference (KServe v2)
//   Ollama  GET /api/version       200 with {"version"} once the server answers
//   openai  GET /v1/models         any other OpenAI-compatible server (llama.cpp, LiteLLM, …):
//                                  the one read-only route every such server has
// Hosted providers (models with `host`) are skipped: their key is injected by Envoy and never
// reaches kvfleet, so only a request through Envoy can check them.
import type { Model } from '../config/fleet.js';
import { parseEndpoint } from '../config/endpoint-address.js';
import type { ENGINES } from '../config/names.js';
import { networkProblem } from './network-problem.js';

export type Engine = (typeof ENGINES)[number];

export const HEALTH_PATHS: Readonly<Record<Engine, string>> = {
  vllm: '/health',
  sglang: '/health',
  tgi: '/health',
  triton: '/v2/health/ready',
  ollama: '/api/version',
  openai: '/v1/models',
};

export interface ProbeTarget {
  readonly model: string;
  readonly engine: Engine;
  readonly address: string;
  /** Why it is not probed (hosted provider, no endpoint listed), or undefined. */
  readonly skip: string | undefined;
}

export interface ProbeResult extends ProbeTarget {
  readonly state: 'up' | 'down' | 'skipped';
  /** `GET /health → 200`, `connection refused`, … */
  readonly detail: string;
  readonly ms: number | undefined;
}

/** Every endpoint of every model, in fleet-file order (an address listed twice is probed once per model). */
export function probeTargets(models: readonly Model[]): ProbeTarget[] {
  const out: ProbeTarget[] = [];
  for (const m of models) {
    if (m.hosted) {
      out.push({
        model: m.name,
        engine: m.engine,
        address: m.host ?? m.endpoints[0] ?? '-',
        skip: 'hosted provider: its key lives in Envoy; check it through Envoy',
      });
      continue;
    }
    if (m.endpoints.length === 0) {
      out.push({ model: m.name, engine: m.engine, address: '-', skip: 'no endpoints in the fleet file (discovered from Envoy at run time)' });
      continue;
    }
    for (const address of m.endpoints) out.push({ model: m.name, engine: m.engine, address, skip: undefined });
  }
  return out;
}

export function probeUrl(address: string, engine: Engine): string | undefined {
  const ep = parseEndpoint(address);
  if (ep === undefined) return undefined;
  const host = ep.host.includes(':') ? `[${ep.host}]` : ep.host;
  return `http://${host}:${ep.port}${HEALTH_PATHS[engine]}`;
}

export async function probe(t: ProbeTarget, timeoutMs: number, now: () => number = () => performance.now()): Promise<ProbeResult> {
  if (t.skip !== undefined) return { ...t, state: 'skipped', detail: t.skip, ms: undefined };
  const url = probeUrl(t.address, t.engine);
  if (url === undefined) return { ...t, state: 'down', detail: 'not an ip:port address', ms: undefined };
  const path = HEALTH_PATHS[t.engine];
  const started = now();
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.body?.cancel();
    const ms = now() - started;
    return { ...t, state: res.ok ? 'up' : 'down', detail: `GET ${path} → ${res.status}`, ms };
  } catch (e) {
    const problem = networkProblem(e);
    return { ...t, state: 'down', detail: `GET ${path}: ${problem === 'timed out' ? `no answer within ${timeoutMs} ms` : problem}`, ms: undefined };
  }
}

/** Probe every target, at most `concurrency` at once; results in the targets' order. */
export async function probeAll(targets: readonly ProbeTarget[], timeoutMs: number, concurrency = 32): Promise<ProbeResult[]> {
  const out: ProbeResult[] = new Array<ProbeResult>(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const i = next++;
      out[i] = await probe(targets[i] as ProbeTarget, timeoutMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
  return out;
}
