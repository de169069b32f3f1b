// Policy, tenants and the hybrid fleet through the exchange machine (no socket): who is
// asking (API key, JWT metadata, trusted header), what the prompt is (data class, PII),
// where it may go (data classes, residency, providers, tenant model lists), model fallback
// that respects policy, redaction, and the explanation headers.
import { describe, expect, it } from 'vitest';
import { Exchange } from '../../src/extproc/exchange.js';
import type { ProcessingRequest } from '../../src/extproc/proto-types.js';
import { hashApiKey } from '../../src/request/identity.js';
import { fleetFrom } from '../helpers/fleet.js';
import { explained, headers, immediate, logEvent, post, setHeaders, testEnv, type TestEnv } from '../helpers/exchange.js';

export const HYBRID_YAML = `
default_model: private-small
routing:
  # quality decides alone, so a public prompt with model auto goes to the hosted model
  weights: { quality: 1, cost: 0, latency: 0, cache: 0, load: 0 }
  fallback: [private-small, private-big, hosted-gpt]
policy:
  rules:
    - name: eu-residency
      when: { tenants: [acme-eu] }
      regions: [eu-west-1]
    - name: no-secrets-anywhere
      when: { detectors: [secret] }
      deny: true
models:
  - name: private-small
    cluster: pool-small
    model_id: org/small
    endpoints: [10.0.0.1:8000, 10.0.0.2:8000]
    region: eu-west-1
    priors: { quality: 0.5 }
  - name: private-big
    cluster: pool-big
    model_id: org/big
    endpoints: [10.0.1.1:8000]
    region: us-east-1
    priors: { quality: 0.7 }
  - name: hosted-gpt
    cluster: pool-hosted
    model_id: gpt-4o
    host: api.example.com
    provider: example-ai
    region: us-east-1
    data_classes: [public]
    priors: { quality: 0.95, cost_per_1k_input: 0.005 }
identity:
  sources: [api_key, { jwt: { claim: org.tenant } }, { header: x-tenant-id }]
tenants:
  acme:
    api_keys: [${hashApiKey('key-acme')}]
  acme-eu:
    api_keys: [${hashApiKey('key-eu')}]
    allowed_data_classes: [public, internal, confidential]
  beta:
    api_keys: [${hashApiKey('key-beta')}]
    allowed_models: [hosted-gpt, private-small]
    default_priority: low
    max_priority: normal
    strategy: cost_first
`;

const PII = 'Please email jane.doe@example.com or call +1 415 555 0134 about SSN 123-45-6789.';

interface Sent {
  readonly status: number | undefined;
  readonly error: { code: string; message: string; param: string | null } | undefined;
  readonly set: Record<string, string>;
  readonly removed: readonly string[];
  readonly body: Record<string, unknown> | undefined;
  readonly explain: Record<string, string>;
}

/** One request through the exchange: headers, body, a 200 from the first endpoint (or the cluster). */
function send(env: TestEnv, o: { model?: string; content?: string; headers?: Record<string, string>; metadata?: ProcessingRequest['metadata_context'] }): Sent {
  const ex = new Exchange(env);
  const h = ex.handle({ request_headers: post('/v1/chat/completions', o.headers ?? {}), metadata_context: o.metadata });
  const removed = h.request_headers?.response.header_mutation?.remove_headers ?? [];
  if (h.immediate_response !== undefined) {
    ex.close();
    const e = immediate(h);
    return { status: e.status, error: e.body.error, set: {}, removed, body: undefined, explain: e.headers };
  }
  const body = { model: o.model ?? 'auto', messages: [{ role: 'user', content: o.content ?? 'hello there' }] };
  const b = ex.handle({ request_body: { body: Buffer.from(JSON.stringify(body)), end_of_stream: true } });
  if (b.immediate_response !== undefined) {
    ex.close();
    const e = immediate(b);
    return { status: e.status, error: e.body.error, set: {}, removed, body: undefined, explain: e.headers };
  }
  const set = setHeaders(b.request_body?.response.header_mutation?.set_headers);
  const sentBody = b.request_body?.response.body_mutation?.body;
  const first = set['x-gateway-destination-endpoint']?.split(',')[0];
  ex.close();
  env.router.ended(logEvent(b, { status: 200, served: first ?? '203.0.113.9:443' }));
  return {
    status: 200,
    error: undefined,
    set,
    removed,
    body: sentBody !== undefined ? (JSON.parse(sentBody.toString('utf8')) as Record<string, unknown>) : undefined,
    explain: explained(b),
  };
}

const key = (k: string) => ({ authorization: `Bearer ${k}` });
const hybrid = (extra = '') => testEnv(fleetFrom(HYBRID_YAML + extra));

describe('who is asking', () => {
  it('API keys name the tenant; the key never goes upstream; an unknown or missing key is a 401', () => {
    const env = hybrid();
    const ok = send(env, { headers: key('key-acme') });
    expect(ok.status).toBe(200);
    expect(ok.explain['x-kvfleet-tenant']).toBe('acme');
    expect(ok.removed).toContain('authorization');
    for (const h of [key('key-wrong'), {}, { authorization: 'Basic a2V5LWFjbWU=' }]) {
      const r = send(env, { headers: h });
      expect(r.status).toBe(401);
      expect(r.error?.code).toBe('invalid_api_key');
      expect(r.error?.message).not.toContain('key-wrong');
    }
  });

  it('a JWT payload Envoy verified (jwt_authn metadata) and a trusted header name the tenant; an unknown tenant id is a 401', () => {
    const env = hybrid();
    const jwt = (tenant: string): ProcessingRequest['metadata_context'] => ({
      filter_metadata: {
        'envoy.filters.http.jwt_authn': {
          fields: {
            jwt_payload: { structValue: { fields: { sub: { stringValue: 'u1' }, org: { structValue: { fields: { tenant: { stringValue: tenant } } } } } } },
          },
        },
      },
    });
    expect(send(env, { metadata: jwt('beta') }).explain['x-kvfleet-tenant']).toBe('beta');
    expect(send(env, { headers: { 'x-tenant-id': 'acme-eu' } }).explain['x-kvfleet-tenant']).toBe('acme-eu');
    expect(send(env, { metadata: jwt('nobody') }).error?.code).toBe('invalid_api_key');
    // Sources are tried in order: a valid API key wins over the header.
    expect(send(env, { headers: { ...key('key-beta'), 'x-tenant-id': 'acme' } }).explain['x-kvfleet-tenant']).toBe('beta');
  });

  it('without identity, the anonymous tenant (when configured)', () => {
    const env = testEnv(fleetFrom(HYBRID_YAML.replace('sources: [api_key,', 'anonymous: acme\n  sources: [api_key,')));
    expect(send(env, {}).explain['x-kvfleet-tenant']).toBe('acme');
    // A wrong key never falls through to the anonymous tenant.
    expect(send(env, { headers: key('nope') }).status).toBe(401);
  });
});

describe('what the prompt is, and where it may go', () => {
  it('a PII prompt with model auto never goes to the hosted [public] model; a clean one does', () => {
    const env = hybrid();
    const clean = send(env, { headers: key('key-acme') });
    expect(clean.set['x-kvfleet-cluster']).toBe('pool-hosted');
    expect(clean.set['x-gateway-destination-endpoint']).toBeUndefined(); // the provider cluster's own LB picks
    expect(clean.set[':authority']).toBe('api.example.com');
    expect(clean.explain['x-kvfleet-policy']).toBe('class=public');

    const pii = send(env, { headers: key('key-acme'), content: PII });
    expect(pii.set['x-kvfleet-cluster']).toBe('pool-big');
    expect(pii.explain['x-kvfleet-policy']).toBe('class=restricted;pii=email,phone,us_ssn;action=route_private');
    expect(pii.explain['x-kvfleet-reason']).toContain('filtered:1');
  });

  it('every private replica dead: 503 no_compliant_endpoint, never the hosted model', () => {
    const env = hybrid();
    for (const a of ['10.0.0.1:8000', '10.0.0.2:8000', '10.0.1.1:8000']) env.live.setHealthy(a, false);
    const r = send(env, { headers: key('key-acme'), content: PII });
    expect(r.status).toBe(503);
    expect(r.error?.code).toBe('no_compliant_endpoint');
    // Named: the same, through the fallback order.
    expect(send(env, { headers: key('key-acme'), content: PII, model: 'private-small' }).error?.code).toBe('no_compliant_endpoint');
  });

  it('a named model the policy forbids follows the fallback order to a compliant one', () => {
    const env = hybrid();
    const r = send(env, { headers: key('key-acme'), content: PII, model: 'hosted-gpt' });
    expect(r.set['x-kvfleet-cluster']).toBe('pool-small');
    expect(r.explain['x-kvfleet-reason']).toContain('policy:class:restricted');
    expect(r.explain['x-kvfleet-reason']).toContain('fallback-model:hosted-gpt');
    // Without a fallback order: 403, the model is never reached.
    const strict = testEnv(fleetFrom(HYBRID_YAML.replace('  fallback: [private-small, private-big, hosted-gpt]\n', '')));
    const denied = send(strict, { headers: key('key-acme'), content: PII, model: 'hosted-gpt' });
    expect(denied.status).toBe(403);
    expect(denied.error?.code).toBe('policy_denied');
  });

  it('redact: the body sent upstream carries placeholders, content-length matches, the class is not raised', () => {
    const redacting = testEnv(fleetFrom(HYBRID_YAML.replace('policy:\n', 'policy:\n  pii: { action: redact }\n')));
    const r = send(redacting, { headers: key('key-acme'), content: PII });
    const msg = ((r.body?.['messages'] as Array<{ content: string }>)[0] as { content: string }).content;
    expect(msg).toBe('Please email [REDACTED_EMAIL] or call [REDACTED_PHONE] about SSN [REDACTED_US_SSN].');
    expect(r.set['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(r.body))));
    // Redacted, the prompt is public again: the hosted model may take it.
    expect(r.set['x-kvfleet-cluster']).toBe('pool-hosted');
    expect(r.explain['x-kvfleet-policy']).toBe('class=public;pii=email,phone,us_ssn;action=redact');
    expect(JSON.stringify(redacting.reports)).not.toContain('jane.doe');
  });

  it('block: a detector with action block, or a deny rule, is a 403 naming the detector or rule, never the value', () => {
    const env = testEnv(fleetFrom(HYBRID_YAML.replace('policy:\n', 'policy:\n  pii: { actions: { payment_card: block } }\n')));
    const card = send(env, { headers: key('key-acme'), content: 'charge 4111 1111 1111 1111 now' });
    expect(card.status).toBe(403);
    expect(card.error?.message).toBe('the request contains data the policy refuses (payment_card)');
    const secret = send(env, { headers: key('key-acme'), content: 'my key is sk-proj-abcdefghijklmnopqrstuvwxyz012345' });
    expect(secret.error).toMatchObject({ code: 'policy_denied', message: "the request is refused by policy rule 'no-secrets-anywhere'" });
    expect(JSON.stringify(secret)).not.toContain('sk-proj');
  });

  it('x-kvfleet-data-class raises the class, never lowers it; a class the tenant may not send is a 403', () => {
    const env = hybrid();
    expect(send(env, { headers: { ...key('key-acme'), 'x-kvfleet-data-class': 'internal' } }).set['x-kvfleet-cluster']).toBe('pool-big');
    expect(send(env, { headers: { ...key('key-acme'), 'x-kvfleet-data-class': 'public' }, content: PII }).set['x-kvfleet-cluster']).toBe('pool-big');
    expect(send(env, { headers: { ...key('key-acme'), 'x-kvfleet-data-class': 'secret-ish' } }).error?.code).toBe('invalid_header');
    const eu = send(env, { headers: { ...key('key-eu'), 'x-kvfleet-data-class': 'restricted' } });
    expect(eu.error).toMatchObject({ code: 'policy_denied', message: "tenant 'acme-eu' may not send data of class 'restricted'" });
  });

  it('residency: a rule keeps a tenant in its regions', () => {
    const env = hybrid();
    // acme-eu: only eu-west-1 models (private-small), even for the best-quality choice.
    const r = send(env, { headers: key('key-eu') });
    expect(r.set['x-kvfleet-cluster']).toBe('pool-small');
    expect(r.explain['x-kvfleet-policy']).toBe('class=public;rules=eu-residency');
    // Named outside its region: the fallback order takes it to a model the rule allows.
    const named = send(env, { headers: key('key-eu'), model: 'private-big' });
    expect(named.set['x-kvfleet-cluster']).toBe('pool-small');
    expect(named.explain['x-kvfleet-reason']).toContain('policy:rule:eu-residency');
  });
});

describe('each tenant stays in its lane', () => {
  it("a tenant cannot use another tenant's models; auto chooses only among its own", () => {
    const env = hybrid();
    const named = send(env, { headers: key('key-beta'), model: 'private-big' });
    expect(named.status).toBe(403);
    expect(named.error).toMatchObject({ code: 'model_not_allowed', param: 'model', message: "tenant 'beta' may not use model 'private-big'" });
    // beta routes with its own strategy (cost_first): the free private model, never private-big.
    for (let i = 0; i < 5; i++) expect(send(env, { headers: key('key-beta'), content: `q${i}` }).set['x-kvfleet-cluster']).toBe('pool-small');
    // PII from beta: private-small (hosted-gpt excluded by class, private-big by the tenant).
    expect(send(env, { headers: key('key-beta'), content: PII }).set['x-kvfleet-cluster']).toBe('pool-small');
  });

  it("a tenant's default and maximum priority, and its strategy", () => {
    const env = hybrid();
    const low = send(env, { headers: key('key-beta') });
    expect(low.explain['x-kvfleet-strategy']).toBe('cost_first');
    expect(low.explain['x-kvfleet-reason']).toContain('priority:low');
    const capped = send(env, { headers: { ...key('key-beta'), 'x-kvfleet-priority': 'high' } });
    expect(capped.explain['x-kvfleet-reason']).toContain('priority-capped');
    expect(capped.explain['x-kvfleet-reason']).not.toContain('priority:high');
  });

  it('GET /v1/models lists only the tenant’s models', () => {
    const env = hybrid();
    const ex = new Exchange(env);
    const r = ex.handle({ request_headers: headers({ ':method': 'GET', ':path': '/v1/models', ...key('key-beta') }, true) });
    const list = JSON.parse(r.immediate_response?.body?.toString('utf8') ?? '{}') as { data: Array<{ id: string }> };
    expect(list.data.map((m) => m.id).sort()).toEqual(['hosted-gpt', 'private-small']);
  });
});
