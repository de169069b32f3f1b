// Model traffic and idle sleep (fleet-file keys):
//   traffic:          how /models/stats, /models/idle and /models/active classify models
//   models[].sleep:   opt-in idle sleep and wake-on-request through the engine's own API
//                     (vLLM sleep mode level 1, SGLang release/resume memory occupation);
//                     fleet/sleep-controller.ts does it, docs in the README's "Idle sleep".
import { z } from 'zod';

/** Engines whose replicas kvfleet can put to sleep and wake. */
export const SLEEP_ENGINES = ['vllm', 'sglang'] as const;

export const trafficSchema = z
  .strictObject({
    /** A model with no request for this long is idle (models with `sleep` use their own idle_seconds). */
    idle_seconds: z
      .number()
      .positive()
      .max(30 * 86_400)
      .default(300),
    /** The longest window GET /models/stats?window= may ask for (seconds of per-second counts kept). */
    max_window_seconds: z.number().int().min(1).max(86_400).default(3600),
  })
  .prefault({});

export const modelSleepSchema = z.strictObject({
  /** Put the model's replicas to sleep after this long without a request (and none in flight). */
  idle_seconds: z
    .number()
    .positive()
    .max(30 * 86_400)
    .default(300),
  /** false: only POST /models/{m}/sleep puts it to sleep; requests still wake it. */
  auto: z.boolean().default(true),
  /**
   * A model stays asleep at least this long (its GPU memory stays free for others): a request
   * that arrives sooner waits (held) until then and the wake, or gets 503 model_waking.
   */
  min_sleep_seconds: z.number().min(0).max(86_400).default(0),
  /**
   * vLLM sleep level. Only 1 (weights offloaded to CPU memory, KV cache discarded): a level-2
   * sleep discards the weights, and /wake_up alone does not bring them back.
   */
  level: z.literal(1).default(1),
  /**
   * How long a request waits for a sleeping model to wake before 503 model_waking (kvfleet
   * extends Envoy's message_timeout for it; envoy/envoy.yaml allows up to 600 s).
   */
  wake_timeout_ms: z.number().int().positive().max(590_000).default(60_000),
});

export type TrafficConfig = z.infer<typeof trafficSchema>;
export type ModelSleepConfig = z.infer<typeof modelSleepSchema>;
