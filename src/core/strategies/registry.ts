// Strategy name → implementation. Must cover STRATEGY_NAMES exactly (a unit test checks).
import type { StrategyName } from '../../config/names.js';
import { cheapCascade } from './cheap-cascade.js';
import { costFirst } from './cost-first.js';
import { domainStrategy } from './domain.js';
import { epsilonGreedy } from './epsilon-greedy.js';
import { exp3 } from './exp3.js';
import { hybridScore } from './hybrid-score.js';
import { latencyFirst } from './latency-first.js';
import { leastLoaded } from './least-loaded.js';
import { prefixAffinity } from './prefix-affinity.js';
import { qualityFirst } from './quality-first.js';
import { randomStrategy } from './random.js';
import { roundRobin } from './round-robin.js';
import { rulesStrategy } from './rules.js';
import { semanticStrategy } from './semantic.js';
import { staticStrategy } from './static.js';
import type { Strategy } from './strategy.js';
import { thompsonSampling } from './thompson-sampling.js';
import { ucb1 } from './ucb1.js';
import { weightedStrategy } from './weighted.js';

export const STRATEGY_REGISTRY: ReadonlyMap<StrategyName, Strategy> = new Map(
  [
    hybridScore,
    staticStrategy,
    weightedStrategy,
    rulesStrategy,
    costFirst,
    latencyFirst,
    qualityFirst,
    cheapCascade,
    semanticStrategy,
    domainStrategy,
    epsilonGreedy,
    ucb1,
    thompsonSampling,
    exp3,
    roundRobin,
    randomStrategy,
    leastLoaded,
    prefixAffinity,
  ].map((s) => [s.name, s]),
);
