// static: always routing.static_model, else default_model, else the first model.
// When that model was filtered out (or has no usable endpoint) the next candidates
// follow by hybrid score (reason `static:unavailable`). Score 1 for the static model.
import { hybridScore } from './profiles.js';
import { findCandidate, promote, type Strategy } from './strategy.js';

export const staticStrategy: Strategy = {
  endpointMode: 'affinity',
  rank: (i) => {
    const name = i.routing.static_model ?? i.fleet.defaultModel?.name ?? i.fleet.models[0]?.name;
    const base = hybridScore.rank(i);
    const c = name !== undefined ? findCandidate(i.cands, i.fleet, name) : undefined;
    if (c === undefined) return { ...base, reasons: ['static:unavailable'] };
    return promote(base, c, 1, []);
  },
};
