// Latency scorer: expected latency of this model for this request.
//   ms    = model latency (EMA of observed time to response headers once ≥ 3 outcomes,
//           else priors.latency_p50_ms) + estimated TTFT on its best endpoint
//   score = 1 / (1 + ms / latency_ref_ms)          (routing.latency_ref_ms, default 1000)
import type { Scorer } from './scorer.js';

export const MIN_OBSERVATIONS = 3;

export function modelLatencyMs(i: Parameters<Scorer>[0]): number {
  const arm = i.bandit.arm(i.model.name);
  const base = arm !== undefined && arm.n >= MIN_OBSERVATIONS && arm.latencyEmaMs !== undefined ? arm.latencyEmaMs : i.model.priors.latency_p50_ms;
  return base + (i.best?.ttftMs ?? 0);
}

export const latencyScore: Scorer = (i) => 1 / (1 + modelLatencyMs(i) / i.routing.latency_ref_ms);
