// GET /debug/decisions[?limit=n]: the newest decisions of the ring first, each as a short
// summary (what was chosen and why) for the dashboard and scripts; the full explanation of
// one stays GET /debug/decisions/{request_id}. Identifiers, numbers and reason codes only,
// never prompt text (a decision holds none).
import type { RingEntry } from '../core/learned/decision-ring.js';
import type { Decision } from '../core/types.js';
import { isKvError, kvError } from '../errors.js';
import type { Router } from '../router/router.js';
import { sendError, sendJson, type AdminRoute } from './http-server.js';

/** Decisions listed when the query names no limit, and the most one answer lists. */
export const DEFAULT_DECISION_LIMIT = 50;
export const MAX_DECISION_LIMIT = 1000;

const r3 = (x: number) => Math.round(x * 1000) / 1000;

export function decisionSummary(e: RingEntry<Decision>): Record<string, unknown> {
  const d = e.value;
  return {
    request_id: d.requestId,
    at: e.at !== undefined ? new Date(e.at).toISOString() : null,
    model: d.model.name,
    cluster: d.model.cluster,
    endpoint: d.endpoints[0] ?? null,
    fallbacks: d.endpoints.slice(1),
    strategy: d.strategy,
    score: r3(d.score),
    affinity: { kind: d.affinity.kind, score: r3(d.affinity.score) },
    reasons: d.reasons,
    priority: d.priority,
    tenant: d.policy.tenant ?? null,
    data_class: d.policy.dataClass,
    pii: d.policy.detected,
    prompt_tokens: d.prompt.tokens,
    candidates: d.candidates.map((c) => ({ model: c.model, total: r3(c.total) })),
    rejected: d.rejected,
  };
}

/** `?limit=`: an integer 1..min(capacity, MAX_DECISION_LIMIT); absent → DEFAULT_DECISION_LIMIT (or fewer). */
export function decisionLimit(raw: string | null, capacity: number): number {
  const max = Math.min(capacity, MAX_DECISION_LIMIT);
  if (raw === null) return Math.min(DEFAULT_DECISION_LIMIT, max);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > max) throw kvError('invalid_field', { param: 'limit', must: `be an integer from 1 to ${max}` });
  return n;
}

export function decisionListRoute(router: Router): AdminRoute {
  return (req, res, url) => {
    if (req.method !== 'GET' || url.pathname !== '/debug/decisions') return false;
    const ring = router.decisions;
    let limit: number;
    try {
      limit = decisionLimit(url.searchParams.get('limit'), ring.capacity);
    } catch (e) {
      if (!isKvError(e)) throw e;
      sendError(res, e);
      return true;
    }
    const decisions = ring.newest(limit).map(decisionSummary);
    sendJson(res, 200, { capacity: ring.capacity, count: decisions.length, decisions });
    return true;
  };
}
