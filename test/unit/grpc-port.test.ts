// kvfleet's gRPC port, over real sockets: the ext_proc stream ends (OK) as soon as kvfleet
// has answered the request, without waiting for the client to close it; and Envoy's access
// log entries — encoded here with the full upstream Envoy API, as Envoy sends them — reach
// the Router as the events kvfleet learns from.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { loadExtProcClient, upstreamProtoDirs } from '../../src/extproc/proto.js';
import type { ProcessingRequest, ProcessingResponse } from '../../src/extproc/proto-types.js';
import { startExtProcServer } from '../../src/extproc/server.js';
import type { AccessLogEvent } from '../../src/router/log-event.js';
import { fleetFrom, TWO_MODEL_YAML } from '../helpers/fleet.js';
import { keyOf, logEvent, post, testEnv } from '../helpers/exchange.js';
import { waitFor } from '../../src/tools/ports.js';

const chat = { body: Buffer.from(JSON.stringify({ model: 'big', messages: [{ role: 'user', content: 'hello there' }] })), end_of_stream: true };

type Duplex = grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse>;

function processClient(port: number): grpc.Client & { Process(): Duplex } {
  const Client = loadExtProcClient();
  return new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Process(): Duplex };
}

/** Opens a stream, routes one request; resolves with the answers and a promise of the stream's status. */
async function routeOne(client: ReturnType<typeof processClient>, duplex: boolean) {
  const call = client.Process();
  const answers: ProcessingResponse[] = [];
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  const two = new Promise<void>((resolve) =>
    call.on('data', (r: ProcessingResponse) => {
      answers.push(r);
      if (answers.length === 2) resolve();
    }),
  );
  const mode = duplex ? { protocol_config: { request_body_mode: 'FULL_DUPLEX_STREAMED' as const } } : {};
  call.write({ request_headers: post('/v1/chat/completions'), ...mode });
  call.write({ request_body: chat });
  await two;
  return { call, answers, status };
}

describe('the ext_proc stream', () => {
  it('full duplex: answered at once; Envoy half-closes and kvfleet ends its side (OK); the decision stays tracked until its end', async () => {
    const env = testEnv(fleetFrom());
    const srv = await startExtProcServer(env, { host: '127.0.0.1', port: 0 });
    const client = processClient(srv.port);
    try {
      const { call, answers, status } = await routeOne(client, true);
      expect(answers.map((a) => Object.keys(a).find((k) => k !== 'dynamic_metadata'))).toEqual(['request_headers', 'request_body']);
      call.end(); // Envoy's half-close after the last answer
      expect((await status).code).toBe(grpc.status.OK);
      expect(keyOf(answers[0] ?? {})).toMatch(/^[0-9a-f]{8}-/);
      expect(env.live.endpoint('10.0.1.1:8000')?.inflight).toBe(1);
      expect(srv.activeStreams()).toBe(0);
    } finally {
      client.close();
      await srv.drain(0);
    }
  });

  it("buffered: the stream stays open while Envoy holds it; draining ends every answered stream, and Envoy's access log stream, with OK at once", async () => {
    const env = testEnv(fleetFrom());
    const srv = await startExtProcServer(env, { host: '127.0.0.1', port: 0 }, { onAccessLog: () => undefined });
    const client = processClient(srv.port);
    const als = upstreamAlsClient(srv.port);
    try {
      const { status } = await routeOne(client, false);
      // Envoy's access log stream: open for as long as the connection lives.
      const logEnded = new Promise<grpc.ServiceError | null>((resolve) => {
        const call = als.StreamAccessLogs((e) => resolve(e));
        call.write({ http_logs: { log_entry: [] } });
      });
      const early = await Promise.race([status.then(() => 'ended'), new Promise((r) => setTimeout(() => r('open'), 100))]);
      expect(early).toBe('open');
      expect(srv.activeStreams()).toBe(1);
      // SIGTERM: the drain grace is long, but both streams end right away, with OK.
      const started = Date.now();
      const drained = srv.drain(30_000);
      expect((await status).code).toBe(grpc.status.OK);
      expect(await logEnded).toBeNull();
      await drained;
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      client.close();
      als.close();
    }
  });
});

describe('a BUFFERED request held by flow control', () => {
  it("gets Envoy's message timer extended (override_message_timeout) before its answer", async () => {
    const fleet = fleetFrom(
      TWO_MODEL_YAML.replace(
        'server: { max_body_bytes: 2048 }',
        'server: { max_body_bytes: 2048 }\nscrape: { enabled: false }\nflow_control: { enabled: true, max_queue_ms: 4000, saturation: { inflight: 1 } }',
      ),
    );
    const env = testEnv(fleet);
    const srv = await startExtProcServer(env, { host: '127.0.0.1', port: 0 });
    const client = processClient(srv.port);
    try {
      const first = await routeOne(client, false); // the pool's only slot
      expect(keyOf(first.answers[1] ?? {})).toBeDefined();
      const call = client.Process();
      const got: ProcessingResponse[] = [];
      call.on('data', (r: ProcessingResponse) => got.push(r));
      call.write({ request_headers: post('/v1/chat/completions') });
      call.write({ request_body: chat });
      await waitFor('the timer extension', () => got.some((r) => r.override_message_timeout !== undefined), 5000);
      expect(got.find((r) => r.override_message_timeout !== undefined)?.override_message_timeout?.seconds).toBe(6);
      expect(got.some((r) => r.request_body !== undefined)).toBe(false); // still held
      env.router.ended(logEvent(first.answers[1], { served: '10.0.1.1:8000' }));
      await waitFor('the answer', () => got.some((r) => r.request_body !== undefined), 5000);
      call.end();
      first.call.end();
    } finally {
      client.close();
      await srv.drain(0);
    }
  });
});

/** A client of the full upstream AccessLogService (what Envoy's http_grpc logger speaks). */
function upstreamAlsClient(port: number): grpc.Client & { StreamAccessLogs(cb: (e: grpc.ServiceError | null) => void): grpc.ClientWritableStream<unknown> } {
  const def = protoLoader.loadSync('envoy/service/accesslog/v3/als.proto', { keepCase: true, includeDirs: upstreamProtoDirs() });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { accesslog: { v3: { AccessLogService: grpc.ServiceClientConstructor } } } };
  };
  const Ctor = pkg.envoy.service.accesslog.v3.AccessLogService;
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as ReturnType<typeof upstreamAlsClient>;
}

const str = (v: string) => ({ stringValue: v });

describe('the access log service', () => {
  it("decodes Envoy's entries (fields kvfleet does not read included) into end, periodic and attempt events", async () => {
    const env = testEnv(fleetFrom());
    const events: AccessLogEvent[] = [];
    const srv = await startExtProcServer(env, { host: '127.0.0.1', port: 0 }, { onAccessLog: (e) => events.push(e) });
    const client = upstreamAlsClient(srv.port);
    try {
      const common = {
        sample_rate: 1,
        downstream_remote_address: { socket_address: { address: '127.0.0.1', port_value: 50000 } },
        start_time: { seconds: 1_790_000_000, nanos: 0 },
        upstream_remote_address: { socket_address: { address: '10.0.1.1', port_value: 8000 } },
        upstream_cluster: 'pool-big',
        time_to_first_upstream_rx_byte: { seconds: 0, nanos: 42_500_000 },
        time_to_last_downstream_tx_byte: { seconds: 3, nanos: 0 },
        upstream_request_attempt_count: 2,
        metadata: {
          filter_metadata: {
            kvfleet: { fields: { key: str('abcd1234-7'), model: str('big') } },
            'envoy.lb': { fields: { 'x-gateway-destination-endpoint': str('10.0.1.2:8000,10.0.1.1:8000') } },
          },
        },
      };
      const entry = (type: string, code: number, headers: Record<string, string> = {}, over: Record<string, unknown> = {}) => ({
        common_properties: { ...common, access_log_type: type, ...over },
        protocol_version: 'HTTP11',
        request: { request_method: 'POST', path: '/v1/chat/completions', request_id: 'rid-9', request_headers_bytes: 300 },
        response: { response_code: { value: code }, response_headers: headers, response_code_details: 'via_upstream', response_body_bytes: 1234 },
      });
      await new Promise<void>((resolve, reject) => {
        const call = client.StreamAccessLogs((e) => (e === null ? resolve() : reject(e)));
        call.write({
          identifier: { node: { id: 'envoy-1' }, log_name: 'kvfleet' },
          http_logs: {
            log_entry: [
              entry(
                'UpstreamEnd',
                429,
                { 'retry-after': '4', 'X-RateLimit-Remaining-Requests': '0' },
                { upstream_remote_address: { socket_address: { address: '10.0.1.2', port_value: 8000 } } },
              ),
              entry('DownstreamPeriodic', 200),
              entry('DownstreamEnd', 200),
            ],
          },
        });
        call.end();
      });
      expect(events.map((e) => e.kind)).toEqual(['attempt', 'periodic', 'end']);
      expect(events[0]).toMatchObject({ status: 429, served: '10.0.1.2:8000', key: 'abcd1234-7' });
      expect(Object.fromEntries(events[0]?.headers ?? [])).toEqual({ 'retry-after': '4', 'x-ratelimit-remaining-requests': '0' });
      expect(events[2]).toMatchObject({
        requestId: 'rid-9',
        key: 'abcd1234-7',
        status: 200,
        details: 'via_upstream',
        served: '10.0.1.1:8000',
        attempts: 2,
        ttfbMs: 42.5,
        durationMs: 3000,
        offered: ['10.0.1.2:8000', '10.0.1.1:8000'],
      });
    } finally {
      client.close();
      await srv.drain(0);
    }
  });

  it('an entry without kvfleet metadata (a codec error, a request kvfleet never saw) has no key and no endpoint', async () => {
    const { eventOf } = await import('../../src/accesslog/entry.js');
    const e = eventOf({
      common_properties: { access_log_type: 'DownstreamEnd' },
      response: { response_code: { value: 400 }, response_code_details: 'http1.codec_error' },
    });
    expect(e).toMatchObject({ kind: 'end', key: undefined, served: undefined, status: 400, offered: [] });
    expect(eventOf({}).kind).toBe('other');
    // IPv6 upstream addresses are bracketed like the endpoint lists.
    expect(eventOf({ common_properties: { upstream_remote_address: { socket_address: { address: 'fd00::7', port_value: 8000 } } } }).served).toBe(
      '[fd00::7]:8000',
    );
  });
});
