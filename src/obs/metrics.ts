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
  readonly usageTokens: Counter<'model' | 'kind'>;
  readonly usageCostUsd: Counter<'model'>;
  readonly meterReadings: Counter<'source'>;
  readonly stateBackendUp: Gauge<'backend'>;
  readonly shed: Counter<'priority'>;
  readonly budgetAlerts: Counter<'scope'>;
  readonly held: Gauge;
  readonly recordLines: Counter<'result'>;
}

/** Period of the event-loop delay sampler behind kvfleet_nodejs_eventloop_lag_*. */
export const EVENT_LOOP_SAMPLE_MS = 50;

export function createMetrics(): Metrics {
  const registry = new Registry();
  // The event-loop delay histogram samples on a timer of this period: prom-client's 10 ms
  // default woke an idle kvfleet 100 times a second (most of its idle CPU); a stall longer
  // than 50 ms still shows in full.
  collectDefaultMetrics({ register: registry, prefix: 'kvfleet_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
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
      help: 'Ends of routed requests (Envoy access log), by model and status class',
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
    usageTokens: new Counter({
      name: 'kvfleet_usage_tokens_total',
      help: 'Tokens of metered responses, by model and kind (prompt, completion, cached)',
      labelNames: ['model', 'kind'],
      registers,
    }),
    usageCostUsd: new Counter({
      name: 'kvfleet_usage_cost_usd_total',
      help: 'Cost of metered responses (tokens × the model priors), USD',
      labelNames: ['model'],
      registers,
    }),
    meterReadings: new Counter({
      name: 'kvfleet_meter_readings_total',
      help: 'Metered responses by where their usage came from: reported (the usage object) or counted (chunks; not asked for, or cut)',
      labelNames: ['source'],
      registers,
    }),
    stateBackendUp: new Gauge({
      name: 'kvfleet_state_backend_up',
      help: 'The shared state backend can be reached (1) or not (0)',
      labelNames: ['backend'],
      registers,
    }),
    shed: new Counter({
      name: 'kvfleet_flow_shed_total',
      help: 'Requests flow control shed (429 overloaded), by priority',
      labelNames: ['priority'],
      registers,
    }),
    budgetAlerts: new Counter({
      name: 'kvfleet_budget_alerts_total',
      help: 'Budgets that crossed their alert_at share in a window (once per window and kvfleet instance), by scope',
      labelNames: ['scope'],
      registers,
    }),
    held: new Gauge({ name: 'kvfleet_flow_held', help: 'Requests flow control holds right now', registers }),
    recordLines: new Counter({
      name: 'kvfleet_record_lines_total',
      help: 'record: lines written, dropped (the writer is behind, or a line longer than max_file_mb) or failed (a write error)',
      labelNames: ['result'],
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
