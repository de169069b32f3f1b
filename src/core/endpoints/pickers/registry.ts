// Endpoint mode → picker. A strategy names its mode (strategies/strategy.ts); the
// compiler checks every mode has a picker. `counted` modes advance a per-model
// round-robin counter when the decision is committed.
import { affinityPicker } from './affinity.js';
import { leastLoadedPicker } from './least-loaded.js';
import type { Picker } from './pick.js';
import { prefixOnlyPicker } from './prefix-only.js';
import { randomPicker } from './random.js';
import { roundRobinPicker } from './round-robin.js';

export const ENDPOINT_MODES = ['affinity', 'prefix_only', 'least_loaded', 'round_robin', 'random'] as const;
export type EndpointMode = (typeof ENDPOINT_MODES)[number];

export const PICKERS: { readonly [M in EndpointMode]: { readonly pick: Picker; readonly counted: boolean } } = {
  affinity: { pick: affinityPicker, counted: false },
  prefix_only: { pick: prefixOnlyPicker, counted: false },
  least_loaded: { pick: leastLoadedPicker, counted: true },
  round_robin: { pick: roundRobinPicker, counted: true },
  random: { pick: randomPicker, counted: false },
};
