// src/accesslog/wire.ts (the access log decoder kvfleet serves with, reading only what
// entry.ts uses) against the general path (proto-loader over proto/kvfleet/als/, every field):
// the same bytes must give the same AccessLogEvents. Generated messages (fast-check), and
// full Envoy entries encoded with the upstream Envoy API, whose fields kvfleet's subset
// leaves out and the decoder has to skip.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { eventOf, type AccessLogEvent, type StreamAccessLogsMessage } from '../../src/accesslog/entry.js';
import { accessLogService, loadAccessLogService } from '../../src/accesslog/proto.js';
import { decodeAccessLogs } from '../../src/accesslog/wire.js';
import { upstreamProtoDirs } from '../../src/extproc/proto.js';

const general = loadAccessLogService()['StreamAccessLogs'];
if (general === undefined) throw new Error('no StreamAccessLogs');
const encode = (m: unknown): Buffer => general.requestSerialize(m);

const events = (m: StreamAccessLogsMessage): AccessLogEvent[] => (m.http_logs?.log_entry ?? []).map(eventOf);
const viaGeneral = (b: Buffer) => events(general.requestDeserialize(b) as StreamAccessLogsMessage);
const viaWire = (b: Buffer) => events(decodeAccessLogs(b));

const duration = fc.record({ seconds: fc.nat(100_000), nanos: fc.nat(999_999_999) }, { requiredKeys: [] });
const value = fc.oneof(
  fc.record({ stringValue: fc.string({ maxLength: 40 }) }),
  fc.record({ numberValue: fc.double({ noNaN: true }) }),
  fc.record({ boolValue: fc.boolean() }),
);
const struct = fc.record({
  fields: fc.dictionary(fc.constantFrom('key', 'x-gateway-destination-endpoint', 'model', 'reason', 'other'), value, { maxKeys: 5 }),
});
const common = fc.record(
  {
    time_to_first_upstream_rx_byte: duration,
    time_to_last_downstream_tx_byte: duration,
    upstream_remote_address: fc.record({
      socket_address: fc.record({ address: fc.constantFrom('10.0.0.7', '::1', ''), port_value: fc.nat(65535) }, { requiredKeys: [] }),
    }),
    upstream_cluster: fc.string({ maxLength: 20 }),
    metadata: fc.record({ filter_metadata: fc.dictionary(fc.constantFrom('kvfleet', 'envoy.lb', 'envoy.filters.http.ext_proc', 'x'), struct, { maxKeys: 4 }) }),
    duration,
    upstream_request_attempt_count: fc.nat(10),
    access_log_type: fc.constantFrom('NotSet', 'DownstreamStart', 'DownstreamPeriodic', 'DownstreamEnd', 'UpstreamEnd', 'UpstreamPeriodic'),
  },
  { requiredKeys: [] },
);
const entry = fc.record(
  {
    common_properties: common,
    request: fc.record({ request_id: fc.string({ maxLength: 40 }) }, { requiredKeys: [] }),
    response: fc.record(
      {
        response_code: fc.record({ value: fc.nat(599) }, { requiredKeys: [] }),
        response_headers: fc.dictionary(
          fc.constantFrom('retry-after', 'X-RateLimit-Remaining', 'x-ratelimit-reset', 'Retry-After'),
          fc.string({ maxLength: 12 }),
          {
            maxKeys: 4,
          },
        ),
        response_code_details: fc.string({ maxLength: 20 }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);
const message = fc.option(fc.record({ log_entry: fc.array(entry, { maxLength: 4 }) }, { requiredKeys: [] }), { nil: undefined });

describe('access log wire decoder', () => {
  it('serves the service with the wire decoder, everything else as proto-loader loads it', () => {
    const served = accessLogService()['StreamAccessLogs'];
    expect(served?.path).toBe(general.path);
    expect(served?.requestDeserialize).not.toBe(general.requestDeserialize);
    expect([served?.requestStream, served?.responseStream]).toEqual([general.requestStream, general.responseStream]);
    expect(served?.responseSerialize({})).toEqual(general.responseSerialize({}));
  });

  it('gives the same events as the general path for generated messages', () => {
    fc.assert(
      fc.property(message, (http) => {
        const b = encode(http === undefined ? {} : { http_logs: http });
        expect(viaWire(b)).toEqual(viaGeneral(b));
      }),
      { numRuns: 500 },
    );
  });

  it('reads a routed request end as the general path does', () => {
    const b = encode({
      http_logs: {
        log_entry: [
          {
            common_properties: {
              access_log_type: 'DownstreamEnd',
              upstream_remote_address: { socket_address: { address: '127.0.0.1', port_value: 8001 } },
              upstream_request_attempt_count: 2,
              time_to_first_upstream_rx_byte: { seconds: 0, nanos: 1_500_000 },
              time_to_last_downstream_tx_byte: { seconds: 3, nanos: 250_000_000 },
              metadata: {
                filter_metadata: {
                  kvfleet: { fields: { key: { stringValue: 'k-1' }, model: { stringValue: 'm' }, reason: { stringValue: 'prefix-hit' } } },
                  'envoy.lb': { fields: { 'x-gateway-destination-endpoint': { stringValue: '127.0.0.1:8001,127.0.0.1:8002' } } },
                },
              },
            },
            request: { request_id: 'r-1' },
            response: { response_code: { value: 200 }, response_headers: { 'Retry-After': '3' }, response_code_details: 'via_upstream' },
          },
        ],
      },
    });
    const [e] = viaWire(b);
    expect(e).toEqual({
      kind: 'end',
      requestId: 'r-1',
      key: 'k-1',
      status: 200,
      details: 'via_upstream',
      served: '127.0.0.1:8001',
      attempts: 2,
      ttfbMs: 1.5,
      durationMs: 3250,
      headers: new Map([['retry-after', '3']]),
      offered: ['127.0.0.1:8001', '127.0.0.1:8002'],
    });
    expect(viaWire(b)).toEqual(viaGeneral(b));
  });

  it('skips the fields of a full Envoy entry that the subset leaves out', () => {
    const dirs = upstreamProtoDirs();
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => dirs.map((d) => join(d, target)).find((p) => existsSync(p)) ?? target;
    root.loadSync('envoy/service/accesslog/v3/als.proto', { keepCase: true });
    const T = root.lookupType('envoy.service.accesslog.v3.StreamAccessLogsMessage');
    const full = {
      identifier: { node: { id: 'envoy-1', cluster: 'edge' }, log_name: 'kvfleet_als' },
      http_logs: {
        log_entry: [
          {
            common_properties: {
              sample_rate: 1,
              downstream_remote_address: { socket_address: { address: '192.0.2.1', port_value: 50000 } },
              start_time: { seconds: 1_700_000_000, nanos: 5 },
              time_to_first_upstream_rx_byte: { seconds: 0, nanos: 2_000_000 },
              upstream_remote_address: { socket_address: { address: '::1', port_value: 9000 } },
              upstream_local_address: { socket_address: { address: '::1', port_value: 40000 } },
              upstream_cluster: 'pool-a',
              response_flags: { upstream_retry_limit_exceeded: true },
              metadata: {
                filter_metadata: {
                  'envoy.filters.http.ext_proc': { fields: { a: { numberValue: 1 } } },
                  kvfleet: { fields: { policy: { stringValue: 'class=public' }, key: { stringValue: 'k-9' }, score: { stringValue: '0.5' } } },
                  'envoy.lb': { fields: { 'x-gateway-destination-endpoint': { stringValue: '[::1]:9000' } } },
                },
              },
              route_name: 'chat',
              upstream_request_attempt_count: 1,
              access_log_type: 'UpstreamEnd',
            },
            protocol_version: 'HTTP11',
            request: {
              request_method: 'POST',
              path: '/v1/chat/completions',
              request_id: 'r-9',
              request_headers: { 'x-session-id': 's' },
              request_body_bytes: 4096,
            },
            response: {
              response_code: { value: 503 },
              response_headers: { 'x-ratelimit-remaining': '0' },
              response_trailers: { t: '1' },
              response_code_details: 'upstream_reset',
            },
          },
        ],
      },
    };
    const b = Buffer.from(T.encode(T.fromObject(full)).finish());
    const got = viaWire(b);
    expect(got).toEqual(viaGeneral(b));
    expect(got[0]).toMatchObject({ kind: 'attempt', key: 'k-9', served: '[::1]:9000', status: 503, attempts: 1, offered: ['[::1]:9000'] });
  });
});
