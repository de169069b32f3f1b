// Shadow traffic's Prometheus series and its log line (router/shadow/traffic.ts ShadowSink),
// on the process's registry. Labels: model and candidate come from the fleet file's `shadow:`,
// role is primary | shadow, result and outcome are fixed words: every label set is bounded.
//   kvfleet_shadow_requests_total{model,candidate,result}   mirrored | skipped_policy | skipped_asleep | lost
//   kvfleet_shadow_responses_total{model,candidate,role,outcome}   ok | error (status 0 or ≥ 400)
//   kvfleet_shadow_ttfb_seconds{model,candidate,role}       time to the first upstream byte (ok only)
//   kvfleet_shadow_duration_seconds{model,candidate,role}   time to the last byte (ok only)
//   kvfleet_shadow_completion_tokens{model,candidate,role}  per response (histogram)
//   kvfleet_shadow_cost_usd_total{model,candidate,role}     tokens × the serving model's priors
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../../obs/logger.js';
import { isError } from './pair-stats.js';
import type { ShadowSink } from './traffic.js';

const SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function shadowMetrics(registry: Registry, log?: Logger): ShadowSink {
  const registers = [registry];
  const requests = new Counter({
    name: 'kvfleet_shadow_requests_total',
    help: 'Sampled requests per shadow pair: mirrored to the candidate, skipped because the policy keeps it from the candidate or the candidate sleeps, or lost (the copy never came back to kvfleet)',
    labelNames: ['model', 'candidate', 'result'],
    registers,
  });
  const responses = new Counter({
    name: 'kvfleet_shadow_responses_total',
    help: 'Ends of mirrored primaries and of their shadows, by role and outcome (error: no response or status >= 400)',
    labelNames: ['model', 'candidate', 'role', 'outcome'],
    registers,
  });
  const ttfb = new Histogram({
    name: 'kvfleet_shadow_ttfb_seconds',
    help: 'Time to the first upstream byte of mirrored primaries and their shadows (successful ones)',
    labelNames: ['model', 'candidate', 'role'],
    buckets: SECONDS,
    registers,
  });
  const duration = new Histogram({
    name: 'kvfleet_shadow_duration_seconds',
    help: 'Time to the last byte of mirrored primaries and their shadows (successful ones)',
    labelNames: ['model', 'candidate', 'role'],
    buckets: SECONDS,
    registers,
  });
  const tokens = new Histogram({
    name: 'kvfleet_shadow_completion_tokens',
    help: 'Completion tokens per response of mirrored primaries and their shadows (the meter reading)',
    labelNames: ['model', 'candidate', 'role'],
    buckets: [1, 4, 16, 64, 256, 1024, 4096],
    registers,
  });
  const cost = new Counter({
    name: 'kvfleet_shadow_cost_usd_total',
    help: 'Cost of mirrored primaries and their shadows: tokens x the serving model priors, USD',
    labelNames: ['model', 'candidate', 'role'],
    registers,
  });
  return {
    selected: (model, candidate, result) => requests.inc({ model, candidate, result }),
    outcome: (model, candidate, role, o) => {
      const error = isError(o.status);
      responses.inc({ model, candidate, role, outcome: error ? 'error' : 'ok' });
      if (error) return;
      if (o.ttfbMs !== undefined) ttfb.observe({ model, candidate, role }, o.ttfbMs / 1000);
      if (o.totalMs !== undefined) duration.observe({ model, candidate, role }, o.totalMs / 1000);
    },
    tokens: (model, candidate, role, completion, usd) => {
      tokens.observe({ model, candidate, role }, completion);
      cost.inc({ model, candidate, role }, usd);
    },
    ended: (l) =>
      log?.info(
        {
          rid: l.requestId,
          model: l.model,
          candidate: l.candidate,
          served: l.endpoint,
          status: l.status,
          ttfb_ms: l.ttfbMs !== undefined ? Math.round(l.ttfbMs) : undefined,
          ms: l.totalMs !== undefined ? Math.round(l.totalMs) : undefined,
          error: l.error,
        },
        'shadow',
      ),
  };
}
