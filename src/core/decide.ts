// The decision: request → model → ordered endpoint list, with reasons.
// Pure and synchronous: everything it needs arrives in its arguments.
import { KvError } from '../errors.js';
import type { Model } from '../fleet/fleet.js';
import { orderLeastInflight } from './endpoint-order.js';
import type { DecideContext, Decision, DecisionRequest, Rejection } from './types.js';

export const STRATEGIES: ReadonlySet<string> = new Set(['least_loaded']);
export const DEFAULT_STRATEGY = 'least_loaded';

/** Fallbacks offered after the primary (Envoy retries walk this list). */
export const MAX_FALLBACKS = 3;

function resolveModel(req: DecisionRequest, ctx: DecideContext, reasons: string[]): Model {
  const { fleet } = ctx;
  const asked = req.input.model;
  const allow = req.overrides.models;
  if (allow !== undefined) {
    for (const name of allow) {
      if (!fleet.byName.has(name)) {
        throw new KvError('invalid_header', `header 'x-kvfleet-models' names an unknown model`, 'x-kvfleet-models');
      }
    }
  }
  const allowed = (m: Model) => allow === undefined || allow.some((n) => fleet.byName.get(n) === m);

  if (asked === 'auto') {
    const def = fleet.defaultModel;
    if (def !== undefined && allowed(def)) {
      reasons.push('alias:auto');
      return def;
    }
    const first = allow !== undefined ? fleet.byName.get(allow[0] as string) : undefined;
    if (first !== undefined) {
      reasons.push('alias:auto', 'allow-list');
      return first;
    }
    throw new KvError('unknown_model', "model 'auto' needs default_model in the fleet file", 'model');
  }
  const model = fleet.byName.get(asked);
  if (model === undefined) {
    throw new KvError('unknown_model', 'the requested model does not exist in this fleet; GET /v1/models lists them', 'model');
  }
  if (!allowed(model)) {
    throw new KvError('invalid_header', "the requested model is not in header 'x-kvfleet-models'", 'x-kvfleet-models');
  }
  if (asked !== model.name) reasons.push('alias');
  return model;
}

export function decide(req: DecisionRequest, ctx: DecideContext): Decision {
  const reasons: string[] = [];
  const rejected: Rejection[] = [];
  const model = resolveModel(req, ctx, reasons);

  const rr = ctx.counters.get(model.name) ?? 0;
  ctx.counters.set(model.name, (rr + 1) % 1_000_000_007);
  const ordered = orderLeastInflight(model.endpoints, ctx.live, rr);
  if (ordered.length === 0) {
    throw new KvError('no_healthy_endpoint', `no healthy endpoint for model '${model.name}'`, 'model', 1);
  }
  const skipped = model.endpoints.length - ordered.length;
  if (skipped > 0) reasons.push(`unhealthy-skipped:${skipped}`);
  const primary = ordered[0] as string;
  const load = ctx.live.endpoint(primary)?.inflight ?? 0;
  reasons.push(load === 0 ? 'idle' : 'least-inflight');

  return {
    requestId: req.requestId,
    model,
    endpoints: ordered.slice(0, 1 + MAX_FALLBACKS),
    strategy: req.overrides.strategy ?? DEFAULT_STRATEGY,
    score: 1 / (1 + load),
    affinity: { kind: 'none', score: 0 },
    reasons,
    rejected,
  };
}
