// Decision → the full explanation (JSON) for POST /v1/route/explain,
// GET /debug/decisions/{id} and `kvfleet explain --json`. Identifiers, numbers and
// reason codes only: never prompt text.
import type { Decision } from './types.js';

const r3 = (x: number) => Math.round(x * 1000) / 1000;

export function explainDecision(d: Decision, decisionUs?: number): Record<string, unknown> {
  return {
    request_id: d.requestId,
    model: d.model.name,
    model_id: d.model.model_id,
    cluster: d.model.cluster,
    endpoints: d.endpoints,
    strategy: d.strategy,
    score: r3(d.score),
    priority: d.priority,
    policy: {
      tenant: d.policy.tenant ?? null,
      data_class: d.policy.dataClass,
      pii: d.policy.detected,
      actions: d.policy.actions,
      rules: d.policy.rules,
    },
    affinity: { kind: d.affinity.kind, score: r3(d.affinity.score), matched_blocks: d.affinity.matchedBlocks },
    session: d.session ?? null,
    domain: d.domain ?? null,
    reasons: d.reasons,
    prompt: d.prompt,
    candidates: d.candidates.map((c) => ({
      model: c.model,
      strategy_score: r3(c.strategyScore),
      total: r3(c.total),
      scores: Object.fromEntries(Object.entries(c.scores).map(([k, v]) => [k, r3(v)])),
      price_usd: c.priceUsd,
      endpoint: c.endpoint ?? null,
      ttft_ms: c.ttftMs !== undefined ? r3(c.ttftMs) : null,
    })),
    fallback_models: d.fallbackModels,
    rejected: d.rejected,
    load_bound: r3(d.loadBound),
    endpoint_count: d.endpointCount,
    endpoint_details: d.endpointDetails.map((e) => ({
      address: e.address,
      role:
        d.endpoints[0] === e.address ? 'primary' : d.endpoints.includes(e.address) ? 'fallback' : !e.healthy ? 'unhealthy' : e.cooling ? 'cooling' : 'unused',
      healthy: e.healthy,
      cooling: e.cooling,
      stale: e.stale,
      inflight: e.inflight,
      load: e.load,
      matched_blocks: e.matchedBlocks,
      wait_ms: r3(e.waitMs),
      prefill_ms: r3(e.prefillMs),
      ttft_ms: r3(e.ttftMs),
      ring_rank: e.ringRank,
    })),
    ...(decisionUs !== undefined ? { decision_us: Math.round(decisionUs) } : {}),
  };
}
