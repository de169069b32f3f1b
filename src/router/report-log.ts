// Renders a RequestReport once: one pino line and the matching metrics.
// Fields are identifiers, numbers and reason codes; never prompt text.
import type { RequestReport } from './report.js';
import type { Logger } from '../obs/logger.js';
import type { Metrics } from '../obs/metrics.js';

/** kvfleet_policy_decisions_total: what the policy did to one request (labels bounded by the fleet file). */
function countPolicy(metrics: Metrics, r: RequestReport): void {
  const a = r.admission;
  if (a !== undefined) {
    for (const d of a.policy.detected) metrics.policyDecisions.inc({ rule: `pii:${d}`, action: a.fleet.policy.pii.actionOf[d] });
    for (const rule of a.policy.rules) metrics.policyDecisions.inc({ rule: `rule:${rule.name}`, action: rule.deny ? 'deny' : 'restrict' });
    if (a.refusal !== undefined && a.policy.detected.length === 0 && a.policy.rules.every((x) => !x.deny)) {
      metrics.policyDecisions.inc({ rule: 'tenant:class', action: 'deny' });
    }
  }
  if (r.error?.code === 'model_not_allowed') metrics.policyDecisions.inc({ rule: 'tenant:model', action: 'deny' });
  for (const x of r.decision?.rejected ?? []) {
    if (x.reason.startsWith('policy:')) metrics.policyDecisions.inc({ rule: x.reason.slice(7), action: 'exclude' });
    else if (x.reason.startsWith('tenant:')) metrics.policyDecisions.inc({ rule: x.reason, action: 'exclude' });
  }
}

export function reportExchange(log: Logger, metrics: Metrics, r: RequestReport): void {
  const d = r.decision;
  if (r.error !== undefined) {
    metrics.rejections.inc({ code: r.error.code });
  }
  if (r.tenant !== undefined) metrics.tenantRequests.inc({ tenant: r.tenant });
  countPolicy(metrics, r);
  if (d !== undefined) {
    metrics.decisions.inc({ model: d.model.name, strategy: d.strategy, affinity: d.affinity.kind });
    if (r.decisionUs !== undefined) metrics.decisionSeconds.observe(r.decisionUs / 1e6);
    if (r.status !== undefined && r.error === undefined) {
      metrics.upstreamResponses.inc({ model: d.model.name, status_class: `${Math.floor(r.status / 100)}xx` });
    }
    if (r.upstreamMs !== undefined) metrics.timeToHeadersSeconds.observe({ model: d.model.name }, r.upstreamMs / 1000);
  }
  // The line's fields are built only when it is written (log level info or below).
  if (!log.isLevelEnabled('info')) return;
  log.info(
    {
      rid: r.requestId,
      api: r.api,
      model: d?.model.name ?? r.cacheHit,
      cache: r.cacheHit !== undefined ? 'hit' : undefined,
      strategy: d?.strategy,
      endpoints: d?.endpoints,
      served: r.servedEndpoint,
      affinity: d !== undefined ? `${d.affinity.kind}:${d.affinity.score.toFixed(2)}` : undefined,
      score: d !== undefined ? Number(d.score.toFixed(3)) : undefined,
      reasons: d?.reasons,
      priority: d?.priority,
      tenant: r.tenant,
      data_class: r.admission !== undefined ? r.admission.fleet.policy.classes[r.admission.policy.dataClass] : undefined,
      pii: r.admission !== undefined && r.admission.policy.detected.length > 0 ? r.admission.policy.detected : undefined,
      domain: d?.domain,
      session: d?.session?.outcome,
      fallback_models: d !== undefined && d.fallbackModels.length > 0 ? d.fallbackModels : undefined,
      decision_us: r.decisionUs !== undefined ? Math.round(r.decisionUs) : undefined,
      status: r.status,
      upstream_ms: r.upstreamMs !== undefined ? Math.round(r.upstreamMs) : undefined,
      stream: r.stream,
      error: r.error?.code,
      param: r.error?.param ?? undefined,
    },
    d !== undefined ? 'decision' : r.cacheHit !== undefined ? 'cache hit' : 'rejected',
  );
}
