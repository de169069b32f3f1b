// Child-process entry of references.ts: receives one Scenario over IPC, computes the
// infinite-cache ceiling and the pooled cache, sends them back and exits.
import { computeReferences } from './references.js';
import type { Scenario } from './scenarios.js';

process.once('message', (s: Scenario) => {
  const r = computeReferences(s);
  process.send?.(r, () => process.exit(0));
});
