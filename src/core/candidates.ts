// Which models may serve a request, before any scoring. Checks, in this order, each a
// filter (a model that fails is never a candidate, never a fallback):
//   allow-list   x-kvfleet-models
//   tenant       tenants.<t>.allowed_models / blocked_models        (core/policy/compliance.ts)
//   capability   API type, tools, JSON mode, vision, context length (filters.ts)
//   policy       data class, regions, providers, rules              (core/policy/compliance.ts)
// A request naming a model gets that model, or an error naming why (404 unknown, 400 not in
// the allow-list or not capable, 403 model_not_allowed for the tenant). When the named model
// fails policy, the decision follows routing.fallback to the first compliant model; with none,
// 403 policy_denied — never a leak to a non-compliant model.
// `fallback` is routing.fallback reduced to models that pass every check.
import type { Fleet, Model } from '../config/fleet.js';
import { kvError } from '../errors.js';
import { capabilityVerdict, type FilterVerdict } from './filters.js';
import { policyVerdict, tenantVerdict, type PolicyContext } from './policy/compliance.js';
import type { DecisionRequest, Rejection } from './types.js';

export interface CandidateModels {
  /** Candidates in preference order (default model first, then fleet order); empty only when a named model was rerouted by policy. */
  readonly models: readonly Model[];
  readonly rejected: readonly Rejection[];
  /** The model the request named (no choice to make), undefined for `auto`. */
  readonly named: Model | undefined;
  /** routing.fallback models that pass every check, in order (excluding none). */
  readonly fallback: readonly Model[];
  /** Some model was excluded by policy (not by capability or health). */
  readonly policyExcluded: boolean;
  readonly reasons: readonly string[];
}

export function policyContext(req: DecisionRequest, fleet: Fleet): PolicyContext<Model> {
  const p = req.policy;
  return { tenant: p?.tenant, dataClass: p?.dataClass ?? fleet.policy.defaultClass, classes: fleet.policy.classes, rules: p?.rules ?? [] };
}

function className(fleet: Fleet, pc: PolicyContext<Model>): string {
  return fleet.policy.classes[pc.dataClass] ?? String(pc.dataClass);
}

/** The 403 for an `auto` request every capable model of which the tenant or the policy excludes. */
function refusal(firstPolicy: string | undefined, fleet: Fleet, pc: PolicyContext<Model>) {
  const tenant = pc.tenant?.id ?? '-';
  if (firstPolicy === undefined) return kvError('model_not_allowed', { tenant, model: 'auto' });
  if (firstPolicy.startsWith('rule:')) return kvError('policy_denied', { why: 'rule', rule: firstPolicy.slice(5) });
  if (firstPolicy.startsWith('tenant:')) return kvError('policy_denied', { why: 'tenant', tenant, what: firstPolicy.slice(7) });
  return kvError('policy_denied', { why: 'class', dataClass: className(fleet, pc) });
}

export function candidateModels(req: DecisionRequest, fleet: Fleet, promptTokens: number): CandidateModels {
  const asked = req.input.model;
  const allow = req.overrides.models;
  const pc = policyContext(req, fleet);
  const allowed = new Set<Model>();
  if (allow !== undefined) {
    for (const name of allow) {
      const m = fleet.byName.get(name);
      if (m === undefined) throw kvError('invalid_header', { header: 'x-kvfleet-models', problem: 'names an unknown model' });
      allowed.add(m);
    }
  }
  /** Why `m` may not serve this request (capability aside), or undefined. */
  const excluded = (m: Model): string | undefined => {
    if (allow !== undefined && !allowed.has(m)) return 'not-in-allow-list';
    const t = tenantVerdict(m, pc.tenant);
    if (t !== undefined) return t;
    if (capabilityVerdict(m, req.input, promptTokens) !== undefined) return 'capability';
    const v = policyVerdict(m, pc);
    return v !== undefined ? `policy:${v}` : undefined;
  };
  const fallbackOf = (skip: Model | undefined) => (fleet.policy.fallback ?? []).filter((m) => m !== skip && excluded(m) === undefined);

  if (asked !== 'auto') {
    const model = fleet.byName.get(asked);
    if (model === undefined) throw kvError('unknown_model', { param: 'model' });
    if (allow !== undefined && !allowed.has(model)) {
      throw kvError('invalid_header', { header: 'x-kvfleet-models', problem: 'does not list the requested model' });
    }
    if (pc.tenant !== undefined && tenantVerdict(model, pc.tenant) !== undefined)
      throw kvError('model_not_allowed', { tenant: pc.tenant.id, model: model.name });
    const v = capabilityVerdict(model, req.input, promptTokens);
    if (v !== undefined) throw kvError('invalid_field', { param: v.param, model: model.name, cannot: v.cannot });
    const reasons = asked !== model.name ? ['alias'] : [];
    const pv = policyVerdict(model, pc);
    if (pv !== undefined) {
      const fallback = fallbackOf(model);
      if (fallback.length === 0) throw kvError('policy_denied', { why: 'model', model: model.name, dataClass: className(fleet, pc) });
      return {
        models: [],
        rejected: [{ model: model.name, reason: `policy:${pv}` }],
        named: model,
        fallback,
        policyExcluded: true,
        reasons: [...reasons, `policy:${pv}`],
      };
    }
    return { models: [model], rejected: [], named: model, fallback: fallbackOf(model), policyExcluded: false, reasons };
  }

  const pool = allow !== undefined ? [...allowed] : [...fleet.models];
  const def = fleet.defaultModel;
  if (def !== undefined && pool.includes(def)) pool.splice(0, 0, ...pool.splice(pool.indexOf(def), 1));
  const models: Model[] = [];
  const rejected: Rejection[] = [];
  let capable = 0;
  let first: FilterVerdict | undefined;
  let firstPolicy: string | undefined;
  for (const m of pool) {
    const v = capabilityVerdict(m, req.input, promptTokens);
    if (v !== undefined) {
      rejected.push({ model: m.name, reason: v.reason });
      first ??= v;
      continue;
    }
    capable++;
    const listed = tenantVerdict(m, pc.tenant);
    if (listed !== undefined) {
      rejected.push({ model: m.name, reason: listed });
      continue;
    }
    const why = policyVerdict(m, pc);
    if (why !== undefined) {
      rejected.push({ model: m.name, reason: `policy:${why}` });
      firstPolicy ??= why;
      continue;
    }
    models.push(m);
  }
  if (capable === 0) {
    const why = [...new Set(rejected.map((r) => r.reason))].join(', ');
    throw kvError('invalid_field', { param: first?.param ?? 'model', allowList: allow !== undefined, why });
  }
  if (models.length === 0) throw refusal(firstPolicy, fleet, pc);
  const reasons = allow !== undefined ? ['alias:auto', 'allow-list'] : ['alias:auto'];
  return { models, rejected, named: undefined, fallback: fallbackOf(undefined), policyExcluded: models.length < capable, reasons };
}
