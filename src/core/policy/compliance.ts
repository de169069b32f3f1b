// Where a request may go: the policy verdict on one model, given the request's tenant,
// data class and the rules that apply to it. A model that fails is never a candidate and
// never a fallback. First failing check, as a short reason code (explain API, metrics):
//   tenant:not-allowed   tenants.<t>.allowed_models does not list it
//   tenant:blocked       tenants.<t>.blocked_models lists it
//   class:<name>         models[].data_classes does not admit the request's class
//   tenant:region        tenants.<t>.regions does not list its region (or it has none)
//   tenant:provider      tenants.<t>.blocked_providers lists its provider
//   rule:<name>          an applying rule's regions / blocked_providers / allowed_models /
//                        blocked_models excludes it
import type { PolicyModel, ResolvedRule, Tenant } from '../../config/policy.js';

export interface PolicyContext<M extends PolicyModel> {
  readonly tenant: Tenant<M> | undefined;
  readonly dataClass: number;
  readonly classes: readonly string[];
  readonly rules: readonly ResolvedRule<M>[];
}

/** The tenant's own model lists (checked before anything else: a named model it may not use is a 403). */
export function tenantVerdict<M extends PolicyModel>(model: M, tenant: Tenant<M> | undefined): string | undefined {
  if (tenant === undefined) return undefined;
  if (tenant.allowed !== undefined && !tenant.allowed.has(model)) return 'tenant:not-allowed';
  if (tenant.blocked.has(model)) return 'tenant:blocked';
  return undefined;
}

/** Data class, residency, providers and rules. */
export function policyVerdict<M extends PolicyModel>(model: M, c: PolicyContext<M>): string | undefined {
  if ((model.classMask & (1 << c.dataClass)) === 0) return `class:${c.classes[c.dataClass] ?? c.dataClass}`;
  const t = c.tenant;
  if (t !== undefined) {
    if (t.regions !== undefined && (model.region === undefined || !t.regions.has(model.region))) return 'tenant:region';
    if (t.blockedProviders.has(model.provider)) return 'tenant:provider';
  }
  for (const r of c.rules) {
    if (r.regions !== undefined && (model.region === undefined || !r.regions.has(model.region))) return `rule:${r.name}`;
    if (r.blockedProviders?.has(model.provider) === true) return `rule:${r.name}`;
    if (r.allowed !== undefined && !r.allowed.has(model)) return `rule:${r.name}`;
    if (r.blocked?.has(model) === true) return `rule:${r.name}`;
  }
  return undefined;
}
