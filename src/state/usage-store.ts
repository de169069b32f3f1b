// Where budgets, rate windows and usage live: one interface, two backends.
//   memory   this process only (the default: nothing to install) — memory-usage.ts
//   redis    shared by every kvfleet on the same Redis / Valkey — redis-usage.ts
// admit() evaluates a plan (core/limits/plan.ts) all-or-nothing: every check passes and is
// charged, or nothing is. The memory store answers synchronously; Redis with a promise (one
// round trip, one Lua script). settle() corrects the reservation with the usage the response
// reported, off the request path.
import type { TokenUsage } from '../core/limits/cost.js';
import type { AdmitOutcome, UsagePlan } from '../core/limits/plan.js';
import type { BudgetWindow } from '../core/limits/windows.js';

export interface Settlement {
  readonly plan: UsagePlan;
  readonly actual: TokenUsage;
  readonly actualUsd: number;
  readonly wallNow: number;
}

/** Usage of one tenant in one budget window (GET /tenants/{id}/usage). */
export interface WindowUsage {
  readonly window: BudgetWindow;
  readonly id: string;
  readonly requests: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
  readonly usd: number;
}

export interface UsageStore {
  readonly backend: 'memory' | 'redis';
  /** False while the backend cannot be reached. */
  up(): boolean;
  admit(plan: UsagePlan): AdmitOutcome | Promise<AdmitOutcome>;
  /** Fire and forget: the response's usage replaces the reservation. */
  settle(s: Settlement): void;
  /** Spent so far on the plan's keys without charging anything (budget values, rate TATs) — for the usage API. */
  peek(keys: readonly string[]): Promise<ReadonlyMap<string, number>>;
  usage(tenant: string, wallNow: number): Promise<readonly WindowUsage[]>;
  close(): Promise<void>;
}

/** Usage counter keys of a tenant for the day and month of `wallNow`. */
export const usageKey = (tenant: string, windowId: string) => `usage:tenant:${tenant}:${windowId}`;
export const USAGE_FIELDS = ['requests', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'usd'] as const;
