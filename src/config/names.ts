// Closed sets of names the fleet file, the request headers and the decision core
// share. Each list is written once here; schemas, parsers and registries derive
// from it (registries are typed `{ [K in Name]: … }`, so the compiler checks they
// cover every name).

/** Every routing strategy, by the name a fleet file or `x-kvfleet-strategy` uses. */
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
export const DOMAINS = ['coding', 'math', 'creative', 'medical', 'legal', 'scientific', 'translation', 'summarization', 'general'] as const;
export type Domain = (typeof DOMAINS)[number];

/** The scoring dimensions; every scorer returns 0..1 (higher is better). */
export const SCORE_DIMENSIONS = ['cost', 'latency', 'quality', 'cache', 'load', 'compliance'] as const;
export type ScoreDimension = (typeof SCORE_DIMENSIONS)[number];

/** Default weights of the hybrid score (routing.weights). */
export const DEFAULT_WEIGHTS: Readonly<Record<ScoreDimension, number>> = {
  cost: 0.2,
  latency: 0.25,
  quality: 0.25,
  cache: 0.15,
  load: 0.15,
  compliance: 0,
};

/** `x-kvfleet-priority` values. */
export const PRIORITIES = ['high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** The OpenAI APIs kvfleet routes. */
export const API_KINDS = ['chat', 'completion', 'embedding'] as const;
export type ApiKind = (typeof API_KINDS)[number];

/** Engine kinds a model's replicas run. */
export const ENGINES = ['vllm', 'sglang', 'tgi', 'triton', 'ollama', 'openai'] as const;
export const MODEL_TYPES = ['chat', 'completion', 'embedding'] as const;

/** ext_proc request-body modes kvfleet serves (server.body_mode). */
export const BODY_MODES = ['auto', 'buffered', 'full-duplex'] as const;

/** Default data classes, lowest first (policy.data_classes overrides). */
export const DEFAULT_DATA_CLASSES = ['public', 'internal', 'confidential', 'restricted'] as const;

/** PII and secret detectors of the policy layer (core/policy/pii/). */
export const PII_DETECTORS = ['email', 'phone', 'payment_card', 'iban', 'us_ssn', 'ip_address', 'secret'] as const;
export type PiiDetector = (typeof PII_DETECTORS)[number];

/** What a detector's finding does: raise the request's class, replace the values, or refuse. */
export const PII_ACTIONS = ['route_private', 'redact', 'block'] as const;
export type PiiAction = (typeof PII_ACTIONS)[number];

/** Where a request's tenant comes from (identity.sources). */
export const IDENTITY_SOURCES = ['api_key', 'jwt', 'header'] as const;
