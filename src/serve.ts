// `kvfleet serve`: wires the fleet, live state, the ext_proc gRPC server and the
// admin HTTP server together. The only place that owns process-wide state.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { dashboardRoutes } from './admin/dashboard-routes.js';
import { decisionRoutes } from './admin/decision-routes.js';
import { sendJson, startAdminServer, type AdminRoute } from './admin/http-server.js';
import type { Fleet } from './config/fleet.js';
import { FleetFileError, loadFleetFile } from './config/load.js';
import { fleetEndpoints } from './core/membership.js';
import { exchangeEnv } from './extproc/exchange-env.js';
import { startExtProcServer } from './extproc/server.js';
import { warmUp } from './extproc/warm-up.js';
import { circuitSettings, startFleetState } from './fleet/fleet-state.js';
import { LiveEndpoints } from './fleet/live-endpoints.js';
import { reportExchange } from './router/report-log.js';
import { createLogger, type Logger } from './obs/logger.js';
import { createMetrics, type Metrics } from './obs/metrics.js';
import type { RequestReport } from './router/report.js';
import { Router } from './router/router.js';
import { startKvIndex, withKvEvents } from './fleet/kv-events/kv-index-start.js';
import { createLearnedState } from './core/learned/learned-state.js';
import { openSignals, openUsageStore } from './state/open-store.js';
import { usageRoute } from './admin/usage-routes.js';
import { fleetSources, watchFiles } from './config/file-watch.js';
import { ModelTraffic } from './fleet/model-traffic.js';
import { SleepController } from './fleet/sleep-controller.js';
import { engineSleepApi } from './fleet/engine-sleep.js';
import { registerModelMetrics } from './fleet/model-metrics.js';
import { modelRoutes } from './admin/model-routes.js';
import { ShadowTraffic } from './router/shadow/traffic.js';
import { shadowMetrics } from './router/shadow/shadow-metrics.js';
import { shadowRoute } from './admin/shadow-routes.js';
import { ResponseCache } from './router/response-cache.js';
import { responseCacheMetrics } from './obs/response-cache-metrics.js';
import { Recorder } from './router/recorder.js';

export interface ServeOptions {
  readonly fleetPath: string;
  /** Overrides of the fleet file's listen ports (0 = pick a free port). */
  readonly grpcPort?: number | undefined;
  readonly adminPort?: number | undefined;
  readonly logger?: Logger | undefined;
}

export interface Running {
  readonly grpcPort: number;
  readonly adminPort: number;
  readonly fleet: () => Fleet;
  readonly live: LiveEndpoints;
  readonly router: Router;
  readonly metrics: Metrics;
  readonly traffic: ModelTraffic;
  readonly sleep: SleepController;
  /** Re-read the fleet file; an invalid file keeps the current fleet. */
  reload(): Promise<{ ok: boolean; problems: readonly string[] }>;
  /** Drain open streams (up to the fleet's drain_seconds), then close everything. */
  stop(graceMs?: number): Promise<void>;
}

export async function serve(opts: ServeOptions): Promise<Running> {
  const log = opts.logger ?? createLogger();
  let fleet = await loadFleetFile(opts.fleetPath);
  const live = new LiveEndpoints({ circuit: circuitSettings(fleet) });
  const metrics = createMetrics();
  // Precise prefix index from the engines' KV events (models[].kv_events; fleet/kv-events/kv-index.ts); first, so a tokenizer that cannot be read stops the start before anything runs.
  const kvIndex = startKvIndex({ fleet, fleetPath: opts.fleetPath, live, registry: metrics.registry, log });
  // record: requests to a JSON Lines file at their end (router/recorder.ts); off without it.
  const recorder = await Recorder.open(fleet.file.record, {
    now: () => performance.now(),
    onError: (e) => log.error({ err: String(e), path: recorder.path }, 'record: writing failed; lines are lost'),
    onCount: (result, n) => metrics.recordLines.inc({ result }, n),
  });
  // Engine scrapers + Envoy admin discovery → live (off the request path; docs/fleet-state.md).
  const fleetState = startFleetState(fleet, live, metrics.registry, log);
  const report = (r: RequestReport) => {
    reportExchange(log, metrics, r);
    recorder.record(r);
  };
  const usage = openUsageStore(fleet, log, metrics);
  const traffic = new ModelTraffic(Date.now, fleet.file.traffic.max_window_seconds);
  // Idle sleep and wake-on-request (models[].sleep, admin POST /models/{m}/sleep|wake).
  let tellSleep: (model: string, state: 'sleeping' | 'awake') => void = () => undefined;
  const learned = createLearnedState(fleet);
  const sleep = new SleepController({
    fleet: () => fleet,
    live,
    traffic,
    api: engineSleepApi(),
    now: () => performance.now(),
    forget: (address) => learned.index.forget(address),
    coolDown: (address, until) => live.coolDown(address, until, 'waking'),
    endCoolDown: (address) => live.endCoolDown(address, 'waking'),
    events: {
      changed: (model, state, reason) => {
        modelMetrics.stateChanges.inc({ model, state });
        log.info({ model, state, reason }, 'model sleep state');
        if ((state === 'sleeping' || state === 'awake') && reason !== 'another instance') tellSleep(model, state);
      },
      woke: (model, ms, ok) => modelMetrics.wakeSeconds.observe({ model, result: ok ? 'ok' : 'failed' }, ms / 1000),
      failed: (model, address, what, error) => log.warn({ model, endpoint: address, what, error }, 'engine sleep call failed'),
    },
  });
  const modelMetrics = registerModelMetrics(metrics.registry, () => fleet, traffic, sleep);
  const router = new Router({
    state: learned,
    traffic,
    wake: sleep,
    kvIndex,
    fleet: () => fleet,
    live,
    endpoints: live,
    now: () => performance.now(),
    report,
    onOutcome: (e) => fleetState.onOutcome(e),
    usage,
    onUsage: (routed, actual, usd, reported) => {
      const model = routed.decision.model.name;
      metrics.usageTokens.inc({ model, kind: 'prompt' }, actual.promptTokens);
      metrics.usageTokens.inc({ model, kind: 'completion' }, actual.completionTokens);
      metrics.usageTokens.inc({ model, kind: 'cached' }, actual.cachedTokens ?? 0);
      metrics.usageCostUsd.inc({ model }, usd);
      metrics.meterReadings.inc({ source: reported ? 'reported' : 'counted' });
      const source = reported ? 'reported' : 'counted';
      recorder.usage(routed.key, {
        prompt: actual.promptTokens,
        completion: actual.completionTokens,
        cached: reported ? actual.cachedTokens : undefined,
        source,
      });
    },
    onShed: (priority) => metrics.shed.inc({ priority }),
    onBudgetAlert: (c, share) => {
      metrics.budgetAlerts.inc({ scope: c.scope });
      log.warn(
        { scope: c.scope, id: c.id, window: c.window, unit: c.unit, limit: c.limit, spent_share: Number(share.toFixed(3)) },
        'budget past its alert threshold',
      );
    },
  });

  const signals = openSignals(fleet, router.instance);
  router.share(signals);
  tellSleep = (model, state) => signals.publish({ t: 'sleep', model, state });
  // kvfleet restarted while models slept: ask their engines, then watch for idle models.
  void sleep.probe().catch(() => undefined);
  sleep.start();
  // Shadow traffic (fleet `shadow:`): mirrored copies routed to candidates, outcomes per pair.
  const shadow = new ShadowTraffic({
    router,
    endpoints: live,
    now: () => performance.now(),
    sink: shadowMetrics(metrics.registry, log),
    asleep: (model) => sleep.state(model) !== 'awake',
  });
  router.ends.observer = shadow;

  // response_cache: (off unless enabled; read from the current fleet, emptied by a reload).
  const cacheMetrics = responseCacheMetrics(metrics.registry);
  const responseCache = new ResponseCache({ fleet: () => fleet, now: () => performance.now(), hooks: cacheMetrics.hooks });
  cacheMetrics.watch(responseCache);

  const env = exchangeEnv(router, {
    newRequestId: () => randomUUID(),
    report,
    onInternalError: (e) => log.error({ err: e }, 'internal error while processing a request'),
    shadow,
    responseCache,
  });

  const warmMs = warmUp(fleet);
  const grpcListen = { host: fleet.server.grpc.host, port: opts.grpcPort ?? fleet.server.grpc.port };
  const ext = await startExtProcServer(env, grpcListen, {
    onStreamCountChange: (n) => metrics.activeStreams.set(n),
    // Envoy's access log: request ends, per-attempt outcomes, long streams still running.
    onAccessLog: (e) => router.ended(e),
  });
  // Ends that never come (kvfleet was down, the log unreachable) expire even without traffic.
  const expiry = setInterval(() => {
    router.ends.expire();
    shadow.expire();
  }, 1000);
  expiry.unref();

  const metricsRoute: AdminRoute = async (req, res, url) => {
    if (req.method !== 'GET' || url.pathname !== '/metrics') return false;
    metrics.endpointInflight.reset();
    metrics.held.set(router.flow.waiting);
    for (const e of live.snapshot()) metrics.endpointInflight.set({ endpoint: e.address }, e.inflight);
    const text = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType });
    res.end(text);
    return true;
  };
  let draining = false;
  const healthRoute: AdminRoute = (req, res, url) => {
    if (url.pathname === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return true;
    }
    if (url.pathname === '/readyz') {
      sendJson(res, draining ? 503 : 200, { status: draining ? 'draining' : 'ready', streams: ext.activeStreams() });
      return true;
    }
    return false;
  };
  const fleetRoute: AdminRoute = (req, res, url) => {
    if (req.method !== 'GET' || url.pathname !== '/fleet') return false;
    sendJson(res, 200, withKvEvents(fleetState.view(), kvIndex));
    return true;
  };
  const adminListen = { host: fleet.server.admin.host, port: opts.adminPort ?? fleet.server.admin.port };
  const admin = await startAdminServer(adminListen, [
    metricsRoute,
    healthRoute,
    fleetRoute,
    ...decisionRoutes(router),
    usageRoute(router),
    modelRoutes({ fleet: () => fleet, traffic, sleep }),
    shadowRoute(shadow),
    dashboardRoutes(),
  ]);

  log.info(
    {
      grpc: `${grpcListen.host}:${ext.port}`,
      admin: `${adminListen.host}:${admin.port}`,
      models: fleet.models.map((m) => m.name),
      warm_up_ms: Math.round(warmMs),
      record: recorder.path,
    },
    'kvfleet serving',
  );

  const reload = async (): Promise<{ ok: boolean; problems: readonly string[] }> => {
    try {
      const next = await loadFleetFile(opts.fleetPath);
      fleet = next;
      fleetState.update(next);
      live.retain(fleetEndpoints(next.models, live));
      router.retain(next);
      traffic.retain(new Set(next.models.map((m) => m.name)), next.file.traffic.max_window_seconds);
      sleep.retain(next);
      kvIndex.update(next);
      await recorder
        .configure(next.file.record)
        .catch((e: unknown) => log.error({ err: String(e) }, 'record: cannot open the new record.path; keeping the current file'));
      metrics.fleetReloads.inc({ result: 'ok' });
      log.info({ models: next.models.map((m) => m.name) }, 'fleet reloaded');
      return { ok: true, problems: [] };
    } catch (e) {
      const problems = e instanceof FleetFileError ? e.problems : [String(e)];
      metrics.fleetReloads.inc({ result: 'invalid' });
      log.error({ problems }, 'fleet reload failed; keeping the current fleet');
      return { ok: false, problems };
    }
  };

  // A changed fleet file (a ConfigMap update, an edit) is reloaded like a SIGHUP.
  const watchMs = fleet.server.watch_seconds * 1000;
  const watch =
    watchMs > 0
      ? watchFiles(fleetSources(opts.fleetPath, fleet), watchMs, async () => {
          log.info({ file: opts.fleetPath }, 'fleet file changed; reloading');
          await reload();
          return fleetSources(opts.fleetPath, fleet);
        })
      : undefined;

  return {
    grpcPort: ext.port,
    adminPort: admin.port,
    fleet: () => fleet,
    live,
    router,
    metrics,
    traffic,
    sleep,
    reload: async () => {
      const r = await reload();
      await watch?.rebase(fleetSources(opts.fleetPath, fleet));
      return r;
    },
    stop: async (graceMs = fleet.server.drain_seconds * 1000) => {
      draining = true;
      clearInterval(expiry);
      watch?.stop();
      router.flow.stop();
      sleep.stop();
      log.info({ streams: ext.activeStreams(), grace_ms: graceMs }, 'draining');
      await ext.drain(graceMs);
      await fleetState.stop();
      await kvIndex.close();
      await usage.close();
      await signals.close();
      await admin.close();
      await recorder.close();
      log.info('stopped');
      log.flush();
    },
  };
}
