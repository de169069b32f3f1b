// Load scorer: queueing the request would meet on the model's least-waiting usable endpoint.
//   score = 1 / (1 + min wait_ms / latency_ref_ms)    (wait from endpoints/ttft.ts)
//   0 when the model has no usable endpoint.
import type { Scorer } from './scorer.js';

export const loadScore: Scorer = (i) => {
  const a = i.assessment;
  let min = Infinity;
  for (let j = 0; j < a.usable.length; j++) {
    const w = a.waitMs[a.usable[j] as number] as number;
    if (w < min) min = w;
  }
  return Number.isFinite(min) ? 1 / (1 + min / i.routing.latency_ref_ms) : 0;
};
