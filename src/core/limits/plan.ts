// What one request spends, and against which limits: built after the decision (the model is
// known) from the fleet file, and evaluated atomically by the usage store (src/state/).
//   rate    per minute, GCRA (gcra.ts): requests (cost 1) and tokens (cost = the estimate:
//           prompt tokens + max_tokens, corrected when the response's usage is known)
//   budget  per UTC day / month (windows.ts): USD (the estimate priced with the model's
//           priors) and tokens; an exhausted budget refuses the request (on_exhausted: block →
//           429; downgrade → the Router decides again on the cheapest model the tenant and the
//           policy allow, and that plan is only charged)
// Scopes: the tenant, the model (all tenants), the provider account (models[].provider).
// Keys are the store's, namespaced by it: `rate:tenant:acme:requests`,
// `budget:model:gpt-4o:usd:d2026-11-28`.
import type { Fleet, FleetTenant, Model } from '../../config/fleet.js';
import type { BudgetConfig, RateLimitConfig } from '../../config/usage-schema.js';
import { costUsd, type TokenUsage } from './cost.js';
import { windowEnd, windowId, type BudgetWindow } from './windows.js';

export type Scope = 'tenant' | 'model' | 'provider';
export const RATE_WINDOW_MS = 60_000;

export interface RateCheck {
  readonly kind: 'rate';
  readonly scope: Scope;
  readonly id: string;
  readonly unit: 'requests' | 'tokens';
  /** Per minute. */
  readonly limit: number;
  readonly cost: number;
  readonly key: string;
}

export interface BudgetCheck {
  readonly kind: 'budget';
  readonly scope: Scope;
  readonly id: string;
  readonly window: BudgetWindow;
  readonly unit: 'usd' | 'tokens';
  readonly limit: number;
  readonly cost: number;
  readonly key: string;
  /** Wall ms when the window resets. */
  readonly resetAt: number;
  /** Refuse when exhausted; false once the request was downgraded for it (then only charged). */
  readonly enforce: boolean;
  readonly onExhausted: BudgetConfig['on_exhausted'];
  readonly alertAt: number;
}

export type UsageCheck = RateCheck | BudgetCheck;

export interface UsagePlan {
  readonly tenant: string | undefined;
  readonly model: string;
  readonly checks: readonly UsageCheck[];
  /** Reserved at admission: the prompt estimate and max_tokens. */
  readonly estimate: TokenUsage;
  readonly estimateUsd: number;
  /** Read this request's token usage from its response (a token limit or a budget counts it, or metering: all). */
  readonly meter: boolean;
  readonly wallNow: number;
}

function rates(scope: Scope, id: string, l: RateLimitConfig | undefined, tokens: number): RateCheck[] {
  if (l === undefined) return [];
  const out: RateCheck[] = [];
  if (l.rpm !== undefined) out.push({ kind: 'rate', scope, id, unit: 'requests', limit: l.rpm, cost: 1, key: `rate:${scope}:${id}:requests` });
  if (l.tpm !== undefined) out.push({ kind: 'rate', scope, id, unit: 'tokens', limit: l.tpm, cost: tokens, key: `rate:${scope}:${id}:tokens` });
  return out;
}

function budgets(scope: Scope, id: string, b: BudgetConfig | undefined, usd: number, tokens: number, wallNow: number, enforce: boolean): BudgetCheck[] {
  if (b === undefined) return [];
  const out: BudgetCheck[] = [];
  const add = (window: BudgetWindow, unit: 'usd' | 'tokens', limit: number | undefined) => {
    if (limit === undefined) return;
    out.push({
      kind: 'budget',
      scope,
      id,
      window,
      unit,
      limit,
      cost: unit === 'usd' ? usd : tokens,
      key: `budget:${scope}:${id}:${unit}:${windowId(window, wallNow)}`,
      resetAt: windowEnd(window, wallNow),
      enforce,
      onExhausted: b.on_exhausted,
      alertAt: b.alert_at,
    });
  };
  add('day', 'usd', b.daily_usd);
  add('month', 'usd', b.monthly_usd);
  add('day', 'tokens', b.daily_tokens);
  add('month', 'tokens', b.monthly_tokens);
  return out;
}

/** The checks of one scope with nothing to spend: what the usage API reads (costs 0). */
export function scopeChecks(scope: Scope, id: string, l: RateLimitConfig | undefined, b: BudgetConfig | undefined, wallNow: number): UsageCheck[] {
  return [...rates(scope, id, l, 0), ...budgets(scope, id, b, 0, 0, wallNow, true)];
}

export interface PlanInput {
  readonly fleet: Fleet;
  readonly model: Model;
  readonly tenant: FleetTenant | undefined;
  readonly promptTokens: number;
  readonly maxOutputTokens: number | undefined;
  readonly wallNow: number;
  /** The request was already moved to a cheaper model because a budget was exhausted: charge, do not refuse. */
  readonly downgraded?: boolean;
}

export function planUsage(i: PlanInput): UsagePlan {
  const estimate: TokenUsage = { promptTokens: i.promptTokens, completionTokens: i.maxOutputTokens ?? i.fleet.usage.metering.default_max_tokens };
  const tokens = estimate.promptTokens + estimate.completionTokens;
  const usd = costUsd(i.model, estimate);
  const enforce = i.downgraded !== true;
  const provider = i.fleet.usage.providers[i.model.provider];
  const checks: UsageCheck[] = [
    ...(i.tenant !== undefined ? rates('tenant', i.tenant.id, i.tenant.limits, tokens) : []),
    ...rates('model', i.model.name, i.model.limits, tokens),
    ...rates('provider', i.model.provider, provider?.limits, tokens),
    ...(i.tenant !== undefined ? budgets('tenant', i.tenant.id, i.tenant.budget, usd, tokens, i.wallNow, enforce) : []),
    ...budgets('model', i.model.name, i.model.budget, usd, tokens, i.wallNow, enforce),
    ...budgets('provider', i.model.provider, provider?.budget, usd, tokens, i.wallNow, enforce),
  ];
  const meter = i.fleet.usage.metering.mode === 'all' || checks.some((c) => c.kind === 'budget' || c.unit === 'tokens');
  return { tenant: i.tenant?.id, model: i.model.name, checks, estimate, estimateUsd: usd, meter, wallNow: i.wallNow };
}

/** What a check says after the store evaluated it. */
export interface CheckOutcome {
  readonly check: UsageCheck;
  readonly allowed: boolean;
  /** rate: units left this minute; budget: limit − spent (after this request when allowed). */
  readonly remaining: number;
  /** rate: ms until the window is empty; budget: ms until the window resets. */
  readonly resetMs: number;
  /** ms until this request would pass (0 when allowed). */
  readonly retryAfterMs: number;
}

export interface AdmitOutcome {
  /** Every check passed and was charged (all or nothing). */
  readonly allowed: boolean;
  readonly outcomes: readonly CheckOutcome[];
  /** The store could not be reached: nothing was checked or charged (state.on_unavailable decides). */
  readonly unavailable: boolean;
}
