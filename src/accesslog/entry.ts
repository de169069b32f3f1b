// One Envoy access log entry (HTTPAccessLogEntry, as proto-loader decodes kvfleet's subset)
// → what kvfleet learns from it. Three kinds matter:
//   end        DownstreamEnd: the HTTP stream is over (a streamed completion at its last
//              byte): status, the endpoint that served after retries, attempts, time to the
//              first upstream byte, the rate-limit response headers, kvfleet's decision key
//   periodic   DownstreamPeriodic (HCM access_log_options.access_log_flush_interval): a long
//              stream is still running — on which endpoint
//   attempt    UpstreamEnd (the router's upstream_log): one try on one endpoint, retried-away
//              ones included; status 0 when there was no response (reset, connect failure)
// kvfleet's decision key comes from the dynamic metadata it wrote (namespace kvfleet, `key`);
// the endpoint list it offered from envoy.lb/x-gateway-destination-endpoint.
import type { AccessLogEvent, LogKind } from '../router/log-event.js';

export type { AccessLogEvent };

/** google.protobuf.Struct as proto-loader decodes it (only string values are read). */
interface Struct {
  fields?: Record<string, { stringValue?: string }>;
}

interface Duration {
  seconds?: number;
  nanos?: number;
}

/** The decoded entry (proto-loader: keepCase, longs as numbers, enums as strings). */
export interface HttpLogEntry {
  common_properties?: {
    time_to_first_upstream_rx_byte?: Duration;
    time_to_last_downstream_tx_byte?: Duration;
    upstream_remote_address?: { socket_address?: { address?: string; port_value?: number } };
    upstream_cluster?: string;
    metadata?: { filter_metadata?: Record<string, Struct> };
    duration?: Duration;
    upstream_request_attempt_count?: number;
    access_log_type?: string;
  };
  request?: { request_id?: string };
  response?: { response_code?: { value?: number }; response_headers?: Record<string, string>; response_code_details?: string };
}

export interface StreamAccessLogsMessage {
  http_logs?: { log_entry?: HttpLogEntry[] };
}

const ms = (d: Duration | undefined): number | undefined => (d === undefined ? undefined : (d.seconds ?? 0) * 1000 + (d.nanos ?? 0) / 1e6);

const KINDS: Readonly<Record<string, LogKind>> = { DownstreamEnd: 'end', DownstreamPeriodic: 'periodic', UpstreamEnd: 'attempt' };

function address(a: NonNullable<HttpLogEntry['common_properties']>['upstream_remote_address']): string | undefined {
  const sa = a?.socket_address;
  if (sa?.address === undefined || sa.port_value === undefined) return undefined;
  return sa.address.includes(':') ? `[${sa.address}]:${sa.port_value}` : `${sa.address}:${sa.port_value}`;
}

const EMPTY = new Map<string, string>();

export function eventOf(e: HttpLogEntry): AccessLogEvent {
  const c = e.common_properties;
  const md = c?.metadata?.filter_metadata;
  const key = md?.['kvfleet']?.fields?.['key']?.stringValue;
  const list = md?.['envoy.lb']?.fields?.['x-gateway-destination-endpoint']?.stringValue;
  const rh = e.response?.response_headers;
  return {
    kind: KINDS[c?.access_log_type ?? ''] ?? 'other',
    requestId: e.request?.request_id,
    key,
    status: e.response?.response_code?.value ?? 0,
    details: e.response?.response_code_details,
    served: address(c?.upstream_remote_address),
    attempts: c?.upstream_request_attempt_count,
    ttfbMs: ms(c?.time_to_first_upstream_rx_byte),
    durationMs: ms(c?.time_to_last_downstream_tx_byte) ?? ms(c?.duration),
    headers: rh === undefined ? EMPTY : new Map(Object.entries(rh).map(([k, v]) => [k.toLowerCase(), v])),
    offered: list === undefined || list === '' ? [] : list.split(','),
  };
}
