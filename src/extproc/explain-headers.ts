// Decision → the short x-kvfleet-* response headers of DESIGN §2. Values are
// short and never contain prompt text.
import type { Decision } from '../core/types.js';
import type { HeaderValueOption } from './proto-types.js';
import { setHeader } from './mutations.js';

const MAX_REASON_CHARS = 200;

export function affinityValue(d: Decision): string {
  const a = d.affinity;
  if (a.kind === 'prefix') return `prefix:${a.score.toFixed(2)}`;
  return a.kind;
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
  ];
  if (servedEndpoint !== undefined) out.push(setHeader('x-kvfleet-endpoint', servedEndpoint));
  return out;
}
