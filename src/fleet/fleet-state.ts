// The live fleet state service: engine scrapers + Envoy admin discovery feeding
// LiveEndpoints, their metrics, and the JSON of GET /fleet. Everything here runs
// off the request path; the decision only reads LiveEndpoints.
// serve.ts calls startFleetState once, update() on every fleet reload, stop() on exit.
import type { Registry } from 'prom-client';
import { endpointsOf } from '../core/membership.js';
import type { Logger } from '../obs/logger.js';
import { EnvoyAdminPoller } from './envoy-admin.js';
import type { Fleet } from '../config/fleet.js';
import { createFleetStateMetrics } from './fleet-state-metrics.js';
import type { CircuitSettings } from './circuit.js';
import type { LiveEndpoints } from './live-endpoints.js';
import type { OutcomeEffects } from './outcomes.js';
import { parseEndpoint } from '../config/endpoint-address.js';
import { scrapedEngine } from './scrapers/engines.js';
import { Scraper, type ScrapeTarget } from './scrapers/scraper.js';

export interface FleetState {
  /** The fleet file was reloaded. */
  update(fleet: Fleet): void;
  /** Metrics and logs for what one response taught kvfleet (ExchangeEnv.onOutcome). */
  onOutcome(e: OutcomeEffects): void;
  /** Body of GET /fleet. */
  view(): unknown;
  stop(): Promise<void>;
}

/** Default staleness limit: 4 scrape intervals, at least one second. */
export function staleAfter(fleet: Fleet, intervalMs: number): number {
  return fleet.file.scrape.stale_after_ms ?? Math.max(1000, 4 * intervalMs);
}

/** Scrape targets for the current fleet and membership (first model wins an endpoint listed twice). */
export function scrapeTargets(fleet: Fleet, live: LiveEndpoints): ScrapeTarget[] {
  const s = fleet.file.scrape;
  if (!s.enabled) return [];
  const out = new Map<string, ScrapeTarget>();
  for (const m of fleet.models) {
    const engine = scrapedEngine(m.engine);
    const ms = m.scrape;
    if (engine === undefined || ms?.enabled === false || m.host !== undefined) continue;
    const intervalMs = ms?.interval_ms ?? s.interval_ms;
    for (const address of endpointsOf(m, live)) {
      if (out.has(address)) continue;
      const ep = parseEndpoint(address);
      if (ep === undefined) continue;
      const host = ep.host.includes(':') ? `[${ep.host}]` : ep.host;
      out.set(address, {
        address,
        engine,
        url: `http://${host}:${ms?.port ?? ep.port}${ms?.path ?? s.path}`,
        intervalMs,
        timeoutMs: Math.min(s.timeout_ms, Math.max(10, intervalMs * 4)),
        staleAfterMs: staleAfter(fleet, intervalMs),
      });
    }
  }
  return [...out.values()];
}

export function startFleetState(initial: Fleet, live: LiveEndpoints, registry: Registry, log: Logger): FleetState {
  let fleet = initial;
  const clusterView = () =>
    fleet.models.map((m) => {
      const members = live.members(m.cluster);
      return { cluster: m.cluster, discovered: members !== undefined, endpoints: (members ?? m.endpoints).length };
    });
  const metrics = createFleetStateMetrics(registry, live, clusterView);

  const scraper = new Scraper(live, {
    concurrency: fleet.file.scrape.concurrency,
    maxBytes: fleet.file.scrape.max_bytes,
    onScrape: (t, outcome, ms) => {
      metrics.scrapes.inc({ engine: t.engine, outcome });
      metrics.scrapeSeconds.observe({ engine: t.engine }, ms / 1000);
    },
  });
  const retarget = () => scraper.setTargets(scrapeTargets(fleet, live));

  let poller: EnvoyAdminPoller | undefined;
  let pollerUrl: string | undefined;
  let lastPollError: string | undefined;
  let lastPollOk: number | undefined;
  const startPoller = () => {
    const d = fleet.file.discovery;
    const key = d === undefined ? undefined : JSON.stringify(d);
    if (key === pollerUrl) return;
    void poller?.stop();
    poller = undefined;
    pollerUrl = key;
    if (d?.envoy_admin === undefined) {
      live.retainClusters(new Set());
      return;
    }
    const url = d.envoy_admin;
    poller = new EnvoyAdminPoller(live, {
      url,
      intervalMs: d.interval_ms,
      timeoutMs: d.timeout_ms,
      clusters: () => new Set(fleet.models.map((m) => m.cluster)),
      onPoll: (r) => {
        metrics.envoyPolls.inc({ result: r.ok ? 'ok' : 'error' });
        if (r.ok) {
          if (lastPollError !== undefined) log.info({ envoy_admin: url }, 'Envoy admin reachable again');
          lastPollError = undefined;
          lastPollOk = performance.now();
          if (r.result.changed.length > 0) {
            log.info({ clusters: r.result.changed }, 'cluster membership changed (Envoy admin)');
            retarget();
          }
        } else {
          if (lastPollError === undefined)
            log.warn({ envoy_admin: url, error: r.error }, 'Envoy admin poll failed; keeping the last known membership and health');
          lastPollError = r.error;
        }
      },
    });
    poller.start();
  };

  startPoller();
  retarget();
  scraper.start();

  return {
    update(next) {
      fleet = next;
      startPoller();
      retarget();
    },
    onOutcome(e) {
      if (e.failed.length > 0) metrics.outcomeFailures.inc(e.failed.length);
      for (const a of e.circuitsOpened) {
        metrics.circuitOpens.inc();
        log.warn({ endpoint: a }, "kvfleet's circuit opened for an endpoint after repeated failures");
      }
      if (e.cooled !== undefined) metrics.cooldowns.inc({ reason: e.cooled.reason });
    },
    view() {
      const d = fleet.file.discovery;
      return {
        discovery:
          d === undefined
            ? { enabled: false }
            : {
                enabled: true,
                envoy_admin: d.envoy_admin,
                subset_hint: d.subset_hint,
                interval_ms: d.interval_ms,
                last_ok_ms_ago: lastPollOk !== undefined ? Math.round(performance.now() - lastPollOk) : undefined,
                error: lastPollError,
              },
        scrape: {
          enabled: fleet.file.scrape.enabled,
          targets: scraper
            .targets()
            .map((t) => ({ address: t.address, engine: t.engine, url: t.url, interval_ms: t.intervalMs, stale_after_ms: t.staleAfterMs })),
        },
        models: fleet.models.map((m) => {
          const members = live.members(m.cluster);
          return {
            name: m.name,
            cluster: m.cluster,
            engine: m.engine,
            source: members !== undefined ? 'envoy' : 'fleet_file',
            endpoints: endpointsOf(m, live),
          };
        }),
        endpoints: live.snapshot(),
      };
    },
    async stop() {
      await Promise.all([scraper.stop(), poller?.stop()]);
    },
  };
}

/** kvfleet's circuit settings from the fleet file's `health:` section. */
export function circuitSettings(fleet: Fleet): CircuitSettings {
  const h = fleet.file.health;
  return { failureThreshold: h.failure_threshold, openMs: h.open_ms, maxOpenMs: h.max_open_ms, alpha: h.ema_alpha };
}
