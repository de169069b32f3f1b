// What a request answered from the response cache spends (pure): it is a request the tenant
// made, so it counts against the tenant's `rpm` (and is refused with 429 over it, like any
// request); it reaches no replica and no provider, so it costs no tokens and no money:
// nothing against `tpm`, budgets, or the model's and provider account's limits (those protect
// replicas and provider accounts). The tenant's budgets are read, not charged or enforced, so
// the answer still carries x-kvfleet-budget-remaining.
import type { FleetTenant } from '../../config/fleet.js';
import { scopeChecks, type UsageCheck, type UsagePlan } from '../limits/plan.js';

/** The plan of a cache hit; undefined when the tenant has no rpm and no budget (nothing to ask the store). */
export function hitPlan(tenant: FleetTenant | undefined, model: string, wallNow: number): UsagePlan | undefined {
  if (tenant === undefined || (tenant.limits?.rpm === undefined && tenant.budget === undefined)) return undefined;
  const checks: UsageCheck[] = [];
  for (const c of scopeChecks('tenant', tenant.id, tenant.limits, tenant.budget, wallNow)) {
    if (c.kind === 'budget') checks.push({ ...c, enforce: false });
    else if (c.unit === 'requests') checks.push({ ...c, cost: 1 });
  }
  return { tenant: tenant.id, model, checks, estimate: { promptTokens: 0, completionTokens: 0 }, estimateUsd: 0, meter: false, wallNow };
}
