// The validated fleet, frozen. The core reads only this shape.
import type { AffinityConfig, RoutingConfig } from './routing-schema.js';
import type { FleetFile, ModelFile } from './fleet-schema.js';
import { modelClassMask, resolvePolicy, type FleetPolicy, type Tenant } from './policy.js';

export type Model = Readonly<Omit<ModelFile, 'data_classes' | 'provider'>> & {
  readonly aliases: readonly string[];
  readonly endpoints: readonly string[];
  /** The classes it may receive (every class when the file does not say). */
  readonly data_classes: readonly string[];
  /** models[].provider, else `self` (no host) or the host. */
  readonly provider: string;
  /** Bit i set: requests of data class i may go here. */
  readonly classMask: number;
  /** A hosted provider (`host` set). */
  readonly hosted: boolean;
  /**
   * A hosted provider without listed endpoints: `endpoints` is `[host]`, one virtual endpoint
   * that carries its health, cooldowns and in-flight count; no endpoint list is sent to Envoy
   * (override_host matches only resolved ip:port; the cluster's own load balancer picks).
   */
  readonly virtualEndpoint: boolean;
};

export type FleetTenant = Tenant<Model>;

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
  /** Data classes, PII detection, rules, tenants, identity, API keys, fallback order — resolved. */
  readonly policy: FleetPolicy<Model>;
  /** Provider accounts, shared state, flow control, metering (usage-schema.ts). */
  readonly usage: FleetUsage;
  /** The file as validated, for `kvfleet validate --print` and the explain API. */
  readonly file: Readonly<FleetFile>;
}

export interface FleetUsage {
  /** Some tenant, model or provider account has rate limits or a budget. */
  readonly limited: boolean;
  readonly providers: Readonly<FleetFile['providers']>;
  readonly state: Readonly<FleetFile['state']>;
  readonly flowControl: Readonly<FleetFile['flow_control']>;
  readonly metering: Readonly<FleetFile['metering']>;
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

/** `extraKeys`: tenant → API key hashes from identity.keys_file. */
export function buildFleet(file: FleetFile, extraKeys?: Readonly<Record<string, readonly string[]>>): Fleet {
  const frozen = deepFreeze(structuredClone(file));
  const classes = frozen.policy.data_classes;
  const models: Model[] = frozen.models.map((m) =>
    Object.freeze({
      ...m,
      endpoints: m.host !== undefined && m.endpoints.length === 0 ? [m.host] : m.endpoints,
      virtualEndpoint: m.host !== undefined && m.endpoints.length === 0,
      data_classes: m.data_classes ?? classes,
      provider: m.provider ?? (m.host === undefined ? 'self' : m.host),
      classMask: modelClassMask(m.data_classes, frozen.policy),
      hosted: m.host !== undefined,
    }),
  );
  const byName = new Map<string, Model>();
  for (const m of models) {
    byName.set(m.name, m);
    for (const a of m.aliases) byName.set(a, m);
  }
  const defaultModel = frozen.default_model !== undefined ? byName.get(frozen.default_model) : undefined;
  const policy = resolvePolicy({
    policy: frozen.policy,
    identity: frozen.identity,
    tenants: frozen.tenants,
    fallback: frozen.routing.fallback,
    byName,
    extraKeys,
  });
  return Object.freeze({
    server: frozen.server,
    models: Object.freeze(models),
    byName,
    defaultModel,
    routing: frozen.routing,
    affinity: frozen.affinity,
    policy,
    usage: Object.freeze({
      limited:
        frozen.models.some((m) => m.limits !== undefined || m.budget !== undefined) ||
        Object.values(frozen.tenants ?? {}).some((t) => t.limits !== undefined || t.budget !== undefined) ||
        Object.values(frozen.providers).some((p) => p.limits !== undefined || p.budget !== undefined),
      providers: frozen.providers,
      state: frozen.state,
      flowControl: frozen.flow_control,
      metering: frozen.metering,
    }),
    file: frozen,
  });
}
