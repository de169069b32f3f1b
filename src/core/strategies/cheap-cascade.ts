// cheap_cascade: the cheapest model first; the escalation order (Decision.fallbackModels)
// goes up in price, ties by quality ascending (escalate toward stronger models).
// routing.cascade, when set, fixes the order; candidates it does not list follow by price.
// Only candidates (models that passed the filters) ever appear in the cascade.
//   score = 1 − position / candidates
import type { Strategy } from './strategy.js';

export const cheapCascade: Strategy = {
  endpointMode: 'affinity',
  rank: (i) => {
    const explicit = i.routing.cascade?.map((n) => i.fleet.byName.get(n)) ?? [];
    const pos = (c: (typeof i.cands)[number]) => {
      const k = explicit.indexOf(c.model);
      return k >= 0 ? k : explicit.length;
    };
    const order = [...i.cands].sort((a, b) => pos(a) - pos(b) || a.priceUsd - b.priceUsd || a.model.priors.quality - b.model.priors.quality);
    return { order, scores: order.map((_, k) => 1 - k / order.length), reasons: ['cascade'] };
  },
};
