// Everything the decision core reads and learns, in one bounded bundle passed
// in explicitly: prefix index, prompt-reuse rate, session pins, bandit
// statistics, round-robin counters and the RNG. Written only by core/learn.ts.
import type { Fleet } from '../../config/fleet.js';
import { seededRng, type Rng } from '../rng.js';
import { BanditStats } from './bandit-stats.js';
import { PrefixIndex } from './prefix-index.js';
import { ReuseRate } from './reuse-rate.js';
import { SessionPins } from './session-pins.js';
import { ConversationTails } from './conversation-tails.js';

export interface LearnedState {
  readonly index: PrefixIndex;
  /** Share of recent requests whose prompt start was already known (scales the CHWBL bound). */
  readonly reuse: ReuseRate;
  readonly sessions: SessionPins;
  /** Conversations inferred from prompts that extend earlier ones (affinity.infer_sessions). */
  readonly tails: ConversationTails;
  readonly bandit: BanditStats;
  /** Round-robin positions, keyed by model name (endpoints) and candidate set (models). */
  readonly counters: Map<string, number>;
  readonly rng: Rng;
}

/** Arms the bandit keeps at most (one per model). */
const MAX_ARMS = 4096;
/** Round-robin counters kept at most (one per model plus one per allow-list seen). */
export const MAX_COUNTERS = 4096;

export function createLearnedState(fleet: Fleet, rng?: Rng): LearnedState {
  const a = fleet.affinity;
  return {
    index: new PrefixIndex(a.index_max_endpoints),
    reuse: new ReuseRate(),
    sessions: new SessionPins(a.session_capacity, a.session_ttl_s * 1000),
    tails: new ConversationTails(a.session_capacity),
    bandit: new BanditStats(MAX_ARMS),
    counters: new Map(),
    rng: rng ?? seededRng(fleet.routing.seed ?? Date.now()),
  };
}

/** After a fleet reload: forget endpoints and models that left; keep what is still valid. */
export function retainLearned(state: LearnedState, endpoints: ReadonlySet<string>, models: ReadonlySet<string>): void {
  state.index.retain(endpoints);
  state.sessions.retain(endpoints);
  state.bandit.retain(models);
  state.counters.clear();
}
