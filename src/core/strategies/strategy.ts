// The strategy contract: rank the candidate models (all of which passed the
// filters and have a usable endpoint), best first, with a 0..1 score each, and
// say which endpoint-picker mode applies to the chosen model.
import type { Fleet, Model } from '../../config/fleet.js';
import type { RoutingConfig } from '../../config/routing-schema.js';
import type { LearnedState } from '../learned/learned-state.js';
import type { DomainGuess } from '../domain-classifier.js';
import type { ModelAssessment } from '../endpoints/assess.js';
import type { EndpointMode } from '../endpoints/picker.js';
import type { DecisionRequest, EndpointEstimate, Scores } from '../types.js';

export interface Candidate {
  readonly model: Model;
  readonly assessment: ModelAssessment;
  readonly best: EndpointEstimate | undefined;
  readonly scores: Scores;
  /** Weighted sum of the scores (priority-adjusted weights), 0..1. */
  readonly total: number;
  readonly priceUsd: number;
}

export interface StrategyInput {
  /** Default model first, then fleet order; never empty. */
  readonly cands: readonly Candidate[];
  readonly req: DecisionRequest;
  readonly fleet: Fleet;
  readonly routing: Readonly<RoutingConfig>;
  readonly state: LearnedState;
  /** The prompt's domain, classified on first call. */
  readonly domain: () => DomainGuess;
  readonly promptTokens: number;
}

export interface Ranking {
  /** Every candidate, best first. */
  readonly order: readonly Candidate[];
  /** The strategy's score of order[i], 0..1. */
  readonly scores: readonly number[];
  readonly reasons: readonly string[];
  /** exp3: probability the chosen model was drawn with. */
  readonly banditProb?: number | undefined;
  /** Round-robin counters to advance when the decision is committed. */
  readonly counters?: readonly string[] | undefined;
}

export interface Strategy {
  readonly endpointMode: EndpointMode;
  rank(i: StrategyInput): Ranking;
}

/** Stable sort of candidates by `score` (descending); ties keep input order. */
export function rankBy(cands: readonly Candidate[], score: (c: Candidate) => number, reasons: readonly string[] = []): Ranking {
  const scored = cands.map((c, i) => ({ c, s: score(c), i }));
  scored.sort((a, b) => b.s - a.s || a.i - b.i);
  return { order: scored.map((x) => x.c), scores: scored.map((x) => clamp01(x.s)), reasons };
}

/** Put `first` in front of a ranking, keeping the rest in order. */
export function promote(r: Ranking, first: Candidate, score: number, reasons: readonly string[]): Ranking {
  const i = r.order.indexOf(first);
  const order = [first, ...r.order.filter((c) => c !== first)];
  const scores = [score, ...r.scores.filter((_, j) => j !== i)];
  return { ...r, order, scores, reasons: [...reasons, ...r.reasons] };
}

export function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : Number.isFinite(x) ? x : 0;
}

/** Candidate by model name or alias. */
export function findCandidate(cands: readonly Candidate[], fleet: Fleet, name: string): Candidate | undefined {
  const m = fleet.byName.get(name);
  return m === undefined ? undefined : cands.find((c) => c.model === m);
}
