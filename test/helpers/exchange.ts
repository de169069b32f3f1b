// Drive the ext_proc state machine without a socket.
import type { Fleet } from '../../src/config/fleet.js';
import { createLearnedState } from '../../src/core/learned/learned-state.js';
import { seededRng } from '../../src/core/rng.js';
import { exchangeEnv } from '../../src/extproc/exchange-env.js';
import type { ExchangeEnv } from '../../src/extproc/exchange-state.js';
import type { HeaderValueOption, HttpHeaders, ProcessingResponse } from '../../src/extproc/proto-types.js';
import { renderExplanation } from '../../src/extproc/explain-metadata.js';
import { LiveEndpoints } from '../../src/fleet/live-endpoints.js';
import type { AccessLogEvent } from '../../src/router/log-event.js';
import type { RequestReport } from '../../src/router/report.js';
import { Router } from '../../src/router/router.js';

export interface TestEnv extends ExchangeEnv {
  readonly reports: RequestReport[];
  readonly clock: { t: number };
  readonly live: LiveEndpoints;
  readonly fleet: Fleet;
}

/**
 * An exchange environment on a Router with its own live state, a fake clock (ms) and captured
 * reports. `routerNow` replaces the Router's clock (e.g. a scripted sequence of readings).
 */
export function testEnv(fleet: Fleet, o: { routerNow?: () => number } = {}): TestEnv {
  const reports: RequestReport[] = [];
  const clock = { t: 1000 };
  let id = 0;
  const live = new LiveEndpoints({ now: () => clock.t });
  const report = (r: RequestReport) => reports.push(r);
  const router = new Router({
    fleet: () => fleet,
    live,
    endpoints: live,
    state: createLearnedState(fleet, seededRng(1)),
    now: o.routerNow ?? (() => clock.t),
    report,
  });
  const env = exchangeEnv(router, { newRequestId: () => `gen-${++id}`, report });
  return { ...env, reports, clock, live, fleet };
}

/** The explanation headers Envoy renders on the response from this answer's metadata. */
export function explained(r: ProcessingResponse): Record<string, string> {
  return renderExplanation(r.dynamic_metadata);
}

/** The decision key kvfleet wrote into the routing answer's metadata. */
export function keyOf(r: ProcessingResponse): string {
  const k = r.dynamic_metadata?.fields?.['kvfleet']?.structValue?.fields?.['key']?.stringValue;
  if (k === undefined) throw new Error('the answer carries no decision key');
  return k;
}

/**
 * Envoy's access log entry for a request kvfleet routed with `answer` (the routing answer):
 * `end` by default (the request is over), or `periodic` / `attempt`.
 */
export function logEvent(
  answer: ProcessingResponse | undefined,
  o: {
    kind?: AccessLogEvent['kind'];
    status?: number;
    served?: string;
    attempts?: number;
    ttfbMs?: number;
    headers?: Record<string, string>;
    offered?: string[];
  } = {},
): AccessLogEvent {
  const offered = answer?.dynamic_metadata?.fields?.['envoy.lb']?.structValue?.fields?.['x-gateway-destination-endpoint']?.stringValue;
  return {
    kind: o.kind ?? 'end',
    requestId: undefined,
    key: answer !== undefined ? keyOf(answer) : undefined,
    status: o.status ?? 200,
    details: undefined,
    served: o.served,
    attempts: o.attempts,
    ttfbMs: o.ttfbMs,
    durationMs: undefined,
    headers: new Map(Object.entries(o.headers ?? {})),
    offered: o.offered ?? (offered !== undefined ? offered.split(',') : []),
  };
}

export function headers(h: Record<string, string>, endOfStream = false): HttpHeaders {
  return {
    headers: { headers: Object.entries(h).map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) },
    end_of_stream: endOfStream,
  };
}

export function post(path: string, extra: Record<string, string> = {}): HttpHeaders {
  return headers({ ':method': 'POST', ':path': path, 'content-type': 'application/json', ...extra });
}

export function setHeaders(list: HeaderValueOption[] | undefined): Record<string, string> {
  return Object.fromEntries((list ?? []).map((h) => [h.header.key, h.header.raw_value.toString('latin1')]));
}

export function immediate(r: ProcessingResponse): {
  status: number;
  body: { error: { code: string; param: string | null; message: string; type: string } };
  headers: Record<string, string>;
} {
  const ir = r.immediate_response;
  if (ir === undefined) throw new Error(`expected an immediate response, got ${JSON.stringify(Object.keys(r))}`);
  return { status: ir.status.code, body: JSON.parse(ir.body?.toString('utf8') ?? 'null'), headers: setHeaders(ir.headers?.set_headers) };
}
