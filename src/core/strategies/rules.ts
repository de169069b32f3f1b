// rules: the first rule (routing.rules, in order) whose `when` holds and whose model
// is a candidate wins (reason `rule:<name>`); the rest follow by hybrid score.
// `when` conditions (all must hold): domain (classifier), api, priority,
// min/max_prompt_tokens, tools, json_mode, images, session. A matching rule whose
// model was filtered out is skipped (reason `rule:<name>:unavailable`) — a filter
// always wins over a rule. No rule matched: hybrid order, reason `rule:none`.
import type { RoutingRule } from '../../config/routing-schema.js';
import { effectivePriority } from '../priority.js';
import { hybridScore } from './profiles.js';
import { findCandidate, promote, type Strategy, type StrategyInput } from './strategy.js';

function holds(rule: RoutingRule, i: StrategyInput): boolean {
  const w = rule.when;
  const input = i.req.input;
  if (w.api !== undefined && !w.api.includes(input.api)) return false;
  if (w.priority !== undefined && !w.priority.includes(effectivePriority(i.req).priority)) return false;
  if (w.min_prompt_tokens !== undefined && i.promptTokens < w.min_prompt_tokens) return false;
  if (w.max_prompt_tokens !== undefined && i.promptTokens > w.max_prompt_tokens) return false;
  if (w.tools !== undefined && input.hasTools !== w.tools) return false;
  if (w.json_mode !== undefined && input.jsonMode !== w.json_mode) return false;
  if (w.images !== undefined && input.hasImages !== w.images) return false;
  if (w.session !== undefined && (i.req.sessionId !== undefined) !== w.session) return false;
  if (w.domain !== undefined && !w.domain.includes(i.domain().domain)) return false;
  return true;
}

export const rulesStrategy: Strategy = {
  endpointMode: 'affinity',
  rank: (i) => {
    const base = hybridScore.rank(i);
    const skipped: string[] = [];
    for (const rule of i.routing.rules) {
      if (!holds(rule, i)) continue;
      const c = findCandidate(i.cands, i.fleet, rule.model);
      if (c === undefined) {
        skipped.push(`rule:${rule.name}:unavailable`);
        continue;
      }
      return promote(base, c, 1, [`rule:${rule.name}`, ...skipped]);
    }
    return { ...base, reasons: [...skipped, 'rule:none'] };
  },
};
