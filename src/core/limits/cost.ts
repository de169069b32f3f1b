// Cost of tokens on a model: prompt tokens × input price + completion tokens × output
// price (models[].priors, USD per 1,000 tokens). Cached prompt tokens cost what the
// provider charges for them; kvfleet prices them as prompt tokens (the conservative side).
import type { Model } from '../../config/fleet.js';

export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Prompt tokens served from the engine's prefix cache, when it reports them. */
  readonly cachedTokens?: number | undefined;
}

export function costUsd(m: Pick<Model, 'priors'>, u: TokenUsage): number {
  return (u.promptTokens * m.priors.cost_per_1k_input + u.completionTokens * m.priors.cost_per_1k_output) / 1000;
}

export function totalTokens(u: TokenUsage): number {
  return u.promptTokens + u.completionTokens;
}
