// GET /shadow/report on the admin port: shadow traffic per (model, candidate) pair —
// sampled, mirrored, skipped_policy, lost, and the outcomes of the primaries and of their
// shadows (router/shadow/pair-stats.ts). Every pair of the fleet file's `shadow:` is listed,
// with zeros and nulls before any traffic.
import { kvError } from '../errors.js';
import type { ShadowTraffic } from '../router/shadow/traffic.js';
import { sendError, sendJson, type AdminRoute } from './http-server.js';

export function shadowRoute(shadow: ShadowTraffic): AdminRoute {
  return (req, res, url) => {
    if (url.pathname !== '/shadow/report') return false;
    if (req.method !== 'GET') sendError(res, kvError('method_not_allowed', { path: '/shadow/report', allowed: 'GET' }));
    else sendJson(res, 200, shadow.report());
    return true;
  };
}
