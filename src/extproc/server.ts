// The gRPC edge: ExternalProcessor/Process (one stream per HTTP request) and
// grpc.health.v1 on the same port. Each stream drives one Exchange.
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { Exchange } from './exchange.js';
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

/** Health service names: overall (""), the ext_proc service, and the EPP protocol's names. */
const HEALTH_NAMES = ['', EXT_PROC_SERVICE, 'liveness', 'readiness'];

export async function startExtProcServer(
  env: ExchangeEnv,
  listen: { host: string; port: number },
  hooks: { onStreamCountChange?: (n: number) => void } = {},
): Promise<ExtProcServer> {
  const server = new grpc.Server(GRPC_SERVER_OPTIONS);
  const health = new HealthImplementation(Object.fromEntries(HEALTH_NAMES.map((n) => [n, 'SERVING' as const])));
  health.addToServer(server);

  let active = 0;
  const setActive = (d: number) => {
    active += d;
    hooks.onStreamCountChange?.(active);
  };

  const onStream = (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
    const exchange = new Exchange(env);
    setActive(1);
    let closed = false;
    // Full duplex: the deadline for the request body (Envoy runs no message timer then).
    let deadline: NodeJS.Timeout | undefined;
    const send = (answers: readonly ProcessingResponse[]) => {
      for (const out of answers) if (!call.writableEnded && !call.destroyed) call.write(out);
    };
    const close = () => {
      if (closed) return;
      closed = true;
      clearTimeout(deadline);
      setActive(-1);
      exchange.close();
    };
    call.on('data', (msg: ProcessingRequest) => {
      send(exchange.respond(msg));
      if (exchange.collecting) {
        deadline ??= setTimeout(() => send(exchange.expire()), exchange.state.fleet.server.body_timeout_seconds * 1000);
      } else if (deadline !== undefined) {
        clearTimeout(deadline);
        deadline = undefined;
      }
      // Learning from the response cannot change the answer: run it once the answer is written.
      if (exchange.unsettled) setImmediate(() => exchange.settle());
    });
    call.on('end', () => {
      close();
      call.end();
    });
    call.on('error', close);
    call.on('cancelled', close);
    call.on('close', close);
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
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
