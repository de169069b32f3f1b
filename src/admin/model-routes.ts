// Model traffic and sleep on the admin port:
//   GET  /models/stats[?window=s]                  every model: rate over the window, last request,
//                                                  in flight, state (active, idle, sleeping, waking,
//                                                  falling_asleep), its sleep settings
//   GET  /models/idle[?threshold=s]                models idle (no request for threshold s) or asleep
//   GET  /models/active[?threshold=s][&window=s]   the others
//   POST /models/{model}/sleep                     put its replicas to sleep (409 while requests run)
//   POST /models/{model}/wake                      wake them; answers once a replica is awake
// The model name is a path segment, URL-encoded when it holds a `/` (or not: the rest of the
// path up to /sleep or /wake is the name). Traffic is what this instance routed; the last
// request time includes other instances' when state is shared.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Fleet, Model } from '../config/fleet.js';
import { isKvError, kvError } from '../errors.js';
import type { ModelTraffic } from '../fleet/model-traffic.js';
import type { ModelSleepState, SleepController } from '../fleet/sleep-controller.js';
import { decodeSegment } from '../request/headers.js';
import { sendError, sendJson, type AdminRoute } from './http-server.js';

export type ModelActivity = 'active' | 'idle' | Exclude<ModelSleepState, 'awake'>;

export interface ModelStatsEntry {
  readonly model: string;
  readonly state: ModelActivity;
  readonly requests_per_second: number;
  readonly requests_in_window: number;
  readonly requests_total: number;
  readonly last_request_at: string | null;
  readonly idle_seconds: number;
  readonly inflight: number;
  readonly sleep: { readonly idle_seconds: number; readonly auto: boolean; readonly min_sleep_seconds: number; readonly wake_timeout_ms: number } | null;
}

export interface ModelRoutesDeps {
  readonly fleet: () => Fleet;
  readonly traffic: ModelTraffic;
  readonly sleep: SleepController;
}

const ACTION = /^\/models\/(.+)\/(sleep|wake)$/;
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

/** One model's entry: active when a request came within `thresholdS` (its sleep.idle_seconds, else traffic.idle_seconds). */
export function modelEntry(d: ModelRoutesDeps, m: Model, windowS: number, thresholdS?: number): ModelStatsEntry {
  const s = d.traffic.stats(m.name, windowS);
  const idleMs = d.traffic.idleMs(m.name);
  const threshold = thresholdS ?? m.sleep?.idle_seconds ?? d.fleet().file.traffic.idle_seconds;
  const sleepState = d.sleep.state(m.name);
  const state: ModelActivity = sleepState !== 'awake' ? sleepState : idleMs < threshold * 1000 || s.inflight > 0 ? 'active' : 'idle';
  return {
    model: m.name,
    state,
    requests_per_second: round(s.requestsPerSecond),
    requests_in_window: s.requestsInWindow,
    requests_total: s.total,
    last_request_at: s.lastWall === undefined ? null : new Date(s.lastWall).toISOString(),
    idle_seconds: round(idleMs / 1000, 1),
    inflight: s.inflight,
    sleep:
      m.sleep === undefined
        ? null
        : { idle_seconds: m.sleep.idle_seconds, auto: m.sleep.auto, min_sleep_seconds: m.sleep.min_sleep_seconds, wake_timeout_ms: m.sleep.wake_timeout_ms },
  };
}

/** A positive whole number of seconds from the query, the default when absent; a KvError naming it otherwise. */
function seconds(url: URL, name: string, fallback: number | undefined, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max)
    throw kvError('invalid_field', { param: name, must: `be a number of seconds above 0, at most ${max}` });
  return n;
}

const isActive = (e: ModelStatsEntry) => e.state === 'active' || e.state === 'waking';

export function modelRoutes(d: ModelRoutesDeps): AdminRoute {
  return async (req, res, url) => {
    const path = url.pathname;
    if (path === '/models/stats' || path === '/models/idle' || path === '/models/active') {
      if (req.method !== 'GET') {
        sendError(res, kvError('method_not_allowed', { path, allowed: 'GET' }));
        return true;
      }
      try {
        const fleet = d.fleet();
        const maxWindow = fleet.file.traffic.max_window_seconds;
        const windowS = seconds(url, 'window', Math.min(60, maxWindow), maxWindow) ?? 60;
        const threshold = path === '/models/stats' ? undefined : seconds(url, 'threshold', undefined, 30 * 86_400);
        let models = fleet.models.map((m) => modelEntry(d, m, windowS, threshold));
        if (path === '/models/idle') models = models.filter((e) => !isActive(e));
        if (path === '/models/active') models = models.filter(isActive);
        sendJson(res, 200, { window_seconds: windowS, models });
      } catch (e) {
        if (!isKvError(e)) throw e;
        sendError(res, e);
      }
      return true;
    }
    const action = ACTION.exec(path);
    if (action === null) return false;
    if (req.method !== 'POST') {
      sendError(res, kvError('method_not_allowed', { path: `/models/{model}/${action[2] ?? ''}`, allowed: 'POST' }));
      return true;
    }
    await act(d, req, res, decodeSegment(action[1] ?? '') ?? '', action[2] === 'sleep' ? 'sleep' : 'wake');
    return true;
  };
}

async function act(d: ModelRoutesDeps, req: IncomingMessage, res: ServerResponse, name: string, what: 'sleep' | 'wake'): Promise<void> {
  req.resume();
  const m = d.fleet().byName.get(name);
  if (m === undefined) return sendError(res, kvError('unknown_model', { param: 'model' }));
  try {
    if (what === 'sleep') {
      const state = await d.sleep.sleep(m, 'admin');
      if (state === 'awake') return sendError(res, kvError('sleep_failed', { model: m.name }));
      return sendJson(res, 200, { model: m.name, state });
    }
    const ready = d.sleep.ready(m);
    if (ready !== true) await ready;
    sendJson(res, 200, { model: m.name, state: d.sleep.state(m.name) });
  } catch (e) {
    if (!isKvError(e)) throw e;
    sendError(res, e);
  }
}
