// Reading a running kvfleet's admin port from the command line (`kvfleet fleet`): GET /fleet
// and GET /models/stats, validated (zod) into the few fields the status table shows. An
// endpoint this kvfleet does not have answers 404 and is reported as absent, not an error.
import { z } from 'zod';
import { networkProblem } from './network-problem.js';

/** Where `kvfleet fleet` looks without --admin: $KVFLEET_ADMIN, else the example fleet's admin port. */
export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9003';

const engineLoad = z.object({ running: z.number(), waiting: z.number(), kvUsage: z.number() });

const endpointState = z.object({
  address: z.string(),
  inflight: z.number(),
  healthy: z.boolean(),
  stale: z.boolean().optional(),
  engine: engineLoad.optional(),
  lastEngine: engineLoad.optional(),
  circuit: z.string().optional(),
  coolingMs: z.number().optional(),
  coolReason: z.string().optional(),
  scrapeAgeMs: z.number().optional(),
  scrapeError: z.string().optional(),
  envoy: z.object({ healthy: z.boolean(), flags: z.array(z.string()) }).optional(),
});

export const fleetViewSchema = z.object({
  models: z.array(z.object({ name: z.string(), cluster: z.string(), engine: z.string().optional(), endpoints: z.array(z.string()) })),
  endpoints: z.array(endpointState),
});

export const modelStatsSchema = z.object({
  window_seconds: z.number(),
  models: z.array(
    z.object({
      model: z.string(),
      state: z.string(),
      requests_per_second: z.number(),
      requests_in_window: z.number().optional(),
      last_request_at: z.string().nullable().optional(),
      idle_seconds: z.number().nullable().optional(),
      inflight: z.number(),
    }),
  ),
});

export type FleetView = z.infer<typeof fleetViewSchema>;
export type EndpointStateJson = z.infer<typeof endpointState>;
export type ModelStats = z.infer<typeof modelStatsSchema>;

/** The admin URL without a trailing slash; refuses anything but http(s). */
export function adminBase(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`--admin ${raw}: not a URL (e.g. http://127.0.0.1:9003)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`--admin ${raw}: must be an http:// or https:// URL`);
  return u.href.replace(/\/+$/, '');
}

async function getJson(url: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new Error(`cannot reach kvfleet's admin port at ${url} (${networkProblem(e)}); is \`kvfleet serve\` running there? (--admin URL)`, {
      cause: e,
    });
  }
  const text = await res.text();
  if (res.status === 404) return { status: 404, body: undefined };
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    throw new Error(`${url} did not answer JSON: is this kvfleet's admin port?`);
  }
}

function parsed<T>(schema: z.ZodType<T>, url: string, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success)
    throw new Error(
      `${url} answered an unexpected shape (${r.error.issues[0]?.path.join('.') ?? ''}: ${r.error.issues[0]?.message ?? ''}); is this kvfleet's admin port?`,
    );
  return r.data;
}

export interface FleetStatus {
  readonly fleet: FleetView;
  /** undefined: this kvfleet has no GET /models/stats (404). */
  readonly models: ModelStats | undefined;
}

export async function readFleetStatus(base: string, windowS: number, timeoutMs = 5000): Promise<FleetStatus> {
  const fleetUrl = `${base}/fleet`;
  const statsUrl = `${base}/models/stats?window=${windowS}`;
  const [f, m] = await Promise.all([getJson(fleetUrl, timeoutMs), getJson(statsUrl, timeoutMs)]);
  if (f.status === 404) throw new Error(`${fleetUrl} answered 404: is this kvfleet's admin port?`);
  return {
    fleet: parsed(fleetViewSchema, fleetUrl, f.body),
    models: m.status === 404 ? undefined : parsed(modelStatsSchema, statsUrl, m.body),
  };
}
