// Which models may serve this request: the named model (aliases resolved), or for
// `auto` every model (or the x-kvfleet-models allow-list), default model first.
// Capability filters (filters.ts) run here, before any scoring: a named model that
// fails one is an error naming the reason; for `auto` the model is rejected.
import { kvError } from '../errors.js';
import type { Fleet, Model } from '../config/fleet.js';
import { capabilityVerdict, type FilterVerdict } from './filters.js';
import type { DecisionRequest, Rejection } from './types.js';

export interface CandidateModels {
  readonly models: readonly Model[];
  readonly rejected: readonly Rejection[];
  /** True when the request named a model (no choice to make). */
  readonly named: boolean;
  readonly reasons: readonly string[];
}

export function candidateModels(req: DecisionRequest, fleet: Fleet, promptTokens: number): CandidateModels {
  const asked = req.input.model;
  const allow = req.overrides.models;
  const allowed = new Set<Model>();
  if (allow !== undefined) {
    for (const name of allow) {
      const m = fleet.byName.get(name);
      if (m === undefined) throw kvError('invalid_header', { header: 'x-kvfleet-models', problem: 'names an unknown model' });
      allowed.add(m);
    }
  }

  if (asked !== 'auto') {
    const model = fleet.byName.get(asked);
    if (model === undefined) {
      throw kvError('unknown_model', { param: 'model' });
    }
    if (allow !== undefined && !allowed.has(model)) {
      throw kvError('invalid_header', { header: 'x-kvfleet-models', problem: 'does not list the requested model' });
    }
    const v = capabilityVerdict(model, req.input, promptTokens);
    if (v !== undefined) throw kvError('invalid_field', { param: v.param, model: model.name, cannot: v.cannot });
    return { models: [model], rejected: [], named: true, reasons: asked !== model.name ? ['alias'] : [] };
  }

  const pool = allow !== undefined ? [...allowed] : [...fleet.models];
  const def = fleet.defaultModel;
  if (def !== undefined && pool.includes(def)) pool.splice(0, 0, ...pool.splice(pool.indexOf(def), 1));
  const models: Model[] = [];
  const rejected: Rejection[] = [];
  let first: FilterVerdict | undefined;
  for (const m of pool) {
    const v = capabilityVerdict(m, req.input, promptTokens);
    if (v === undefined) models.push(m);
    else {
      rejected.push({ model: m.name, reason: v.reason });
      first ??= v;
    }
  }
  if (models.length === 0) {
    const why = [...new Set(rejected.map((r) => r.reason))].join(', ');
    throw kvError('invalid_field', { param: first?.param ?? 'model', allowList: allow !== undefined, why });
  }
  return { models, rejected, named: false, reasons: allow !== undefined ? ['alias:auto', 'allow-list'] : ['alias:auto'] };
}
