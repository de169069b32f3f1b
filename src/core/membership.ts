// Which endpoints a model has right now: the members of its Envoy cluster when
// discovery knows them (Envoy admin /clusters), else the fleet file's list.
// Pure; returns the stored array itself (no copy), so callers may memoise on it.
import type { Model } from '../config/fleet.js';
import type { LiveView } from './types.js';

export function endpointsOf(model: Model, live: LiveView): readonly string[] {
  return live.members?.(model.cluster) ?? model.endpoints;
}

/** Every endpoint of the fleet right now (discovered or listed): what learned state may keep. */
export function fleetEndpoints(models: readonly Model[], live: LiveView): Set<string> {
  const out = new Set<string>();
  for (const m of models) for (const e of endpointsOf(m, live)) out.add(e);
  return out;
}

const positions = new WeakMap<readonly string[], ReadonlyMap<string, number>>();

/** address → index in `addrs`, memoised per endpoint list (lists keep their identity until membership changes). */
export function positionsOf(addrs: readonly string[]): ReadonlyMap<string, number> {
  let m = positions.get(addrs);
  if (m === undefined) {
    m = new Map(addrs.map((a, k) => [a, k]));
    positions.set(addrs, m);
  }
  return m;
}
