// Live benchmark: drive a running Envoy (or any OpenAI-compatible URL) with a workload.
//   per request  POST /v1/chat/completions, stream: true, over node:http with keep-alive
//                (live-request.ts); TTFT = first SSE data chunk, end-to-end = end of stream,
//                status, x-kvfleet-endpoint / x-sim-replica when present
//   replicas     /metrics of each replica (vLLM names) before, during (every sampleMs) and
//                after: fleet-wide prefix hit rate in tokens, requests per replica, and the
//                time-averaged running + waiting per replica (max/mean)
//   bounds       at most `requests` requests, issued for at most `durationMs`; each request is
//                aborted after `timeoutMs`. Progress goes to `progress` (stderr in the CLI).
import { distOf, type Dist } from './des.js';
import { postStreaming } from './live-request.js';
import { scrapeReplica, type ReplicaSample } from './prom.js';
import { chatBody } from './text.js';
import type { BenchRequest, Workload } from './workload.js';

export interface LiveOptions {
  /** Base URL of the Envoy listener, e.g. http://127.0.0.1:10000 */
  readonly target: string;
  /** /metrics URLs of the replicas (may be empty). */
  readonly metrics: readonly string[];
  readonly workload: Workload;
  /** open: each request at its arrivalMs; closed: `concurrency` clients back to back. */
  readonly mode: { readonly kind: 'open' } | { readonly kind: 'closed'; readonly concurrency: number };
  readonly model: string;
  readonly durationMs: number;
  readonly timeoutMs: number;
  readonly charsPerToken?: number;
  readonly sessions?: boolean;
  /** Extra headers on every request (e.g. x-kvfleet-strategy). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly sampleMs?: number;
  readonly progress?: (line: string) => void;
  /** Pre-rendered request body (default: chatBody of the request, streaming). */
  readonly body?: (req: BenchRequest) => string;
}

export interface LiveRecord {
  readonly id: number;
  readonly status: number;
  readonly ttftMs: number;
  readonly e2eMs: number;
  readonly endpoint: string | undefined;
  readonly error: string | undefined;
  /** kvfleet's own decision time (x-kvfleet-decision-us), when the response carries it. */
  readonly decisionUs: number | undefined;
}

export interface LiveResult {
  readonly target: string;
  readonly label: string;
  readonly requests: number;
  readonly ok: number;
  readonly errors: number;
  readonly statuses: Record<string, number>;
  readonly ttftMs: Dist;
  readonly e2eMs: Dist;
  readonly wallMs: number;
  readonly throughput: number;
  /** Fleet-wide prefix cache hit rate in tokens over the run (undefined without metrics). */
  readonly hitRate: number | undefined;
  readonly perReplica: Array<{ url: string; requests: number; meanInflight: number }>;
  readonly imbalance: number | undefined;
  readonly endpoints: Record<string, number>;
}

async function one(o: LiveOptions, req: BenchRequest): Promise<LiveRecord> {
  const t0 = performance.now();
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': `bench-${req.id}`, ...(o.headers ?? {}) };
  if (o.sessions !== false && req.session >= 0) headers['x-session-id'] = `conv-${req.session}`;
  try {
    const body = o.body !== undefined ? o.body(req) : JSON.stringify(chatBody(req, o.model, o.charsPerToken ?? 4, true));
    const res = await postStreaming(`${o.target}/v1/chat/completions`, headers, body, o.timeoutMs);
    const endpoint = res.header('x-kvfleet-endpoint') ?? res.header('x-sim-replica');
    const dus = res.header('x-kvfleet-decision-us');
    const decisionUs = dus !== undefined && dus !== '' && Number.isFinite(Number(dus)) ? Number(dus) : undefined;
    const ttftMs = Number.isNaN(res.firstByteMs) ? res.endMs : res.firstByteMs;
    return { id: req.id, status: res.status, ttftMs, e2eMs: res.endMs, endpoint, error: undefined, decisionUs };
  } catch (e) {
    const e2e = performance.now() - t0;
    return { id: req.id, status: 0, ttftMs: Number.NaN, e2eMs: e2e, endpoint: undefined, error: (e as Error).name, decisionUs: undefined };
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export async function runLive(o: LiveOptions, label = 'live'): Promise<{ result: LiveResult; records: LiveRecord[] }> {
  const before = await Promise.all(o.metrics.map((u) => scrapeReplica(u)));
  const records: LiveRecord[] = [];
  const inflightArea = new Float64Array(o.metrics.length);
  let samples = 0;
  let stopSampling = false;
  const sampler = (async () => {
    while (!stopSampling && o.metrics.length > 0) {
      await sleep(o.sampleMs ?? 250);
      if (stopSampling) break;
      const s = await Promise.all(o.metrics.map((u) => scrapeReplica(u, 1000)));
      s.forEach((x, i) => (inflightArea[i] = (inflightArea[i] as number) + x.running + x.waiting));
      samples++;
    }
  })();

  const start = performance.now();
  const deadline = start + o.durationMs;
  let issued = 0;
  let lastReport = start;
  const report = (force = false) => {
    const now = performance.now();
    if (!force && now - lastReport < 1000) return;
    lastReport = now;
    const okN = records.filter((r) => r.status === 200).length;
    o.progress?.(`[${label}] ${((now - start) / 1000).toFixed(1)} s: issued ${issued}, done ${records.length} (${okN} ok)`);
  };
  const pending = new Set<Promise<void>>();
  const launch = (req: BenchRequest) => {
    issued++;
    const p = one(o, req).then((r) => {
      records.push(r);
      pending.delete(p);
      report();
    });
    pending.add(p);
    return p;
  };

  if (o.mode.kind === 'open') {
    for (let req = o.workload.next(); req !== undefined; req = o.workload.next()) {
      const at = start + req.arrivalMs;
      if (at > deadline) break;
      const wait = at - performance.now();
      if (wait > 1) await sleep(wait);
      void launch(req);
      report();
    }
  } else {
    const clients: Promise<void>[] = [];
    for (let c = 0; c < o.mode.concurrency; c++) {
      clients.push(
        (async () => {
          while (performance.now() < deadline) {
            const req = o.workload.next();
            if (req === undefined) return;
            await launch(req);
          }
        })(),
      );
    }
    await Promise.all(clients);
  }
  await Promise.all(pending);
  const wallMs = performance.now() - start;
  stopSampling = true;
  await sampler;
  report(true);
  const after = await Promise.all(o.metrics.map((u) => scrapeReplica(u)));

  const ok = records.filter((r) => r.status === 200);
  const ttft = Float64Array.from(ok.map((r) => r.ttftMs));
  const e2e = Float64Array.from(ok.map((r) => r.e2eMs));
  const statuses: Record<string, number> = {};
  const endpoints: Record<string, number> = {};
  for (const r of records) {
    const k = r.status === 0 ? `error:${r.error ?? '?'}` : String(r.status);
    statuses[k] = (statuses[k] ?? 0) + 1;
    if (r.endpoint !== undefined) endpoints[r.endpoint] = (endpoints[r.endpoint] ?? 0) + 1;
  }
  let hits = 0;
  let queries = 0;
  const perReplica = after.map((a: ReplicaSample, i) => {
    const b = before[i] as ReplicaSample;
    hits += a.hits - b.hits;
    queries += a.queries - b.queries;
    return { url: a.url, requests: a.success - b.success, meanInflight: samples > 0 ? (inflightArea[i] as number) / samples : 0 };
  });
  const means = perReplica.map((p) => p.meanInflight);
  const meanAll = means.reduce((x, y) => x + y, 0) / Math.max(1, means.length);
  const result: LiveResult = {
    target: o.target,
    label,
    requests: records.length,
    ok: ok.length,
    errors: records.length - ok.length,
    statuses,
    ttftMs: distOf(ttft, ttft.length),
    e2eMs: distOf(e2e, e2e.length),
    wallMs,
    throughput: (ok.length * 1000) / wallMs,
    hitRate: o.metrics.length > 0 && queries > 0 ? hits / queries : undefined,
    perReplica,
    imbalance: o.metrics.length > 0 && meanAll > 0 ? Math.max(...means) / meanAll : undefined,
    endpoints,
  };
  records.sort((a, b) => a.id - b.id);
  return { result, records };
}
