// Driving a replay: the recorded requests against an OpenAI-compatible URL (normally Envoy in
// front of kvfleet), at their recorded arrival times ÷ speed (speed 0: as fast as the
// concurrency bound allows). With several models every request is sent once per model: one
// independent loop per model, each with its own concurrency bound, so a slow model never
// delays another's schedule. A request waiting for a free slot is sent late, and how late is
// measured (late_ms). Bounded: every request has a timeout and the list is finite.
import http from 'node:http';
import https from 'node:https';
import { postStreaming } from '../bench/live-request.js';
import type { ReplayResult, ReplayUsage } from './compare.js';
import type { ReplayRecord } from './records.js';
import { replayRequest } from './synth.js';

export interface ReplayOptions {
  /** Base URL, e.g. http://127.0.0.1:10000 */
  readonly target: string;
  readonly records: readonly ReplayRecord[];
  /** Send each request to each of these models; undefined: the model each asked for. */
  readonly models?: readonly string[] | undefined;
  /** Recorded time ÷ speed; 0 = no waiting. */
  readonly speed: number;
  /** Requests in flight at once, per model. */
  readonly concurrency: number;
  readonly timeoutMs: number;
  /** Added to every request (e.g. authorization for a tenant). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** Salts the synthesised text (synth.ts); 0 = the keys as recorded. */
  readonly seed: number;
  readonly progress?: ((line: string) => void) | undefined;
}

/** The target cannot be reached (nothing listens, or kvfleet behind it is down): the CLI exits 4. */
export class TargetDownError extends Error {
  override readonly name = 'TargetDownError';
  readonly exitCode = 4;
}

/** Keep the last bytes of a response: the usage object (or SSE usage chunk) is at its end. */
const KEEP_BYTES = 64 * 1024;

/** The last `"usage": {…}` object of a JSON or SSE body; undefined when there is none (or it is null). */
export function usageIn(text: string): ReplayUsage | undefined {
  let at = text.lastIndexOf('"usage"');
  while (at >= 0) {
    const open = text.indexOf('{', at);
    const colonNull = /^"usage"\s*:\s*null/.test(text.slice(at, at + 20));
    if (!colonNull && open >= 0) {
      let depth = 0;
      for (let i = open; i < text.length; i++) {
        const c = text[i];
        if (c === '{') depth++;
        else if (c === '}' && --depth === 0) {
          try {
            const u = JSON.parse(text.slice(open, i + 1)) as Record<string, unknown>;
            const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
            const details = u['prompt_tokens_details'];
            const cached = details !== null && typeof details === 'object' ? num((details as Record<string, unknown>)['cached_tokens']) : undefined;
            const prompt = num(u['prompt_tokens']);
            if (prompt === undefined) return undefined;
            return { prompt, completion: num(u['completion_tokens']) ?? 0, cached };
          } catch {
            return undefined;
          }
        }
      }
      return undefined;
    }
    at = at > 0 ? text.lastIndexOf('"usage"', at - 1) : -1;
  }
  return undefined;
}

/**
 * Whether the target answers at all: GET /v1/models (kvfleet answers it itself). Throws
 * TargetDownError when nothing listens or Envoy says kvfleet is unreachable.
 */
export async function checkTarget(target: string, timeoutMs = 5000): Promise<void> {
  let url: URL;
  try {
    url = new URL('/v1/models', target);
  } catch {
    throw new TargetDownError(`--target ${target} is not a URL (e.g. http://127.0.0.1:10000)`);
  }
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).get(url, { timeout: timeoutMs }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body = (body + c).slice(-4096)));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      r.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  }).catch((e: unknown) => {
    const code = (e as { code?: unknown }).code;
    throw new TargetDownError(`cannot reach the target ${target} (${typeof code === 'string' ? code : String(e)}): is Envoy running there?`);
  });
  if (res.status === 503 && res.body.includes('router_unavailable')) {
    throw new TargetDownError(`the target ${target} answers 503 router_unavailable: kvfleet behind it is down`);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

async function sendOne(o: ReplayOptions, rec: ReplayRecord, model: string | undefined, lateMs: number): Promise<ReplayResult> {
  const req = replayRequest(rec.line, model, `replay-${rec.index}${model !== undefined ? `-${model}` : ''}`, o.seed);
  const group = model ?? rec.line.model ?? '?';
  if (req === undefined) return { index: rec.index, group, status: 0, ttftMs: Number.NaN, e2eMs: 0, lateMs, error: 'unreplayable' };
  let tail = Buffer.alloc(0);
  const keep = (chunk: Buffer) => {
    tail = Buffer.concat([tail, chunk]);
    if (tail.length > 2 * KEEP_BYTES) tail = tail.subarray(tail.length - KEEP_BYTES);
  };
  const t0 = performance.now();
  try {
    const a = await postStreaming(`${o.target}${req.path}`, { ...req.headers, ...(o.headers ?? {}) }, JSON.stringify(req.body), o.timeoutMs, keep);
    const served = a.header('x-kvfleet-model');
    return {
      index: rec.index,
      group: model ?? (served !== undefined && served !== '' && served !== '-' ? served : group),
      status: a.status,
      ttftMs: Number.isNaN(a.firstByteMs) ? a.endMs : a.firstByteMs,
      e2eMs: a.endMs,
      lateMs,
      affinity: a.header('x-kvfleet-affinity'),
      endpoint: a.header('x-kvfleet-endpoint'),
      usage: a.status >= 200 && a.status < 300 ? usageIn(tail.toString('utf8')) : undefined,
    };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return {
      index: rec.index,
      group,
      status: 0,
      ttftMs: Number.NaN,
      e2eMs: performance.now() - t0,
      lateMs,
      error: typeof code === 'string' ? code : (e as Error).name,
    };
  }
}

export interface ReplayRun {
  readonly results: ReplayResult[];
  readonly wallMs: number;
  /** The recorded span ÷ speed: what the run would take with no concurrency bound. */
  readonly scheduledMs: number;
}

export async function runReplay(o: ReplayOptions): Promise<ReplayRun> {
  const results: ReplayResult[] = [];
  const lanes: Array<string | undefined> = o.models !== undefined && o.models.length > 0 ? [...o.models] : [undefined];
  const total = o.records.length * lanes.length;
  const start = performance.now();
  const last = o.records[o.records.length - 1];
  const scheduledMs = o.speed > 0 && last !== undefined ? last.atMs / o.speed : 0;
  let lastReport = start;
  const report = (force = false) => {
    const now = performance.now();
    if (!force && now - lastReport < 1000) return;
    lastReport = now;
    const okN = results.filter((r) => r.status >= 200 && r.status < 300).length;
    o.progress?.(`[replay] ${((now - start) / 1000).toFixed(1)} s: done ${results.length}/${total} (${okN} ok)`);
  };
  await Promise.all(
    lanes.map(async (model) => {
      const inflight = new Set<Promise<void>>();
      for (const rec of o.records) {
        const at = start + (o.speed > 0 ? rec.atMs / o.speed : 0);
        const wait = at - performance.now();
        if (wait > 1) await sleep(wait);
        while (inflight.size >= o.concurrency) await Promise.race(inflight);
        const late = Math.max(0, performance.now() - at);
        const p: Promise<void> = sendOne(o, rec, model, late).then((r) => {
          results.push(r);
          inflight.delete(p);
          report();
        });
        inflight.add(p);
      }
      await Promise.all(inflight);
    }),
  );
  report(true);
  results.sort((a, b) => a.index - b.index || a.group.localeCompare(b.group));
  return { results, wallMs: performance.now() - start, scheduledMs };
}

/** The recording itself as results (Envoy's time to first upstream byte as TTFT, its total time as latency). */
export function recordedResults(records: readonly ReplayRecord[]): ReplayResult[] {
  return records.map((r) => {
    const l = r.line;
    const u = l.usage;
    return {
      index: r.index,
      group: 'recorded',
      status: l.outcome.status ?? l.refused?.status ?? 0,
      ttftMs: l.outcome.ttfb_ms ?? Number.NaN,
      e2eMs: l.outcome.total_ms ?? Number.NaN,
      lateMs: 0,
      error: l.outcome.status === undefined && l.refused === undefined ? 'no-outcome' : undefined,
      affinity: l.decision?.affinity,
      usage: u !== undefined ? { prompt: u.prompt, completion: u.completion, cached: u.cached } : undefined,
    };
  });
}
