// GET /tenants/{id}/usage on the admin port: what a tenant has used and has left, from the
// usage store (shared by every kvfleet instance when it is Redis):
//   usage    requests, prompt / completion / cached tokens and USD of metered requests, for
//            the current UTC day and month
//   budgets  each configured budget: limit, spent, remaining, when it resets, exhausted
//   limits   each rate limit: per minute, remaining right now, when the window empties
import { gcraPeek } from '../core/limits/gcra.js';
import { RATE_WINDOW_MS, scopeChecks } from '../core/limits/plan.js';
import { kvError } from '../errors.js';
import { decodeSegment } from '../request/headers.js';
import type { Router } from '../router/router.js';
import { sendError, sendJson, type AdminRoute } from './http-server.js';

const PATH = /^\/tenants\/([^/]+)\/usage$/;

export function usageRoute(router: Router, wallNow: () => number = Date.now): AdminRoute {
  return async (req, res, url) => {
    const m = PATH.exec(url.pathname);
    if (m === null) return false;
    if (req.method !== 'GET') {
      sendError(res, kvError('method_not_allowed', { path: '/tenants/{id}/usage', allowed: 'GET' }));
      return true;
    }
    const id = decodeSegment(m[1] ?? '') ?? '';
    const tenant = router.fleet().policy.tenants.get(id);
    if (tenant === undefined) {
      sendError(res, kvError('unknown_tenant', { id }));
      return true;
    }
    const now = wallNow();
    const checks = scopeChecks('tenant', id, tenant.limits, tenant.budget, now);
    try {
      const [values, usage] = await Promise.all([router.usage.peek(checks.map((c) => c.key)), router.usage.usage(id, now)]);
      const budgets = checks.flatMap((c) => {
        if (c.kind !== 'budget') return [];
        const spent = values.get(c.key) ?? 0;
        return [
          {
            window: c.window,
            unit: c.unit,
            limit: c.limit,
            spent,
            remaining: Math.max(0, c.limit - spent),
            exhausted: spent >= c.limit,
            resets_at: new Date(c.resetAt).toISOString(),
            on_exhausted: c.onExhausted,
          },
        ];
      });
      const limits = checks.flatMap((c) => {
        if (c.kind !== 'rate') return [];
        const p = gcraPeek(values.get(c.key), now, c.limit, RATE_WINDOW_MS);
        return [{ unit: c.unit, per_minute: c.limit, remaining: p.remaining, reset_ms: Math.round(p.resetMs) }];
      });
      sendJson(res, 200, {
        tenant: id,
        backend: router.usage.backend,
        usage: usage.map((u) => ({
          window: u.window,
          id: u.id,
          requests: u.requests,
          prompt_tokens: u.promptTokens,
          completion_tokens: u.completionTokens,
          cached_tokens: u.cachedTokens,
          usd: u.usd,
        })),
        budgets,
        limits,
      });
    } catch {
      sendError(res, kvError('state_unavailable', {}, 1));
    }
    return true;
  };
}
