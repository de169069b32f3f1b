// Every routing strategy kvfleet implements, by the name a fleet file or the
// `x-kvfleet-strategy` header uses. The registry (strategies/registry.ts) maps
// each name to its implementation; a test checks the two lists agree.
export const STRATEGY_NAMES = [
  'hybrid_score',
  'static',
  'weighted',
  'rules',
  'cost_first',
  'latency_first',
  'quality_first',
  'cheap_cascade',
  'semantic',
  'domain',
  'epsilon_greedy',
  'ucb1',
  'thompson_sampling',
  'exp3',
  'round_robin',
  'random',
  'least_loaded',
  'prefix_affinity',
] as const;

export type StrategyName = (typeof STRATEGY_NAMES)[number];

export const DEFAULT_STRATEGY: StrategyName = 'hybrid_score';

/** Domains the keyword classifier knows (semantic, domain and rules strategies). */
export const DOMAINS = [
  'coding',
  'math',
  'creative',
  'medical',
  'legal',
  'scientific',
  'translation',
  'summarization',
  'general',
] as const;

export type Domain = (typeof DOMAINS)[number];
