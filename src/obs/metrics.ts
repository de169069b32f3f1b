// Prometheus metrics (prom-client) on a registry owned by the process, not the
// library's global one. Label values come only from the fleet file and the error
// catalogue, so every label set is bounded.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly decisions: Counter<'model' | 'strategy' | 'affinity'>;
  readonly rejections: Counter<'code'>;
  readonly decisionSeconds: Histogram;
  readonly upstreamResponses: Counter<'model' | 'status_class'>;
  readonly timeToHeadersSeconds: Histogram<'model'>;
  readonly activeStreams: Gauge;
  readonly endpointInflight: Gauge<'endpoint'>;
  readonly fleetReloads: Counter<'result'>;
  readonly policyDecisions: Counter<'rule' | 'action'>;
  readonly tenantRequests: Counter<'tenant'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kvfleet_' });
  const registers = [registry];
  return {
    registry,
    decisions: new Counter({
      name: 'kvfleet_decisions_total',
      help: 'Routing decisions by chosen model, strategy and affinity kind',
      labelNames: ['model', 'strategy', 'affinity'],
      registers,
    }),
    rejections: new Counter({
      name: 'kvfleet_rejections_total',
      help: 'Requests kvfleet answered itself with an error, by error code',
      labelNames: ['code'],
      registers,
    }),
    decisionSeconds: new Histogram({
      name: 'kvfleet_decision_seconds',
      help: 'Time spent deciding (body parse to mutation built)',
      buckets: [25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3],
      registers,
    }),
    upstreamResponses: new Counter({
      name: 'kvfleet_upstream_responses_total',
      help: 'Upstream responses seen in the response-headers phase, by model and status class',
      labelNames: ['model', 'status_class'],
      registers,
    }),
    timeToHeadersSeconds: new Histogram({
      name: 'kvfleet_time_to_response_headers_seconds',
      help: 'From the decision to the upstream response headers (includes Envoy retries)',
      labelNames: ['model'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    activeStreams: new Gauge({ name: 'kvfleet_extproc_streams', help: 'Open ext_proc streams', registers }),
    endpointInflight: new Gauge({
      name: 'kvfleet_endpoint_inflight',
      help: 'Requests kvfleet has sent to an endpoint that have not completed',
      labelNames: ['endpoint'],
      registers,
    }),
    policyDecisions: new Counter({
      name: 'kvfleet_policy_decisions_total',
      help: 'Policy effects: rule = pii:<detector> | rule:<name> | class:<class> | tenant:<check>; action = route_private | redact | block | deny | exclude',
      labelNames: ['rule', 'action'],
      registers,
    }),
    tenantRequests: new Counter({
      name: 'kvfleet_tenant_requests_total',
      help: 'Requests by tenant (only tenants of the fleet file)',
      labelNames: ['tenant'],
      registers,
    }),
    fleetReloads: new Counter({
      name: 'kvfleet_fleet_reloads_total',
      help: 'Fleet file reloads by result (ok, invalid)',
      labelNames: ['result'],
      registers,
    }),
  };
}
