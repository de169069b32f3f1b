// What the meter read from one response (extproc/meter/usage-reader.ts) — the usage the
// engine reported, or the chunks it generated when it reported none — as the Router settles it.
import type { TokenUsage } from './cost.js';

export interface MeterReading {
  /** Usage as the engine reported it (undefined: none seen). */
  readonly usage: TokenUsage | undefined;
  /** SSE data events with choices seen (generated chunks). */
  readonly chunks: number;
  readonly streamed: boolean;
  /** The body ended normally (false: the stream was cut, the client went away). */
  readonly complete: boolean;
}
