// Prometheus metrics of the live fleet state, on the process registry (obs/metrics.ts).
// Labels: engine kind, scrape outcome, poll result and cooldown reason are fixed
// sets; `endpoint` and `cluster` come only from the fleet file and the Envoy
// clusters it names, and per-endpoint gauges are rebuilt at every collection, so
// a removed endpoint's series disappear with it.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { LiveEndpoints } from './live-endpoints.js';

export interface FleetStateMetrics {
  readonly scrapes: Counter<'engine' | 'outcome'>;
  readonly scrapeSeconds: Histogram<'engine'>;
  readonly envoyPolls: Counter<'result'>;
  readonly outcomeFailures: Counter;
  readonly circuitOpens: Counter;
  readonly cooldowns: Counter<'reason'>;
}

export function createFleetStateMetrics(
  registry: Registry,
  live: LiveEndpoints,
  clusters: () => ReadonlyArray<{ cluster: string; discovered: boolean; endpoints: number }>,
): FleetStateMetrics {
  const registers = [registry];
  const perEndpoint = (name: string, help: string, value: (e: ReturnType<LiveEndpoints['snapshot']>[number]) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['endpoint'],
      registers,
      collect() {
        this.reset();
        for (const e of live.snapshot()) {
          const v = value(e);
          if (v !== undefined) this.set({ endpoint: e.address }, v);
        }
      },
    });
  perEndpoint('kvfleet_endpoint_healthy', '1 when kvfleet may route to the endpoint (Envoy health AND kvfleet circuit)', (e) => (e.healthy ? 1 : 0));
  perEndpoint('kvfleet_endpoint_stale', '1 when engine metrics are scraped but none is fresh (treated as unknown, penalised)', (e) =>
    e.stale === undefined ? undefined : e.stale ? 1 : 0,
  );
  perEndpoint('kvfleet_endpoint_cooling_seconds', 'Seconds left of a rate-limit cooldown (0 when not cooling)', (e) => (e.coolingMs ?? 0) / 1000);
  perEndpoint('kvfleet_endpoint_engine_running', 'Running requests reported by the engine (fresh scrapes only)', (e) => e.engine?.running);
  perEndpoint('kvfleet_endpoint_engine_waiting', 'Queued requests reported by the engine (fresh scrapes only)', (e) => e.engine?.waiting);
  perEndpoint('kvfleet_endpoint_kv_usage', 'KV cache usage 0..1 reported by the engine (fresh scrapes only)', (e) => e.engine?.kvUsage);
  perEndpoint('kvfleet_endpoint_health_score', 'Moving average of outcome success (1) / failure (0)', (e) => e.healthScore);
  perEndpoint('kvfleet_endpoint_latency_ema_seconds', 'Moving average of time to response headers (first-attempt successes)', (e) =>
    e.latencyEmaMs !== undefined ? e.latencyEmaMs / 1000 : undefined,
  );
  new Gauge({
    name: 'kvfleet_cluster_endpoints',
    help: 'Endpoints per model cluster; discovered=1 when learned from Envoy admin, 0 when from the fleet file',
    labelNames: ['cluster', 'discovered'],
    registers,
    collect() {
      this.reset();
      for (const c of clusters()) this.set({ cluster: c.cluster, discovered: c.discovered ? '1' : '0' }, c.endpoints);
    },
  });
  return {
    scrapes: new Counter({
      name: 'kvfleet_engine_scrapes_total',
      help: 'Engine metric scrapes by engine kind and outcome (ok, http_error, timeout, network_error, unrecognised, too_large)',
      labelNames: ['engine', 'outcome'],
      registers,
    }),
    scrapeSeconds: new Histogram({
      name: 'kvfleet_engine_scrape_seconds',
      help: 'Duration of engine metric scrapes',
      labelNames: ['engine'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    envoyPolls: new Counter({
      name: 'kvfleet_envoy_admin_polls_total',
      help: 'Polls of Envoy admin /clusters by result (ok, error)',
      labelNames: ['result'],
      registers,
    }),
    outcomeFailures: new Counter({
      name: 'kvfleet_endpoint_failures_total',
      help: 'Failed upstream attempts kvfleet learned of (5xx, and attempts Envoy retried away from)',
      registers,
    }),
    circuitOpens: new Counter({ name: 'kvfleet_circuit_opens_total', help: "Times kvfleet's own circuit opened for an endpoint", registers }),
    cooldowns: new Counter({
      name: 'kvfleet_endpoint_cooldowns_total',
      help: 'Rate-limit cooldowns started, by reason (429, 429 retry-after, 503 retry-after, ratelimit-requests, ratelimit-tokens)',
      labelNames: ['reason'],
      registers,
    }),
  };
}
