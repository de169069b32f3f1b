// Drive the ext_proc state machine without a socket.
import { STRATEGIES } from '../../src/core/decide.js';
import type { ExchangeEnv, ExchangeReport } from '../../src/extproc/exchange-state.js';
import type { HeaderValueOption, HttpHeaders, ProcessingResponse } from '../../src/extproc/proto-types.js';
import type { Fleet } from '../../src/config/fleet.js';
import { LiveEndpoints } from '../../src/fleet/live-endpoints.js';
import { seededRng } from '../../src/core/rng.js';
import { createRouterState } from '../../src/core/learned/learned-state.js';

export function testEnv(fleet: Fleet): ExchangeEnv & { reports: ExchangeReport[]; clock: { t: number } } {
  const reports: ExchangeReport[] = [];
  const clock = { t: 1000 };
  let id = 0;
  return {
    fleet: () => fleet,
    live: new LiveEndpoints(),
    router: createRouterState(fleet, seededRng(1)),
    strategies: STRATEGIES,
    now: () => clock.t,
    newRequestId: () => `gen-${++id}`,
    heldBodies: { bytes: 0 },
    report: (r) => reports.push(r),
    reports,
    clock,
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

export function immediate(r: ProcessingResponse): { status: number; body: { error: { code: string; param: string | null; message: string; type: string } }; headers: Record<string, string> } {
  const ir = r.immediate_response;
  if (ir === undefined) throw new Error(`expected an immediate response, got ${JSON.stringify(Object.keys(r))}`);
  return { status: ir.status.code, body: JSON.parse(ir.body?.toString('utf8') ?? 'null'), headers: setHeaders(ir.headers?.set_headers) };
}
