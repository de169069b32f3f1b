// Which endpoints a model has right now: the members of its Envoy cluster when
// discovery knows them (Envoy admin /clusters), else the fleet file's list.
// Pure; returns the stored array itself (no copy), so callers may memoise on it.
import type { Model } from '../fleet/fleet.js';
import type { LiveView } from './types.js';

export function endpointsOf(model: Model, live: LiveView): readonly string[] {
  return live.members?.(model.cluster) ?? model.endpoints;
}
