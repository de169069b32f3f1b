// Phase 3: response headers. The explanation headers for the client go on the answer;
// what the response teaches (status, the endpoint that served, attempts, time to
// headers, rate-limit headers) is learned once that answer is on its way, through
// Router.observe.
import type { Routed, ResponseReport } from '../../router/router.js';
import { explanationHeaders } from '../explain-headers.js';
import { attribute, setHeader } from '../mutations.js';
import type { HeaderValueOption, HttpHeaders, ProtoStruct } from '../proto-types.js';
import { headerMap } from '../mutations.js';

/** Envoy attributes (response_attributes): the upstream host that served, and the attempts it took. */
export const UPSTREAM_ADDRESS_ATTR = 'upstream.address';
export const ATTEMPT_COUNT_ATTR = 'upstream.request_attempt_count';

function numberAttribute(attrs: Record<string, ProtoStruct> | undefined, name: string): number | undefined {
  if (attrs === undefined) return undefined;
  for (const s of Object.values(attrs)) {
    const v = s.fields?.[name];
    if (v?.numberValue !== undefined) return v.numberValue;
    if (v?.stringValue !== undefined && /^\d+$/.test(v.stringValue)) return Number(v.stringValue);
  }
  return undefined;
}

/** What Envoy says about the response. */
export function responseReport(msg: HttpHeaders, attributes: Record<string, ProtoStruct> | undefined): ResponseReport {
  const headers = headerMap(msg);
  return {
    status: Number(headers.get(':status') ?? '0') || undefined,
    served: attribute(attributes, UPSTREAM_ADDRESS_ATTR),
    attempts: numberAttribute(attributes, ATTEMPT_COUNT_ATTR),
    headers,
  };
}

/** The headers added to the client's response. */
export function responseHeaders(routed: Routed | undefined, requestId: string, r: ResponseReport): HeaderValueOption[] {
  return routed !== undefined ? explanationHeaders(routed.decision, routed.decisionUs, r.served) : [setHeader('x-kvfleet-request-id', requestId)];
}
