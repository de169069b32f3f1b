// Decision → the short x-kvfleet-* response headers of DESIGN §2. Values are
// short and never contain prompt text.
import type { Decision, PolicySummary } from '../core/types.js';
import type { HeaderValueOption } from './proto-types.js';
import { setHeader } from './mutations.js';

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

export function explanationHeaders(d: Decision, decisionUs: number, servedEndpoint: string | undefined): HeaderValueOption[] {
  const out = [
    setHeader('x-kvfleet-request-id', d.requestId),
    setHeader('x-kvfleet-model', d.model.name),
    setHeader('x-kvfleet-strategy', d.strategy),
    setHeader('x-kvfleet-score', d.score.toFixed(3)),
    setHeader('x-kvfleet-affinity', affinityValue(d)),
    setHeader('x-kvfleet-reason', d.reasons.join(',').slice(0, MAX_REASON_CHARS)),
    setHeader('x-kvfleet-fallbacks', String(d.endpoints.length - 1)),
    setHeader('x-kvfleet-decision-us', String(Math.round(decisionUs))),
    setHeader('x-kvfleet-policy', policyValue(d.policy).slice(0, MAX_REASON_CHARS)),
  ];
  if (d.policy.tenant !== undefined) out.push(setHeader('x-kvfleet-tenant', d.policy.tenant));
  if (servedEndpoint !== undefined) out.push(setHeader('x-kvfleet-endpoint', servedEndpoint));
  return out;
}
