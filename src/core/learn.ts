// What a decision and its outcome teach the router state. Called by the ext_proc
// phases (never by decide(), so POST /v1/route/explain leaves no trace).
//   commitDecision: primary's prefix index ← the prompt's block keys; session pin ←
//     primary; prompt-reuse rate ← whether the prompt's root was known; round-robin
//     counters advance.
//   learnOutcome:   if Envoy served another endpoint (retry), that endpoint learns the
//     blocks and takes the session pin; the model's bandit arm gets the reward
//     (reward.ts), exp3 its importance-weighted update, epsilon_greedy its decay.
// Prefix-index capacity per endpoint: the engine's KV capacity in our block units
// (capacityBlocks · engine blockTokens / block_tokens) when reported, else
// affinity.index_capacity_blocks.
import type { Fleet } from '../config/fleet.js';
import type { AffinityConfig } from '../config/routing-schema.js';
import { MAX_COUNTERS, type LearnedState } from './learned/learned-state.js';
import { endpointsOf, positionsOf } from './membership.js';
import { outcomeReward } from './reward.js';
import type { Decision, EndpointView, LiveView } from './types.js';

export function indexCapacity(view: EndpointView | undefined, a: AffinityConfig): number {
  const e = view?.engine;
  if (e?.capacityBlocks !== undefined && e.capacityBlocks > 0) {
    const tokens = e.capacityBlocks * (e.blockTokens ?? a.block_tokens);
    return Math.max(1, Math.floor(tokens / a.block_tokens));
  }
  return a.index_capacity_blocks;
}

export function commitDecision(state: LearnedState, d: Decision, live: LiveView, a: AffinityConfig, now: number): void {
  const primary = d.endpoints[0];
  if (primary === undefined) return;
  state.index.record(primary, d.learn.keys, d.learn.keys.length, indexCapacity(live.endpoint(primary), a));
  if (d.learn.sessionKey !== undefined) state.sessions.pin(d.learn.sessionKey, primary, now);
  if (d.learn.tail !== undefined && d.learn.sessionKey !== undefined) state.tails.record(d.learn.tail, d.learn.sessionKey);
  if (d.learn.rootSeen !== undefined) state.reuse.observe(d.learn.rootSeen);
  if (d.learn.counters.length > 0) {
    if (state.counters.size > MAX_COUNTERS) state.counters.clear();
    for (const k of d.learn.counters) state.counters.set(k, ((state.counters.get(k) ?? 0) + 1) % 1_000_000_007);
  }
}

export interface Outcome {
  readonly status: number | undefined;
  /** The endpoint Envoy says served the request (may differ from the primary after a retry). */
  readonly servedEndpoint: string | undefined;
  /** Decision to response headers, ms. */
  readonly latencyMs: number | undefined;
}

export function learnOutcome(state: LearnedState, fleet: Fleet, live: LiveView, d: Decision, o: Outcome, now: number): void {
  const served = o.servedEndpoint;
  if (served !== undefined && served !== d.endpoints[0] && positionsOf(endpointsOf(d.model, live)).has(served)) {
    state.index.record(served, d.learn.keys, d.learn.keys.length, indexCapacity(live.endpoint(served), fleet.affinity));
    if (d.learn.sessionKey !== undefined) state.sessions.pin(d.learn.sessionKey, served, now);
  }
  const reward = outcomeReward(o.status, o.latencyMs, d.learn.estCostUsd, fleet.routing);
  if (reward === undefined) return;
  const ok = o.status !== undefined && o.status < 400;
  state.bandit.update(d.model.name, reward, ok ? o.latencyMs : undefined);
  const b = fleet.routing.bandit;
  if (d.strategy === 'exp3' && d.learn.banditProb !== undefined) {
    state.bandit.exp3Update(d.model.name, reward, d.learn.banditProb, b.exp3_gamma, d.learn.armCount);
  }
  state.bandit.epsilon = Math.max(b.epsilon_min, (state.bandit.epsilon ?? b.epsilon) * b.epsilon_decay);
}
