// The contract of an endpoint picker: given the chosen model's assessed endpoints and
// the list it may choose from (usable ones, or the cooling ones when nothing else is
// left), name the primary. Fallbacks and the affinity label are the caller's
// (endpoints/picker.ts), the same for every mode.
import type { Rng } from '../../rng.js';
import type { SessionInfo } from '../../types.js';
import type { ModelAssessment } from '../assess.js';

export interface PickOptions {
  /** Whether the request carries a session key (pins apply in affinity mode). */
  readonly hasSession: boolean;
  readonly promptBlocks: number;
  /** Estimated prompt tokens and tokens per block: the affinity score is the cached share of the prompt. */
  readonly promptTokens: number;
  readonly blockTokens: number;
  readonly rrStart: number;
  readonly rng: Rng;
  readonly maxFallbacks: number;
}

export interface PickInput {
  readonly as: ModelAssessment;
  /** Endpoint indices to choose from, ascending; never empty. */
  readonly list: Int32Array;
  /** CHWBL capacity in effect. */
  readonly cap: number;
  readonly o: PickOptions;
}

export interface Pick {
  /** Index of the primary endpoint, or -1 when the mode found none. */
  readonly primary: number;
  /** The first reason code (`prefix-hit`, `chwbl`, `session-pin`, `least-loaded`…). */
  readonly head: string;
  readonly sessionOutcome?: SessionInfo['outcome'] | undefined;
  /** Reasons beyond the head (`session-yield-overloaded`…). */
  readonly reasons?: readonly string[] | undefined;
}

export type Picker = (i: PickInput) => Pick;
