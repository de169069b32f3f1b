// Strategy name → implementation. Typed over StrategyName (config/names.ts), so the
// compiler checks every named strategy has exactly one implementation.
import type { StrategyName } from '../../config/names.js';
import { cheapCascade } from './cheap-cascade.js';
import { domainStrategy } from './domain.js';
import { epsilonGreedy } from './epsilon-greedy.js';
import { exp3 } from './exp3.js';
import { PROFILES } from './profiles.js';
import { randomStrategy } from './random.js';
import { roundRobin } from './round-robin.js';
import { rulesStrategy } from './rules.js';
import { semanticStrategy } from './semantic.js';
import { staticStrategy } from './static.js';
import type { Strategy } from './strategy.js';
import { thompsonSampling } from './thompson-sampling.js';
import { ucb1 } from './ucb1.js';
import { weightedStrategy } from './weighted.js';

export const STRATEGIES: { readonly [K in StrategyName]: Strategy } = {
  ...PROFILES,
  static: staticStrategy,
  weighted: weightedStrategy,
  rules: rulesStrategy,
  cheap_cascade: cheapCascade,
  semantic: semanticStrategy,
  domain: domainStrategy,
  epsilon_greedy: epsilonGreedy,
  ucb1,
  thompson_sampling: thompsonSampling,
  exp3,
  round_robin: roundRobin,
  random: randomStrategy,
};
