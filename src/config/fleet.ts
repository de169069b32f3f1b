// The validated fleet, frozen. The core reads only this shape.
import type { AffinityConfig, RoutingConfig } from './routing-schema.js';
import type { FleetFile, ModelFile } from './fleet-schema.js';

export type Model = Readonly<ModelFile> & {
  readonly aliases: readonly string[];
  readonly endpoints: readonly string[];
  readonly data_classes: readonly string[];
};

export interface Fleet {
  readonly server: Readonly<FleetFile['server']>;
  readonly models: readonly Model[];
  /** Name or alias → model. `auto` is resolved through defaultModel. */
  readonly byName: ReadonlyMap<string, Model>;
  readonly defaultModel: Model | undefined;
  /** `routing:` with defaults applied (strategy, weights, rules, domains, bandit). */
  readonly routing: Readonly<RoutingConfig>;
  /** `affinity:` with defaults applied (fingerprint, prefix index, sessions, load bound). */
  readonly affinity: Readonly<AffinityConfig>;
  /** The file as validated, for `kvfleet validate --print` and the explain API. */
  readonly file: Readonly<FleetFile>;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

export function buildFleet(file: FleetFile): Fleet {
  const frozen = deepFreeze(structuredClone(file));
  const byName = new Map<string, Model>();
  for (const m of frozen.models) {
    byName.set(m.name, m);
    for (const a of m.aliases) byName.set(a, m);
  }
  const defaultModel = frozen.default_model !== undefined ? byName.get(frozen.default_model) : undefined;
  return Object.freeze({
    server: frozen.server,
    models: frozen.models,
    byName,
    defaultModel,
    routing: frozen.routing,
    affinity: frozen.affinity,
    file: frozen,
  });
}
