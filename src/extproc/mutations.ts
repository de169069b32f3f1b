// Builders for ext_proc responses. Header values always travel in raw_value.
import type { KvError } from '../errors.js';
import type { CommonResponse, HeaderValueOption, HttpHeaders, ProcessingResponse, ProtoStruct } from './proto-types.js';

/** Envoy's header list → lowercase-keyed map (the last value wins for repeats). */
export function headerMap(h: HttpHeaders | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const hv of h?.headers?.headers ?? []) {
    const v = hv.raw_value !== undefined && hv.raw_value.length > 0 ? hv.raw_value.toString('latin1') : (hv.value ?? '');
    out.set(hv.key.toLowerCase(), v);
  }
  return out;
}

export function setHeader(key: string, value: string): HeaderValueOption {
  return { header: { key, raw_value: Buffer.from(value, 'latin1') }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' };
}

/** The namespace and key of the endpoint-picker protocol (Gateway API Inference Extension). */
export const LB_NAMESPACE = 'envoy.lb';
export const DESTINATION_KEY = 'x-gateway-destination-endpoint';

export function destinationMetadata(endpoints: readonly string[]): ProtoStruct {
  return {
    fields: {
      [LB_NAMESPACE]: {
        structValue: { fields: { [DESTINATION_KEY]: { stringValue: endpoints.join(',') } } },
      },
    },
  };
}

/** A body chunk handed back to Envoy in FULL_DUPLEX_STREAMED mode, as the answer to a request or response body. */
export function streamedBody(kind: 'request_body' | 'response_body', body: Buffer, endOfStream: boolean): ProcessingResponse {
  return { [kind]: { response: { body_mutation: { streamed_response: { body, end_of_stream: endOfStream } } } } };
}

export const CONTINUE: CommonResponse = Object.freeze({ status: 'CONTINUE' });

export function immediateError(err: KvError, extra: readonly HeaderValueOption[] = []): ProcessingResponse {
  const set = [setHeader('content-type', 'application/json'), ...extra];
  if (err.retryAfter !== undefined) set.push(setHeader('retry-after', String(Math.ceil(err.retryAfter))));
  for (const [k, v] of Object.entries(err.headers)) set.push(setHeader(k, v));
  return {
    immediate_response: {
      status: { code: err.status },
      headers: { set_headers: set },
      body: Buffer.from(err.toBody(), 'utf8'),
      details: `kvfleet_${err.code}`,
    },
  };
}

export function immediateJson(status: number, body: unknown, extra: readonly HeaderValueOption[] = []): ProcessingResponse {
  return {
    immediate_response: {
      status: { code: status },
      headers: { set_headers: [setHeader('content-type', 'application/json'), ...extra] },
      body: Buffer.from(JSON.stringify(body), 'utf8'),
      details: 'kvfleet_answered',
    },
  };
}
