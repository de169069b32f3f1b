// Estimated price of a request on a model, USD:
//   prompt tokens · cost_per_1k_input / 1000 + output tokens · cost_per_1k_output / 1000
// output tokens = max_tokens when the request sets it, else ASSUMED_OUTPUT_TOKENS.
import type { Model } from '../../config/fleet.js';

export const ASSUMED_OUTPUT_TOKENS = 256;

export function priceUsd(model: Model, promptTokens: number, maxOutputTokens: number | undefined): number {
  const out = maxOutputTokens ?? ASSUMED_OUTPUT_TOKENS;
  return (promptTokens * model.priors.cost_per_1k_input + out * model.priors.cost_per_1k_output) / 1000;
}
