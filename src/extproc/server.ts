// The gRPC edge, one port: ExternalProcessor/Process (one stream per HTTP request, each
// driving one Exchange), AccessLogService/StreamAccessLogs (Envoy's access log: the
// outcomes) and grpc.health.v1.
// When a stream ends: in FULL_DUPLEX_STREAMED mode with the response side skipped (the
// shipped envoy.yaml), Envoy half-closes right after kvfleet's last answer and kvfleet closes
// its side: the stream is gone before the upstream request starts, so nothing kvfleet does
// later (restart, crash) can touch the response. In BUFFERED mode, or when a gateway asks
// for response phases, Envoy keeps the stream until the HTTP stream ends (Envoy 1.40 closes
// early only after a full-duplex body) and kvfleet lets it: a kvfleet-initiated close makes
// Envoy reset the stream, and Node's HTTP/2 server answers more than ~33 resets/s on one
// connection with GOAWAY. Draining (SIGTERM) is the exception: kvfleet ends every stream it
// has already answered at once (status OK; Envoy carries on without it), so a deploy never
// cuts a response, in any mode. Only SIGKILL of kvfleet cuts the responses of such streams.
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { addAccessLogService } from '../accesslog/server.js';
import type { AccessLogEvent } from '../router/log-event.js';
import { Exchange } from './exchange.js';
import { isPromise } from '../router/maybe-async.js';
import { MeterStream } from './meter/meter-stream.js';
import { DeadlineSweep } from './deadline-sweep.js';
import type { ExchangeEnv } from './exchange-state.js';
import { EXT_PROC_SERVICE, loadExtProcService } from './proto.js';
import type { ProcessingRequest, ProcessingResponse } from './proto-types.js';

export interface ExtProcServer {
  readonly port: number;
  readonly activeStreams: () => number;
  /** Stop accepting streams, wait up to `graceMs` for open ones, then close. */
  drain(graceMs: number): Promise<void>;
}

/** Server options (also used by the overhead benchmark's floor processor, src/bench/floor-processor.ts). */
export const GRPC_SERVER_OPTIONS: grpc.ServerOptions = Object.freeze({
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_receive_message_length': 80 * 1024 * 1024,
  'grpc.enable_channelz': 0,
});

/** gRPC metadata naming the filter a stream comes from (envoy.yaml: the meter's grpc_service.initial_metadata). */
export const ROLE_HEADER = 'x-kvfleet-role';

/** Health service names: overall (""), the ext_proc service, and the EPP protocol's names. */
const HEALTH_NAMES = ['', EXT_PROC_SERVICE, 'liveness', 'readiness'];

export interface ServerHooks {
  readonly onStreamCountChange?: (n: number) => void;
  /** Envoy's access log entries (the access log service on the same port; off when absent). */
  readonly onAccessLog?: (e: AccessLogEvent) => void;
}

export async function startExtProcServer(env: ExchangeEnv, listen: { host: string; port: number }, hooks: ServerHooks = {}): Promise<ExtProcServer> {
  const server = new grpc.Server(GRPC_SERVER_OPTIONS);
  const logs = hooks.onAccessLog !== undefined ? addAccessLogService(server, hooks.onAccessLog, env.onInternalError) : undefined;
  const health = new HealthImplementation(Object.fromEntries(HEALTH_NAMES.map((n) => [n, 'SERVING' as const])));
  health.addToServer(server);

  let active = 0;
  /** Streams whose request kvfleet has answered, still open (BUFFERED, response phases): ended OK on drain. */
  const answered = new Set<grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>>();
  let draining = false;
  /** Full duplex: every stream's request-body deadline (Envoy runs no message timer then), on one timer. */
  const deadlines = new DeadlineSweep();
  const setActive = (d: number) => {
    active += d;
    hooks.onStreamCountChange?.(active);
  };

  const onStream = (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
    if (call.metadata.get(ROLE_HEADER)[0] === 'meter') {
      meterStream(call);
      return;
    }
    const exchange = new Exchange(env);
    // Held by flow control or a waking model (BUFFERED): Envoy's message timer must outlast the wait.
    exchange.onHold = (ms) => {
      const s = Math.ceil(ms / 1000) + 2;
      if (!call.writableEnded && !call.destroyed) call.write({ override_message_timeout: { seconds: s } });
    };
    setActive(1);
    let closed = false;
    // Full duplex: the deadline for the request body is in `deadlines` while `timed`.
    let timed = false;
    const send = (answers: readonly ProcessingResponse[]) => {
      for (const out of answers) if (!call.writableEnded && !call.destroyed) call.write(out);
    };
    const close = () => {
      if (closed) return;
      closed = true;
      answered.delete(call);
      if (timed) deadlines.cancel(call);
      setActive(-1);
      exchange.close();
    };
    const after = () => {
      if (exchange.collecting) {
        if (!timed) {
          timed = true;
          deadlines.add(call, exchange.state.fleet.server.body_timeout_seconds * 1000, () => {
            timed = false;
            send(exchange.expire());
          });
        }
      } else if (timed) {
        timed = false;
        deadlines.cancel(call);
      }
      if (exchange.finished && !closed) {
        if (draining) call.end();
        else answered.add(call);
      }
    };
    // One message at a time: while an answer is on its way (usage limits on Redis, flow
    // control), the next messages wait their turn, so answers keep Envoy's order.
    const queue: ProcessingRequest[] = [];
    let waiting = false;
    const pump = () => {
      while (!waiting && queue.length > 0) {
        const out = exchange.respond(queue.shift() as ProcessingRequest);
        if (isPromise(out)) {
          waiting = true;
          void out.then((answers) => {
            waiting = false;
            send(answers);
            after();
            pump();
          });
          return;
        }
        send(out);
        after();
      }
    };
    call.on('data', (msg: ProcessingRequest) => {
      queue.push(msg);
      pump();
    });
    call.on('end', () => {
      close();
      call.end();
    });
    call.on('error', close);
    call.on('cancelled', close);
    call.on('close', close);
  };
  // The meter (Envoy's observability-mode filter): copies of metered responses (token usage,
  // and the response cache's fills); never answered.
  const meterStream = (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
    const cache = env.responseCache;
    const meter = new MeterStream(
      (key, reading) => env.router.metered(key, reading),
      cache !== undefined ? (fill, response) => cache.fill(fill, response) : undefined,
    );
    call.on('data', (msg: ProcessingRequest) => meter.message(msg));
    call.on('end', () => {
      meter.close();
      call.end();
    });
    const cut = () => meter.close();
    call.on('error', cut);
    call.on('cancelled', cut);
    call.on('close', cut);
  };
  server.addService(loadExtProcService(), { Process: onStream });

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${listen.host}:${listen.port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });

  return {
    port,
    activeStreams: () => active,
    drain: (graceMs) =>
      new Promise<void>((resolve) => {
        for (const n of HEALTH_NAMES) health.setStatus(n, 'NOT_SERVING');
        // Answered streams need kvfleet no more: end them now (OK), the responses carry on.
        draining = true;
        for (const call of answered) if (!call.writableEnded) call.end();
        // Envoy's access log streams never end by themselves.
        logs?.endAll();
        const timer = setTimeout(() => {
          server.forceShutdown();
          deadlines.clear();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          deadlines.clear();
          resolve();
        });
      }),
  };
}
