// From a usage store's verdict to what the client sees: nothing (allowed), or the 429 of
// the first refusing check — rate_limited with retry-after and the OpenAI-style
// x-ratelimit-{limit,remaining,reset}-{requests,tokens} of that scope, or budget_exceeded with
// retry-after until the window resets. A store that could not be reached lets the request
// through (state.on_unavailable: fail_open) or refuses it with 503 state_unavailable.
import type { StateConfig } from '../config/usage-schema.js';
import type { AdmitOutcome, CheckOutcome } from '../core/limits/plan.js';
import { kvError, type KvError } from '../errors.js';

/** OpenAI's reset format: `20ms`, `6s`, `1m30s`. */
export function resetText(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const s = Math.ceil(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${s % 60}s`;
}

/** x-ratelimit-* for the rate checks of one scope and id. */
export function rateHeaders(outcomes: readonly CheckOutcome[], scope: string, id: string): Record<string, string> {
  const h: Record<string, string> = {};
  for (const o of outcomes) {
    const c = o.check;
    if (c.kind !== 'rate' || c.scope !== scope || c.id !== id) continue;
    h[`x-ratelimit-limit-${c.unit}`] = String(c.limit);
    h[`x-ratelimit-remaining-${c.unit}`] = String(Math.max(0, Math.floor(o.remaining)));
    h[`x-ratelimit-reset-${c.unit}`] = resetText(o.resetMs);
  }
  return h;
}

export function denial(out: AdmitOutcome, onUnavailable: StateConfig['on_unavailable']): KvError | undefined {
  if (out.unavailable) return onUnavailable === 'fail_closed' ? kvError('state_unavailable', {}, 1) : undefined;
  if (out.allowed) return undefined;
  const refused = out.outcomes.find((o) => !o.allowed);
  if (refused === undefined) return undefined;
  const c = refused.check;
  const who = `${c.scope} '${c.id}'`;
  const retry = Math.max(1, Math.ceil(refused.retryAfterMs / 1000));
  // A budgeted tenant's answers say what is left, refusals included.
  const left = budgetRemaining(out);
  const budget: Record<string, string> = left !== undefined ? { [BUDGET_HEADER]: left } : {};
  if (c.kind === 'budget') return kvError('budget_exceeded', { scope: who, window: c.window, unit: c.unit }, retry, budget);
  return kvError('rate_limited', { scope: who, unit: c.unit, limit: c.limit }, retry, { ...rateHeaders(out.outcomes, c.scope, c.id), ...budget });
}

/** Every refusal is an exhausted budget whose owner asked to downgrade rather than block. */
export function downgradable(out: AdmitOutcome): boolean {
  const refused = out.outcomes.filter((o) => !o.allowed);
  return refused.length > 0 && refused.every((o) => o.check.kind === 'budget' && o.check.onExhausted === 'downgrade');
}

export const BUDGET_HEADER = 'x-kvfleet-budget-remaining';

/** x-kvfleet-budget-remaining: `day_usd=12.34,month_tokens=98000` for the tenant's budgets. */
export function budgetRemaining(out: AdmitOutcome | undefined): string | undefined {
  const parts: string[] = [];
  for (const o of out?.outcomes ?? []) {
    const c = o.check;
    if (c.kind !== 'budget' || c.scope !== 'tenant') continue;
    parts.push(`${c.window}_${c.unit}=${c.unit === 'usd' ? o.remaining.toFixed(4) : String(Math.floor(o.remaining))}`);
  }
  return parts.length > 0 ? parts.join(',') : undefined;
}
