// Decision → kvfleet's dynamic metadata (namespace `kvfleet`), written with the routing
// answer. Envoy renders the explanation headers of DESIGN §2 from it on the response
// (envoy/envoy.yaml: the virtual host's response_headers_to_add, %DYNAMIC_METADATA(kvfleet:…)%,
// and x-kvfleet-endpoint from %UPSTREAM_HOST%), so kvfleet needs no response phase: it lets
// go of the request once it has answered. `key` joins Envoy's access log entries back to
// the decision. Values are short and never contain prompt text.
import type { Decision, PolicySummary } from '../core/types.js';
import type { ProtoStruct, ProtoValue } from './proto-types.js';

const MAX_REASON_CHARS = 200;

export function affinityValue(d: Decision): string {
  const a = d.affinity;
  if (a.kind === 'prefix') return `prefix:${a.score.toFixed(2)}`;
  return a.kind;
}

/** x-kvfleet-policy: `class=confidential;pii=email,phone;action=route_private[;rules=a,b]` — names only, never values. */
export function policyValue(p: PolicySummary): string {
  let v = `class=${p.dataClass}`;
  if (p.detected.length > 0) v += `;pii=${p.detected.join(',')};action=${p.actions.join(',')}`;
  if (p.rules.length > 0) v += `;rules=${p.rules.join(',')}`;
  return v;
}

const str = (v: string): ProtoValue => ({ stringValue: v });

/** The explanation of a routed request, as kvfleet-namespace metadata fields. */
export function explanationFields(d: Decision, decisionUs: number, key: string, budgetRemaining?: string): Record<string, ProtoValue> {
  const f: Record<string, ProtoValue> = {
    key: str(key),
    request_id: str(d.requestId),
    model: str(d.model.name),
    strategy: str(d.strategy),
    score: str(d.score.toFixed(3)),
    affinity: str(affinityValue(d)),
    reason: str(d.reasons.join(',').slice(0, MAX_REASON_CHARS)),
    fallbacks: str(String(d.endpoints.length - 1)),
    decision_us: str(String(Math.round(decisionUs))),
    policy: str(policyValue(d.policy).slice(0, MAX_REASON_CHARS)),
  };
  if (d.policy.tenant !== undefined) f['tenant'] = str(d.policy.tenant);
  if (budgetRemaining !== undefined) f['budget_remaining'] = str(budgetRemaining);
  return f;
}

/** What kvfleet's own answers (errors, GET /v1/models) carry: the request id and the tenant. */
export function answerFields(requestId: string, tenant: string | undefined): Record<string, ProtoValue> {
  const f: Record<string, ProtoValue> = { request_id: str(requestId) };
  if (tenant !== undefined) f['tenant'] = str(tenant);
  return f;
}

/**
 * The explanation headers (DESIGN §2) and the metadata field each is rendered from: Envoy's
 * virtual hosts carry one `response_headers_to_add` entry per row,
 * `%DYNAMIC_METADATA(kvfleet:<field>)%` (test/unit/envoy-config.test.ts checks every shipped
 * config against this table). x-kvfleet-endpoint comes from `%UPSTREAM_HOST%` instead: the
 * endpoint that actually served, after retries. An absent field leaves its header out.
 */
export const EXPLANATION_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-kvfleet-request-id': 'request_id',
  'x-kvfleet-model': 'model',
  'x-kvfleet-strategy': 'strategy',
  'x-kvfleet-score': 'score',
  'x-kvfleet-affinity': 'affinity',
  'x-kvfleet-reason': 'reason',
  'x-kvfleet-fallbacks': 'fallbacks',
  'x-kvfleet-decision-us': 'decision_us',
  'x-kvfleet-policy': 'policy',
  'x-kvfleet-tenant': 'tenant',
  'x-kvfleet-budget-remaining': 'budget_remaining',
  'x-kvfleet-cache': 'cache',
});

/** What Envoy renders from an answer's kvfleet metadata (for tests and `kvfleet explain`). */
export function renderExplanation(md: ProtoStruct | undefined): Record<string, string> {
  const ns = md?.fields?.['kvfleet']?.structValue?.fields ?? {};
  const out: Record<string, string> = {};
  for (const [header, field] of Object.entries(EXPLANATION_HEADERS)) {
    const v = ns[field]?.stringValue;
    if (v !== undefined && v !== '') out[header] = v;
  }
  return out;
}

/** Dynamic metadata: the kvfleet namespace, plus any other namespaces given (envoy.lb). */
export function withKvfleetMetadata(fields: Record<string, ProtoValue>, other?: ProtoStruct): ProtoStruct {
  return { fields: { ...(other?.fields ?? {}), kvfleet: { structValue: { fields } } } };
}
