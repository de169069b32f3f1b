// Bandit reward of one outcome, 0..1 (fed to every strategy's statistics):
//   failure (status ≥ 500, 429, or no response)       → 0
//   client error (other 4xx)                           → no reward (not the model's fault)
//   success → clamp01(1 − latency_weight · min(1, ms / latency_target_ms)
//                        − cost_weight · min(1, est. cost / cost_ref_usd))
import type { RoutingConfig } from '../config/routing-schema.js';

export function outcomeReward(
  status: number | undefined,
  latencyMs: number | undefined,
  costUsd: number,
  r: Pick<RoutingConfig, 'bandit' | 'cost_ref_usd'>,
): number | undefined {
  if (status === undefined || status >= 500 || status === 429) return 0;
  if (status >= 400) return undefined;
  const b = r.bandit;
  const lat = latencyMs !== undefined ? Math.min(1, Math.max(0, latencyMs) / b.latency_target_ms) : 0;
  const cost = Math.min(1, costUsd / r.cost_ref_usd);
  return Math.min(1, Math.max(0, 1 - b.latency_weight * lat - b.cost_weight * cost));
}
