// Drive the ext_proc state machine without a socket.
import type { Fleet } from '../../src/config/fleet.js';
import { createLearnedState } from '../../src/core/learned/learned-state.js';
import { seededRng } from '../../src/core/rng.js';
import { exchangeEnv } from '../../src/extproc/exchange-env.js';
import type { ExchangeEnv } from '../../src/extproc/exchange-state.js';
import type { HeaderValueOption, HttpHeaders, ProcessingResponse } from '../../src/extproc/proto-types.js';
import { LiveEndpoints } from '../../src/fleet/live-endpoints.js';
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
  const router = new Router({ fleet: () => fleet, live, endpoints: live, state: createLearnedState(fleet, seededRng(1)), now: o.routerNow ?? (() => clock.t) });
  const env = exchangeEnv(router, { newRequestId: () => `gen-${++id}`, report: (r) => reports.push(r) });
  return { ...env, reports, clock, live, fleet };
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
