// The fleet file's policy sections resolved once into lookup structures (sets, class
// indices, model references), frozen with the fleet. The core's policy checks
// (core/policy/) and identity resolution (request/identity.ts) read only this.
//   classes         ordered; a class is its index (0 = lowest); models and tenants carry
//                   bit masks of the classes they admit
//   pii             detector → class index and action: actions[detector] ?? actions[class]
//                   ?? action; detectors without a configured class get the default
//                   (DEFAULT_PII_CLASSES, or the highest class when it is not declared)
//   tenants         allowed / blocked models as Model sets, class mask, regions, providers
//   keys            API key hash → tenant id (tenants.*.api_keys and identity.keys_file)
import type { BudgetConfig, RateLimitConfig } from './usage-schema.js';
import { PII_DETECTORS, PRIORITIES, type PiiAction, type PiiDetector, type Priority, type StrategyName } from './names.js';
import type { IdentityConfig, PolicyConfig, TenantConfig } from './policy-schema.js';

/** A model as the policy sees it (the fields of config/fleet.ts Model that policy reads). */
export interface PolicyModel {
  readonly name: string;
  readonly provider: string;
  readonly region?: string | undefined;
  /** Bit i set: the model may receive requests of class i. */
  readonly classMask: number;
}

export interface Tenant<M extends PolicyModel = PolicyModel> {
  readonly id: string;
  /** undefined: every model. */
  readonly allowed: ReadonlySet<M> | undefined;
  readonly blocked: ReadonlySet<M>;
  /** Classes the tenant may send. */
  readonly classMask: number;
  readonly defaultClass: number;
  readonly regions: ReadonlySet<string> | undefined;
  readonly blockedProviders: ReadonlySet<string>;
  readonly defaultPriority: Priority;
  readonly maxPriority: Priority;
  readonly strategy: StrategyName | undefined;
  /** Requests / tokens per minute (undefined: none). */
  readonly limits: RateLimitConfig | undefined;
  /** Spending per UTC day / month (undefined: none). */
  readonly budget: BudgetConfig | undefined;
}

export interface ResolvedRule<M extends PolicyModel = PolicyModel> {
  readonly name: string;
  /** Conditions (undefined = any). */
  readonly classMask: number | undefined;
  readonly tenants: ReadonlySet<string> | undefined;
  readonly detectors: ReadonlySet<PiiDetector> | undefined;
  readonly regions: ReadonlySet<string> | undefined;
  readonly blockedProviders: ReadonlySet<string> | undefined;
  readonly allowed: ReadonlySet<M> | undefined;
  readonly blocked: ReadonlySet<M> | undefined;
  readonly deny: boolean;
}

export interface FleetPolicy<M extends PolicyModel = PolicyModel> {
  readonly classes: readonly string[];
  readonly classIndex: ReadonlyMap<string, number>;
  readonly allClasses: number;
  readonly defaultClass: number;
  readonly pii: {
    readonly enabled: boolean;
    readonly detectors: ReadonlySet<PiiDetector>;
    readonly classOf: Readonly<Record<PiiDetector, number>>;
    readonly actionOf: Readonly<Record<PiiDetector, PiiAction>>;
  };
  readonly rules: readonly ResolvedRule<M>[];
  readonly tenants: ReadonlyMap<string, Tenant<M>>;
  readonly identity: IdentityConfig | undefined;
  /** API key hash (`sha256:…`) → tenant id. */
  readonly keys: ReadonlyMap<string, string>;
  /** routing.fallback, resolved; undefined when not configured. */
  readonly fallback: readonly M[] | undefined;
}

/** The class each detector's finding implies when policy.pii.classes does not say. */
export const DEFAULT_PII_CLASSES: Readonly<Record<PiiDetector, string>> = {
  email: 'confidential',
  phone: 'confidential',
  payment_card: 'restricted',
  iban: 'restricted',
  us_ssn: 'restricted',
  ip_address: 'internal',
  secret: 'restricted',
};

export const PRIORITY_RANK: Readonly<Record<Priority, number>> = { low: 0, normal: 1, high: 2 };
export { PRIORITIES };

const maskOf = (names: readonly string[] | undefined, index: ReadonlyMap<string, number>, all: number): number => {
  if (names === undefined) return all;
  let m = 0;
  for (const n of names) {
    const i = index.get(n);
    if (i !== undefined) m |= 1 << i;
  }
  return m;
};

export interface PolicyInput<M extends PolicyModel> {
  readonly policy: PolicyConfig;
  readonly identity: IdentityConfig | undefined;
  readonly tenants: Readonly<Record<string, TenantConfig>> | undefined;
  readonly fallback: readonly string[] | undefined;
  readonly byName: ReadonlyMap<string, M>;
  /** Extra key hashes from identity.keys_file: tenant → hashes. */
  readonly extraKeys?: Readonly<Record<string, readonly string[]>> | undefined;
}

export function resolvePolicy<M extends PolicyModel>(i: PolicyInput<M>): FleetPolicy<M> {
  const p = i.policy;
  const classes = p.data_classes;
  const classIndex = new Map(classes.map((c, k) => [c, k]));
  const all = (1 << classes.length) - 1;
  const highest = classes.length - 1;
  const classOrDefault = (c: string | undefined, fallback: number) => (c !== undefined ? (classIndex.get(c) ?? fallback) : fallback);
  const models = (names: readonly string[] | undefined): Set<M> | undefined => {
    if (names === undefined) return undefined;
    const out = new Set<M>();
    for (const n of names) {
      const m = i.byName.get(n);
      if (m !== undefined) out.add(m);
    }
    return out;
  };
  const classOf = {} as Record<PiiDetector, number>;
  const actionOf = {} as Record<PiiDetector, PiiAction>;
  for (const d of PII_DETECTORS) {
    classOf[d] = classOrDefault(p.pii.classes[d] ?? DEFAULT_PII_CLASSES[d], highest);
    actionOf[d] = p.pii.actions[d] ?? p.pii.actions[classes[classOf[d]] as string] ?? p.pii.action;
  }
  const tenants = new Map<string, Tenant<M>>();
  for (const [id, t] of Object.entries(i.tenants ?? {})) {
    tenants.set(id, {
      id,
      allowed: models(t.allowed_models),
      blocked: models(t.blocked_models) ?? new Set(),
      classMask: maskOf(t.allowed_data_classes, classIndex, all),
      defaultClass: classOrDefault(t.default_data_class, 0),
      regions: t.regions !== undefined ? new Set(t.regions) : undefined,
      blockedProviders: new Set(t.blocked_providers),
      defaultPriority: t.default_priority,
      maxPriority: t.max_priority,
      strategy: t.strategy,
      limits: t.limits,
      budget: t.budget,
    });
  }
  const keys = new Map<string, string>();
  for (const [id, t] of Object.entries(i.tenants ?? {})) for (const h of t.api_keys) keys.set(h, id);
  for (const [id, hashes] of Object.entries(i.extraKeys ?? {})) for (const h of hashes) keys.set(h, id);
  return {
    classes,
    classIndex,
    allClasses: all,
    defaultClass: classOrDefault(p.default_class, 0),
    pii: { enabled: p.pii.enabled, detectors: new Set(p.pii.detectors), classOf, actionOf },
    rules: p.rules.map((r) => ({
      name: r.name,
      classMask: r.when.classes !== undefined ? maskOf(r.when.classes, classIndex, all) : undefined,
      tenants: r.when.tenants !== undefined ? new Set(r.when.tenants) : undefined,
      detectors: r.when.detectors !== undefined ? new Set(r.when.detectors) : undefined,
      regions: r.regions !== undefined ? new Set(r.regions) : undefined,
      blockedProviders: r.blocked_providers !== undefined ? new Set(r.blocked_providers) : undefined,
      allowed: models(r.allowed_models),
      blocked: models(r.blocked_models),
      deny: r.deny,
    })),
    tenants,
    identity: i.identity,
    keys,
    fallback: i.fallback?.map((n) => i.byName.get(n)).filter((m): m is M => m !== undefined),
  };
}

/** Class mask of a model's data_classes (every class when unset). */
export function modelClassMask(names: readonly string[] | undefined, policy: PolicyConfig): number {
  const index = new Map(policy.data_classes.map((c, k) => [c, k]));
  return maskOf(names, index, (1 << policy.data_classes.length) - 1);
}
