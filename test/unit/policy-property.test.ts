// Property: for random fleets, tenants, rules and prompts, the chosen model and every
// fallback model satisfy the policy; and a request is refused only when no compliant model
// with a healthy endpoint exists.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { createLearnedState } from '../../src/core/learned/learned-state.js';
import { classify } from '../../src/core/policy/classify.js';
import { seededRng } from '../../src/core/rng.js';
import { isKvError } from '../../src/errors.js';
import { LiveEndpoints } from '../../src/fleet/live-endpoints.js';
import { Router } from '../../src/router/router.js';
import { chatInput } from '../helpers/core.js';
import { fleetFrom } from '../helpers/fleet.js';

const CLASSES = ['public', 'internal', 'confidential', 'restricted'];
const REGIONS = ['eu', 'us', 'ap'];
const PROVIDERS = ['self', 'acme-ai', 'other-ai'];
const PROMPTS = ['hello world', 'mail me at a.b@example.org', 'card 4111 1111 1111 1111', 'IBAN DE89 3704 0044 0532 0130 00', 'server 10.1.2.3 is down'];

const modelArb = fc.record({
  region: fc.constantFrom(...REGIONS),
  provider: fc.constantFrom(...PROVIDERS),
  classes: fc.subarray(CLASSES, { minLength: 1 }),
  healthy: fc.boolean(),
});

const scenario = fc.record({
  models: fc.array(modelArb, { minLength: 1, maxLength: 5 }),
  tenant: fc.record({
    allowed: fc.option(fc.subarray([0, 1, 2, 3, 4], { minLength: 1 })),
    blocked: fc.subarray([0, 1, 2, 3, 4], { maxLength: 2 }),
    regions: fc.option(fc.subarray(REGIONS, { minLength: 1 })),
    blockedProviders: fc.subarray(PROVIDERS, { maxLength: 1 }),
    defaultClass: fc.constantFrom(...CLASSES),
  }),
  rule: fc.option(fc.record({ classes: fc.subarray(CLASSES, { minLength: 1 }), regions: fc.subarray(REGIONS, { minLength: 1 }) })),
  prompt: fc.constantFrom(...PROMPTS),
  fallback: fc.boolean(),
});

describe('policy (property)', () => {
  it('the chosen model and every fallback satisfy tenant and policy; refusals only when nothing compliant is healthy', () => {
    const seen = { decided: 0, refused: 0 };
    fc.assert(
      fc.property(scenario, (sc) => {
        const names = sc.models.map((_, i) => `m${i}`);
        const file = {
          default_model: 'm0',
          routing: sc.fallback ? { fallback: names } : {},
          policy: sc.rule !== null ? { rules: [{ name: 'r', when: { classes: sc.rule.classes }, regions: sc.rule.regions }] } : {},
          models: sc.models.map((m, i) => ({
            name: names[i],
            cluster: `c${i}`,
            model_id: `id${i}`,
            endpoints: [`10.0.${i}.1:8000`],
            region: m.region,
            provider: m.provider,
            data_classes: m.classes,
          })),
          identity: { sources: [{ header: 'x-tenant-id' }] },
          tenants: {
            t: {
              ...(sc.tenant.allowed !== null ? { allowed_models: sc.tenant.allowed.filter((k) => k < names.length).map((k) => names[k]) } : {}),
              blocked_models: sc.tenant.blocked.filter((k) => k < names.length).map((k) => names[k]),
              ...(sc.tenant.regions !== null ? { regions: sc.tenant.regions } : {}),
              blocked_providers: sc.tenant.blockedProviders,
              default_data_class: sc.tenant.defaultClass,
            },
          },
        };
        if ((file.tenants.t.allowed_models?.length ?? 1) === 0) delete file.tenants.t.allowed_models;
        const fleet = fleetFrom(stringify(file));
        const live = new LiveEndpoints();
        sc.models.forEach((m, i) => live.setHealthy(`10.0.${i}.1:8000`, m.healthy));
        const router = new Router({ fleet: () => fleet, live, endpoints: live, state: createLearnedState(fleet, seededRng(1)), now: () => 1000 });
        const tenant = fleet.policy.tenants.get('t');
        const input = chatInput([{ role: 'user', text: sc.prompt }]);
        const meta = { sessionId: undefined, overrides: { strategy: undefined, models: undefined, priority: undefined }, tenant };
        // The oracle, written from the scenario alone (not with src/core/policy): the request's
        // class, then per model the tenant's lists, data classes, regions, providers and the rule.
        const c = classify([sc.prompt], fleet.policy, tenant, undefined);
        const cls = CLASSES[c.dataClass] as string;
        const allowed = file.tenants.t.allowed_models;
        const ruleApplies = sc.rule !== null && sc.rule.classes.includes(cls);
        const compliant = (name: string) => {
          const i = names.indexOf(name);
          const m = sc.models[i];
          if (m === undefined) return false;
          if (allowed !== undefined && !allowed.includes(name)) return false;
          if (file.tenants.t.blocked_models.includes(name)) return false;
          if (!m.classes.includes(cls)) return false;
          if (sc.tenant.regions !== null && !sc.tenant.regions.includes(m.region)) return false;
          if (sc.tenant.blockedProviders.includes(m.provider)) return false;
          if (ruleApplies && sc.rule !== null && !sc.rule.regions.includes(m.region)) return false;
          return true;
        };
        const tenantMayClass = true; // the tenant has no allowed_data_classes here
        const healthyCompliant = names.filter((n, i) => compliant(n) && sc.models[i]?.healthy === true);
        let decided;
        try {
          decided = router.explain('p', input, meta).decision;
        } catch (e) {
          if (!isKvError(e)) throw e;
          seen.refused++;
          expect(['policy_denied', 'model_not_allowed', 'no_compliant_endpoint', 'no_candidate']).toContain(e.code);
          if (tenantMayClass) expect(healthyCompliant).toEqual([]);
          return;
        }
        seen.decided++;
        expect(compliant(decided.model.name)).toBe(true);
        for (const f of decided.fallbackModels) expect(compliant(f)).toBe(true);
        expect(healthyCompliant).toContain(decided.model.name);
      }),
      { numRuns: 500 },
    );
    expect(seen.decided).toBeGreaterThan(50);
    expect(seen.refused).toBeGreaterThan(50);
  });
});
