// The decision: request → candidate models → endpoint assessment → scores →
// strategy ranking → endpoint pick → Decision with reasons. Pure and synchronous:
// everything arrives in its arguments; it reads the learned state and writes
// nothing (commitDecision in learn.ts records what it teaches). The ext_proc body
// phase and POST /v1/route/explain both call this function.
//
//   filters (candidates.ts, filters.ts) → scorers (scorers/registry.ts, each 0..1)
//   → weights (scorers/registry.ts, priority.ts) → strategy (strategies/registry.ts)
//   → endpoint picker (endpoints/picker.ts, pickers/registry.ts)
import { promptTail } from './learned/conversation-tails.js';
import type { Fleet, Model } from '../config/fleet.js';
import { DEFAULT_STRATEGY, type PiiAction } from '../config/names.js';
import type { AffinityConfig } from '../config/routing-schema.js';
import { kvError } from '../errors.js';
import { candidateModels } from './candidates.js';
import { classifyPrompt, type DomainGuess } from './domain-classifier.js';
import { assessModel, estimateAt, listHas, minByTtft } from './endpoints/assess.js';
import { endpointDetails } from './endpoints/details.js';
import { pickEndpoints } from './endpoints/picker.js';
import { PICKERS } from './endpoints/pickers/registry.js';
import { fingerprint, modelSalt, saltedKeys } from './fingerprint.js';
import { hashKey, salted } from './hash.js';
import { effectivePriority, PRIORITY_EFFECTS, priorityWeights } from './priority.js';
import { priceUsd } from './scorers/price.js';
import { scoreAll, weightedSum } from './scorers/registry.js';
import { STRATEGIES } from './strategies/registry.js';
import type { Candidate, Ranking } from './strategies/strategy.js';
import type { CandidateScore, DecideContext, Decision, DecisionRequest, PolicySummary, PreciseMatch, Rejection, RequestPolicy } from './types.js';

/** Fallbacks offered after the primary (Envoy retries walk this list). */
export const MAX_FALLBACKS = 3;

/** The session key of a request: x-session-id, else the body's `user` when affinity.session_from_user. */
export function sessionKeyOf(req: DecisionRequest, fromUser: boolean): { key: string; source: 'x-session-id' | 'user' | 'inferred' } | undefined {
  if (req.sessionId !== undefined) return { key: `s:${req.sessionId}`, source: 'x-session-id' };
  if (fromUser && req.input.user !== undefined) return { key: `u:${req.input.user}`, source: 'user' };
  return undefined;
}

/** CHWBL bound in effect: the configured one, its slack scaled by prompt reuse when adaptive (0..1). */
export function effectiveLoadBound(a: Pick<AffinityConfig, 'load_bound' | 'adaptive_bound'>, reuse: number): number {
  return a.adaptive_bound ? 1 + (a.load_bound - 1) * Math.min(1, Math.max(0, reuse)) : a.load_bound;
}

/** The policy side of a request, as the explanation renders it (x-kvfleet-policy). */
export function policySummary(p: RequestPolicy | undefined, fleet: Fleet): PolicySummary {
  const cls = p?.dataClass ?? fleet.policy.defaultClass;
  const detected = p?.detected ?? [];
  const actions = new Set<PiiAction>();
  for (const d of detected) actions.add(fleet.policy.pii.actionOf[d]);
  return {
    tenant: p?.tenant?.id,
    dataClass: fleet.policy.classes[cls] ?? String(cls),
    detected,
    actions: [...actions],
    rules: (p?.rules ?? []).map((r) => r.name),
  };
}

/** Whether a candidate has an endpoint it can use now (healthy and not cooling). */
/** Below this share of a rate window left, the explanation predicts exhaustion. */
const HEADROOM_LOW = 0.1;

const usableNow = (c: Candidate): boolean => c.assessment.usable.length > 0;

/** The precise index knows `pin` and another endpoint holds more of the prompt than it does. */
function heldElsewhere(p: PreciseMatch, pin: string): boolean {
  const mine = p.shares.get(pin);
  if (mine === undefined) return false;
  for (const [a, s] of p.shares) if (a !== pin && s > mine) return true;
  return false;
}

export function decide(req: DecisionRequest, ctx: DecideContext): Decision {
  const { fleet, state, now } = ctx;
  const a = fleet.affinity;
  const routing = fleet.routing;
  const strategyName = req.overrides.strategy ?? req.policy?.tenant?.strategy ?? routing.strategy ?? DEFAULT_STRATEGY;
  const strategy = STRATEGIES[strategyName];
  const { priority, capped } = effectivePriority(req);
  const effect = PRIORITY_EFFECTS[priority];

  // Hash once per request; every candidate model reuses the chain with its salt.
  const fp = fingerprint(req.input.segments, req.input.promptChars, a);
  const cm = candidateModels(req, fleet, fp.promptTokens);
  const rejected: Rejection[] = [...cm.rejected];

  // No id: with infer_sessions, a prompt extending a recent one whole continues its conversation.
  const explicit = sessionKeyOf(req, a.session_from_user);
  const inferred = a.infer_sessions && explicit === undefined && fp.blocks > 1 ? state.tails.find(fp) : undefined;
  const session = explicit ?? (inferred !== undefined ? { key: inferred, source: 'inferred' as const } : undefined);
  const tail = a.infer_sessions ? promptTail(fp) : undefined;
  const pin = session !== undefined ? state.sessions.get(session.key, now) : undefined;
  const ringBase = session !== undefined ? hashKey(session.key) : fp.routingKey;
  const weights = priorityWeights(routing.weights, effect);
  const loadBound = effectiveLoadBound(a, state.reuse.rate);

  const assessed = new Map<Model, Candidate>();
  const preciseOf = new Map<Model, PreciseMatch>();
  /** The model's candidate entry (assessed and scored once), or undefined when it has no healthy endpoint. */
  const candidate = (model: Model): Candidate | undefined => {
    const known = assessed.get(model);
    if (known !== undefined) return known;
    const salt = modelSalt(model);
    const precise = ctx.precise?.(model, req.input);
    if (precise !== undefined) preciseOf.set(model, precise);
    // An inferred conversation follows its cache: when the engines say its replica no longer
    // holds the prompt and another holds more, the pin does not apply (explicit ids still do).
    const unpin = session?.source === 'inferred' && pin !== undefined && precise !== undefined && heldElsewhere(precise, pin);
    const assessment = assessModel({
      model,
      keys: saltedKeys(fp, salt),
      fp,
      ringKey: salted(ringBase, salt),
      pin: unpin ? undefined : pin,
      waitScale: effect.waitScale,
      loadBound,
      live: ctx.live,
      index: state.index,
      affinity: a,
      now,
      precise,
    });
    if (assessment.healthyCount === 0) return undefined;
    const as = assessment;
    const bestAt = as.pin !== -1 && listHas(as.usable, as.pin) ? as.pin : as.usable.length > 0 ? minByTtft(as, as.usable) : minByTtft(as, as.coolingIdx);
    const best = bestAt !== -1 ? estimateAt(as, bestAt) : undefined;
    const price = priceUsd(model, fp.promptTokens, req.input.maxOutputTokens);
    const scores = scoreAll({ model, assessment, best, promptBlocks: fp.blocks, priceUsd: price, routing, bandit: state.bandit });
    const c: Candidate = { model, assessment, best, scores, total: weightedSum(scores, weights), priceUsd: price };
    assessed.set(model, c);
    return c;
  };

  const cands: Candidate[] = [];
  for (const model of cm.models) {
    const c = candidate(model);
    if (c !== undefined) cands.push(c);
    else rejected.push({ model: model.name, reason: 'no-healthy-endpoint' });
  }

  // Rate headroom (model or provider account): among several candidates, one whose window is
  // spent is left out before it would answer 429; the chosen one close to its limit is said so.
  const room = (m: Model): number | undefined => {
    const a = ctx.headroom?.('model', m.name);
    const b = ctx.headroom?.('provider', m.provider);
    return a === undefined ? b : b === undefined ? a : Math.min(a, b);
  };
  const headroomReasons: string[] = [];
  if (ctx.headroom !== undefined && cands.length > 1 && cands.some((c) => (room(c.model) ?? 1) > 0)) {
    for (let k = cands.length - 1; k >= 0; k--) {
      const m = (cands[k] as Candidate).model;
      if ((room(m) ?? 1) > 0) continue;
      cands.splice(k, 1);
      rejected.push({ model: m.name, reason: 'rate-exhausted' });
      headroomReasons.push(`headroom:skip:${m.name}`);
    }
  }

  let guess: DomainGuess | undefined;
  const domain = () => (guess ??= classifyPrompt(req.input.segments));
  const ranking: Ranking =
    cands.length > 0 ? strategy.rank({ cands, req, fleet, routing, state, domain, promptTokens: fp.promptTokens }) : { order: [], scores: [], reasons: [] };
  let chosen = ranking.order[0];
  const extra: string[] = [];
  // Model fallback (routing.fallback): the chosen model has no usable endpoint (none healthy,
  // or all cooling), or the named model failed policy: the next model of the order that
  // passes every filter and has one.
  if ((chosen === undefined || !usableNow(chosen)) && fleet.policy.fallback !== undefined) {
    const from = chosen?.model ?? cm.named;
    const order = cm.fallback;
    const start = from !== undefined && order.includes(from) ? order.indexOf(from) + 1 : 0;
    let next: Candidate | undefined;
    for (let k = 0; k < order.length && next === undefined; k++) {
      const c = candidate(order[(start + k) % order.length] as Model);
      if (c !== undefined && c.model !== from && usableNow(c)) next = c;
    }
    if (next !== undefined) {
      extra.push(`fallback-model:${from?.name ?? '-'}`);
      chosen = next;
    } else if (chosen === undefined || cm.policyExcluded || cm.models.length === 0) {
      throw kvError('no_compliant_endpoint', { model: from?.name ?? 'auto' }, 1);
    }
  }
  if (chosen === undefined) {
    if (cm.named !== undefined) throw kvError('no_healthy_endpoint', { model: cm.named.name }, 1);
    if (cm.policyExcluded) throw kvError('no_compliant_endpoint', { model: 'auto' }, 1);
    throw kvError('no_candidate', {}, 1);
  }
  const model = chosen.model;

  const epKey = `ep:${model.name}`;
  const pick = pickEndpoints(chosen.assessment, strategy.endpointMode, {
    hasSession: session !== undefined,
    promptBlocks: fp.blocks,
    promptTokens: fp.promptTokens,
    blockTokens: fp.blockTokens,
    rrStart: state.counters.get(epKey) ?? 0,
    rng: state.rng,
    maxFallbacks: MAX_FALLBACKS,
  });
  if (pick === undefined) throw kvError('no_healthy_endpoint', { model: model.name }, 1);

  const reasons = [...pick.reasons, ...cm.reasons, ...extra, ...ranking.reasons, ...headroomReasons];
  const left = room(model);
  if (left !== undefined && left < HEADROOM_LOW) reasons.push(`headroom-low:${Math.round(left * 100)}%`);
  if (guess !== undefined && !reasons.some((r) => r.startsWith('domain:'))) reasons.push(`domain:${guess.domain}`);
  if (rejected.length > 0) reasons.push(`filtered:${rejected.length}`);
  const kv = preciseOf.get(model);
  if (kv !== undefined) reasons.push(kv.mode === 'precise' ? 'kv-precise' : `kv-${kv.mode}:${kv.reason ?? 'unknown'}`);
  if (priority !== 'normal') reasons.push(`priority:${priority}`);
  if (capped) reasons.push('priority-capped');

  const order = ranking.order.includes(chosen) ? ranking.order : [chosen, ...ranking.order];
  const candidates: CandidateScore[] = order.map((c) => ({
    model: c.model.name,
    scores: c.scores,
    total: c.total,
    strategyScore: ranking.scores[ranking.order.indexOf(c)] ?? 0,
    priceUsd: c.priceUsd,
    endpoint: c.best?.address,
    ttftMs: c.best?.ttftMs,
  }));
  const counters = [...(ranking.counters ?? [])];
  if (PICKERS[strategy.endpointMode].counted) counters.push(epKey);

  return {
    requestId: req.requestId,
    model,
    endpoints: pick.endpoints,
    strategy: strategyName,
    score: ranking.order[0] === chosen ? (ranking.scores[0] ?? 0) : chosen.total,
    affinity: pick.affinity,
    reasons,
    rejected,
    priority,
    policy: policySummary(req.policy, fleet),
    domain: guess?.domain,
    candidates,
    fallbackModels: order.filter((c) => c !== chosen).map((c) => c.model.name),
    endpointDetails: endpointDetails(chosen.assessment, pick.endpoints),
    endpointCount: chosen.assessment.addrs.length,
    session:
      session !== undefined && pick.sessionOutcome !== undefined
        ? { source: session.source, pinned: chosen.assessment.addrs[chosen.assessment.pin], outcome: pick.sessionOutcome }
        : undefined,
    prompt: { tokens: fp.promptTokens, blocks: fp.blocks },
    loadBound,
    learn: {
      keys: chosen.assessment.keys,
      rootSeen: fp.blocks > 0 ? state.index.holders(chosen.assessment.keys[0] as number) !== undefined : undefined,
      // A new conversation (no id, nothing extended) is named after its first tail.
      sessionKey: session?.key ?? (tail !== undefined ? `c:${tail.key}` : undefined),
      tail,
      counters,
      banditProb: ranking.banditProb,
      armCount: cands.length,
      estCostUsd: chosen.priceUsd,
    },
  };
}
