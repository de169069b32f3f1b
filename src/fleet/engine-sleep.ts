// The engines' own sleep APIs, one call per replica (off the request path, rare: fetch is fine).
//   vllm     POST /sleep?level=N · POST /wake_up · GET /is_sleeping → {"is_sleeping": bool}
//            (the server must run with --enable-sleep-mode and VLLM_SERVER_DEV_MODE=1)
//   sglang   POST /release_memory_occupation {} · POST /resume_memory_occupation {}
//            (no status route: a resume that answered 200 is awake)
// Both engines answer a sleep or wake call when it is done. A non-2xx answer or a network
// error rejects with EngineCallError (its message names the replica and the route).
import { parseEndpoint } from '../config/endpoint-address.js';

export type SleepEngine = 'vllm' | 'sglang';

export class EngineCallError extends Error {
  override readonly name = 'EngineCallError';
}

export interface EngineSleepApi {
  sleep(address: string, engine: SleepEngine, level: number): Promise<void>;
  wake(address: string, engine: SleepEngine): Promise<void>;
  /** Whether the replica sleeps; undefined when the engine cannot say (SGLang). */
  isSleeping(address: string, engine: SleepEngine): Promise<boolean | undefined>;
}

function baseUrl(address: string): string {
  const ep = parseEndpoint(address);
  if (ep === undefined) throw new EngineCallError(`${address}: not host:port`);
  return `http://${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${ep.port}`;
}

async function call(address: string, method: 'GET' | 'POST', path: string, timeoutMs: number, body?: string): Promise<unknown> {
  const url = `${baseUrl(address)}${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
    });
  } catch (e) {
    throw new EngineCallError(`${method} ${address}${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) throw new EngineCallError(`${method} ${address}${path}: HTTP ${res.status}`);
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The engines' HTTP APIs; `callTimeoutMs` bounds one sleep or wake call (a large model wakes in seconds). */
export function engineSleepApi(callTimeoutMs = 600_000): EngineSleepApi {
  return {
    async sleep(address, engine, level) {
      if (engine === 'vllm') await call(address, 'POST', `/sleep?level=${level}`, callTimeoutMs);
      else await call(address, 'POST', '/release_memory_occupation', callTimeoutMs, '{}');
    },
    async wake(address, engine) {
      if (engine === 'vllm') await call(address, 'POST', '/wake_up', callTimeoutMs);
      else await call(address, 'POST', '/resume_memory_occupation', callTimeoutMs, '{}');
    },
    async isSleeping(address, engine) {
      if (engine !== 'vllm') return undefined;
      const body = await call(address, 'GET', '/is_sleeping', 5000);
      const v = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['is_sleeping'] : undefined;
      if (typeof v !== 'boolean') throw new EngineCallError(`GET ${address}/is_sleeping: no is_sleeping in the answer`);
      return v;
    },
  };
}
