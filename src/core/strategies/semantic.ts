// semantic: classify the prompt's domain (domain-classifier.ts, whole-word keywords),
// prefer models whose tags.domain (comma list allowed) names it; among them, and
// among the rest after them, hybrid score decides. No model tagged for the domain:
// models tagged `general` (or untagged) first. Reason `domain:<d>` (+ `:untagged`).
//   score = 0.5 + 0.5 · hybrid   for a domain match,  0.5 · hybrid otherwise
import type { Model } from '../../config/fleet.js';
import { rankBy, type Strategy } from './strategy.js';

export function modelDomains(m: Model): string[] {
  const t = m.tags['domain'] ?? m.tags['domains'];
  return t === undefined
    ? []
    : t
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter((s) => s !== '');
}

export const semanticStrategy: Strategy = {
  endpointMode: 'affinity',
  rank: (i) => {
    const d = i.domain().domain;
    const tagged = i.cands.some((c) => modelDomains(c.model).includes(d));
    const fits = (m: Model) => {
      const ds = modelDomains(m);
      return tagged ? ds.includes(d) : ds.length === 0 || ds.includes('general');
    };
    const r = rankBy(i.cands, (c) => (fits(c.model) ? 0.5 : 0) + 0.5 * c.total);
    return { ...r, reasons: [tagged ? `domain:${d}` : `domain:${d}:untagged`] };
  },
};
