// zod schemas of the fleet file's policy sections (README "Policy and tenants"):
//   policy:    ordered data classes, PII detection (detector → class, action), rules
//              (residency, providers, models, deny) keyed on class, tenant or detector
//   identity:  where a request's tenant comes from (API key, Envoy jwt_authn payload,
//              a trusted header), the anonymous tenant, a separate keys file
//   tenants:   per tenant: API key hashes, models, data classes, regions, providers,
//              priority bounds, default strategy
// References between sections (class names, model names, tenants) are checked by
// checkPolicyRefs, called from fleet-schema.ts.
import { z } from 'zod';
import { budgetSchema, rateLimitSchema } from './usage-schema.js';
import { DEFAULT_DATA_CLASSES, PII_ACTIONS, PII_DETECTORS, PRIORITIES, STRATEGY_NAMES } from './names.js';

const name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only');

/** A key hash as `kvfleet keys hash` prints it. */
export const keyHash = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 lowercase hex digits>; `kvfleet keys hash` prints one');

const piiSchema = z
  .strictObject({
    /** Scan every prompt (each message, text part and tool-call argument) before routing. */
    enabled: z.boolean().default(true),
    /** Detectors to run (default: all). */
    detectors: z.array(z.enum(PII_DETECTORS)).default([...PII_DETECTORS]),
    /** The class a detector's finding puts the request in (defaults: see DEFAULT_PII_CLASSES). */
    classes: z.partialRecord(z.enum(PII_DETECTORS), name).default({}),
    /** What a finding does, unless `actions` says otherwise for its detector or class. */
    action: z.enum(PII_ACTIONS).default('route_private'),
    /** Per detector or per class name (a detector's entry wins over its class's). */
    actions: z.record(name, z.enum(PII_ACTIONS)).default({}),
  })
  .prefault({});

const ruleSchema = z.strictObject({
  name,
  /** When the rule applies: every given condition must hold (an empty `when` always applies). */
  when: z
    .strictObject({
      classes: z.array(name).min(1).optional(),
      tenants: z.array(name).min(1).optional(),
      detectors: z.array(z.enum(PII_DETECTORS)).min(1).optional(),
    })
    .prefault({}),
  /** Only models whose `region` is one of these. */
  regions: z.array(name).min(1).optional(),
  /** Never models of these providers (models[].provider). */
  blocked_providers: z.array(name).min(1).optional(),
  /** Only these models / never these models (names or aliases). */
  allowed_models: z.array(z.string().min(1)).min(1).optional(),
  blocked_models: z.array(z.string().min(1)).min(1).optional(),
  /** Refuse the request outright (403 policy_denied). */
  deny: z.boolean().default(false),
});

export const policySchema = z
  .strictObject({
    /** Data classes, lowest first. A request's class is the highest that applies to it. */
    data_classes: z
      .array(name)
      .min(1)
      .max(30)
      .default([...DEFAULT_DATA_CLASSES]),
    /** Class of a request nothing else classifies (default: the lowest). */
    default_class: name.optional(),
    pii: piiSchema,
    rules: z.array(ruleSchema).default([]),
  })
  .prefault({});

const identitySource = z.union([
  z.literal('api_key'),
  z.strictObject({
    jwt: z
      .strictObject({
        /** Dynamic-metadata namespace Envoy's jwt_authn writes (the filter's name). */
        namespace: z.string().min(1).default('envoy.filters.http.jwt_authn'),
        /** jwt_authn's payload_in_metadata key. */
        key: z.string().min(1).default('jwt_payload'),
        /** Claim holding the tenant id; dots walk nested claims (org.tenant). */
        claim: z.string().min(1).default('tenant'),
      })
      .prefault({}),
  }),
  z.strictObject({
    header: z
      .string()
      .min(1)
      .regex(/^[a-z0-9-]+$/, 'a lowercase header name'),
  }),
]);

export const identitySchema = z
  .strictObject({
    /** Tried in order; the first that names a tenant wins. */
    sources: z.array(identitySource).min(1).default(['api_key']),
    /** Requests without any identity are this tenant; unset: they get 401 invalid_api_key. */
    anonymous: name.optional(),
    /** A YAML file `tenant: [sha256:…]` with more API key hashes; re-read on SIGHUP. Relative to the fleet file. */
    keys_file: z.string().min(1).optional(),
  })
  .optional();

const tenantSchema = z.strictObject({
  /** SHA-256 hashes of the tenant's API keys (`kvfleet keys hash`). */
  api_keys: z.array(keyHash).default([]),
  /** Models the tenant may use (names or aliases); unset: all. */
  allowed_models: z.array(z.string().min(1)).optional(),
  blocked_models: z.array(z.string().min(1)).default([]),
  /** Classes the tenant may send; a request of another class gets 403 policy_denied. Unset: all. */
  allowed_data_classes: z.array(name).optional(),
  /** The class every request of this tenant has at least. */
  default_data_class: name.optional(),
  /** Only models in these regions. */
  regions: z.array(name).min(1).optional(),
  blocked_providers: z.array(name).default([]),
  default_priority: z.enum(PRIORITIES).default('normal'),
  /** A higher x-kvfleet-priority is lowered to this. */
  max_priority: z.enum(PRIORITIES).default('high'),
  /** The tenant's strategy when the request sends no x-kvfleet-strategy. */
  strategy: z.enum(STRATEGY_NAMES).optional(),
  /** Requests and tokens per minute (usage-schema.ts). */
  limits: rateLimitSchema.optional(),
  /** Spending per UTC day / month; exhausted → block (429) or downgrade. */
  budget: budgetSchema.optional(),
});

export const tenantsSchema = z.record(name, tenantSchema).optional();

export type PolicyConfig = z.infer<typeof policySchema>;
export type PolicyRule = PolicyConfig['rules'][number];
export type IdentityConfig = NonNullable<z.infer<typeof identitySchema>>;
export type IdentitySource = IdentityConfig['sources'][number];
export type TenantConfig = z.infer<typeof tenantSchema>;

interface RefContext {
  addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void;
}

interface PolicyRefsInput {
  readonly policy: PolicyConfig;
  readonly identity?: IdentityConfig | undefined;
  readonly tenants?: Readonly<Record<string, TenantConfig>> | undefined;
  readonly models: ReadonlyArray<{ readonly data_classes?: readonly string[] | undefined }>;
}

/** Class names must be declared, model names must exist, the anonymous tenant must be a tenant. */
export function checkPolicyRefs(f: PolicyRefsInput, modelNames: ReadonlySet<string>, ctx: RefContext): void {
  const classes = new Set(f.policy.data_classes);
  if (classes.size !== f.policy.data_classes.length)
    ctx.addIssue({ code: 'custom', path: ['policy', 'data_classes'], message: 'class names must be distinct' });
  const cls = (c: string | undefined, path: (string | number)[]) => {
    if (c !== undefined && !classes.has(c))
      ctx.addIssue({ code: 'custom', path, message: `"${c}" is not a class in policy.data_classes (${[...classes].join(', ')})` });
  };
  const model = (m: string, path: (string | number)[]) => {
    if (!modelNames.has(m)) ctx.addIssue({ code: 'custom', path, message: `"${m}" is not a model name or alias in models[]` });
  };
  cls(f.policy.default_class, ['policy', 'default_class']);
  for (const [d, c] of Object.entries(f.policy.pii.classes)) cls(c, ['policy', 'pii', 'classes', d]);
  const detectors = new Set<string>(PII_DETECTORS);
  for (const k of Object.keys(f.policy.pii.actions)) {
    if (!detectors.has(k) && !classes.has(k))
      ctx.addIssue({ code: 'custom', path: ['policy', 'pii', 'actions', k], message: `"${k}" is neither a PII detector nor a data class` });
  }
  f.policy.rules.forEach((r, i) => {
    r.when.classes?.forEach((c, j) => cls(c, ['policy', 'rules', i, 'when', 'classes', j]));
    r.when.tenants?.forEach((t, j) => {
      if (f.tenants?.[t] === undefined)
        ctx.addIssue({ code: 'custom', path: ['policy', 'rules', i, 'when', 'tenants', j], message: `"${t}" is not a tenant in tenants:` });
    });
    r.allowed_models?.forEach((m, j) => model(m, ['policy', 'rules', i, 'allowed_models', j]));
    r.blocked_models?.forEach((m, j) => model(m, ['policy', 'rules', i, 'blocked_models', j]));
  });
  f.models.forEach((m, i) => m.data_classes?.forEach((c, j) => cls(c, ['models', i, 'data_classes', j])));
  for (const [id, t] of Object.entries(f.tenants ?? {})) {
    cls(t.default_data_class, ['tenants', id, 'default_data_class']);
    t.allowed_data_classes?.forEach((c, j) => cls(c, ['tenants', id, 'allowed_data_classes', j]));
    t.allowed_models?.forEach((m, j) => model(m, ['tenants', id, 'allowed_models', j]));
    t.blocked_models.forEach((m, j) => model(m, ['tenants', id, 'blocked_models', j]));
  }
  if (f.identity !== undefined && f.tenants === undefined) {
    ctx.addIssue({ code: 'custom', path: ['identity'], message: 'identity needs a tenants: section to map identities to' });
  }
  if (f.identity?.anonymous !== undefined && f.tenants?.[f.identity.anonymous] === undefined) {
    ctx.addIssue({ code: 'custom', path: ['identity', 'anonymous'], message: `"${f.identity.anonymous}" is not a tenant in tenants:` });
  }
  const owner = new Map<string, string>();
  for (const [id, t] of Object.entries(f.tenants ?? {})) {
    t.api_keys.forEach((h, j) => {
      const prev = owner.get(h);
      if (prev !== undefined && prev !== id)
        ctx.addIssue({ code: 'custom', path: ['tenants', id, 'api_keys', j], message: `this key hash already belongs to tenant "${prev}"` });
      owner.set(h, id);
    });
  }
}
