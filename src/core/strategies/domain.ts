// domain: classified domain → model, from routing.domains (e.g. coding: qwen-coder).
// Falls back to routing.domains.general, then to hybrid order. A mapped model that was
// filtered out is skipped (reason `domain-map:<d>:unavailable`).
//   score = 1 for the mapped model, hybrid score for the others
import { hybridScore } from './profiles.js';
import { findCandidate, promote, type Strategy } from './strategy.js';

export const domainStrategy: Strategy = {
  endpointMode: 'affinity',
  rank: (i) => {
    const d = i.domain().domain;
    const base = hybridScore.rank(i);
    const reasons = [`domain:${d}`];
    for (const key of d === 'general' ? (['general'] as const) : ([d, 'general'] as const)) {
      const name = i.routing.domains[key];
      if (name === undefined) continue;
      const c = findCandidate(i.cands, i.fleet, name);
      if (c !== undefined) return promote(base, c, 1, [...reasons, `domain-map:${key}`]);
      reasons.push(`domain-map:${key}:unavailable`);
    }
    return { ...base, reasons: [...reasons, 'domain-map:none'] };
  },
};
