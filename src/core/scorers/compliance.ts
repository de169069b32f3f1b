// Compliance scorer: whether the prompt stays inside the fleet.
//   score = 1    self-hosted model (no `host`: replicas the operator runs)
//         = 0.5  hosted provider (a `host` is set: data leaves the fleet)
// Hard rules (data classes, residency) are filters of the policy layer, not scores;
// this only breaks ties toward self-hosted models. Weight 0 by default.
import type { Scorer } from './scorer.js';

export const complianceScore: Scorer = (i) => (i.model.host === undefined ? 1 : 0.5);
