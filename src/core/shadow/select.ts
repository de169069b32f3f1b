// Shadow traffic, the pure part: which candidate models receive a copy of a routed request.
//   rules      the fleet file's `shadow:` resolved to models, once per fleet
//   selection  one draw per request against the rule's sample_rate (sampled or not); a sampled
//              request goes to every candidate the policy lets see it — the same verdicts
//              that keep a model out of the request's decision (core/policy/compliance.ts):
//              the tenant's allowed/blocked models, the data class the model admits, the
//              tenant's regions and blocked providers, the rules that apply. A candidate that
//              fails one is never sent the request (`refused`, with the verdict's reason code).
// Capabilities (tools, vision, context length) are not checked here: a candidate that cannot
// serve the request answers its shadow with an error, which is what a switch would show.
import type { Fleet, Model } from '../../config/fleet.js';
import { policyVerdict, tenantVerdict, type PolicyContext } from '../policy/compliance.js';
import type { RequestPolicy } from '../types.js';

export interface ShadowRule {
  readonly model: Model;
  readonly candidates: readonly Model[];
  readonly sampleRate: number;
}

const RULES = new WeakMap<Fleet, ReadonlyMap<Model, ShadowRule>>();

/** The fleet's shadow rules by shadowed model (validated at load: every name resolves). */
export function shadowRules(fleet: Fleet): ReadonlyMap<Model, ShadowRule> {
  let rules = RULES.get(fleet);
  if (rules !== undefined) return rules;
  const map = new Map<Model, ShadowRule>();
  for (const r of fleet.file.shadow) {
    const model = fleet.byName.get(r.model);
    const candidates = r.candidates.map((c) => fleet.byName.get(c)).filter((m): m is Model => m !== undefined && m !== model);
    if (model !== undefined) map.set(model, Object.freeze({ model, candidates: Object.freeze(candidates), sampleRate: r.sample_rate }));
  }
  rules = map;
  RULES.set(fleet, rules);
  return rules;
}

export interface ShadowSelection {
  readonly rule: ShadowRule;
  /** Candidates that receive a copy, in the rule's order. */
  readonly mirror: readonly Model[];
  /** Candidates the policy keeps from this request, with the verdict (`class:confidential`, `tenant:blocked`, `rule:<name>`…). */
  readonly refused: ReadonlyArray<{ readonly model: Model; readonly reason: string }>;
}

/** Why the policy keeps `candidate` from a request with this policy (undefined: it may see it). */
export function candidateVerdict(candidate: Model, policy: RequestPolicy | undefined, fleet: Fleet): string | undefined {
  const ctx: PolicyContext<Model> = {
    tenant: policy?.tenant,
    dataClass: policy?.dataClass ?? fleet.policy.defaultClass,
    classes: fleet.policy.classes,
    rules: policy?.rules ?? [],
  };
  return tenantVerdict(candidate, ctx.tenant) ?? policyVerdict(candidate, ctx);
}

/**
 * The shadows of one request routed to `model`: undefined when the model has no rule or the
 * draw (uniform in [0, 1)) is not under its sample_rate.
 */
export function selectShadows(fleet: Fleet, model: Model, policy: RequestPolicy | undefined, draw: number): ShadowSelection | undefined {
  const rule = shadowRules(fleet).get(model);
  if (rule === undefined || !(draw < rule.sampleRate)) return undefined;
  const mirror: Model[] = [];
  const refused: Array<{ model: Model; reason: string }> = [];
  for (const c of rule.candidates) {
    const reason = candidateVerdict(c, policy, fleet);
    if (reason === undefined) mirror.push(c);
    else refused.push({ model: c, reason });
  }
  return { rule, mirror, refused };
}
