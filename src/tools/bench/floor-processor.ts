// The floor of the ext_proc hop: a processor on kvfleet's own stack (grpc-js, the same
// proto files and ext_proc codec, proto.ts's loadExtProcService; the same server options)
// that decides nothing but answers the same phases as kvfleet, in whichever request-body
// mode Envoy announces (protocol_config, first message):
//   full duplex  nothing on the request headers; the body chunks are collected; at
//                end_of_stream the headers answer (x-kvfleet-cluster, clear_route_cache and
//                constant `kvfleet` metadata of the shape kvfleet writes, explain-metadata.ts;
//                no envoy.lb list, so the pool's round robin picks) and the body streamed back
//                in chunks of ≤ 64 KiB like kvfleet; nothing on the trailers after that
//   buffered     CONTINUE on the headers; the routing answer (same mutation and metadata) on
//                the body
// Response phases (only when a bootstrap asks for them) get CONTINUE. The stream ends when
// Envoy half-closes it. The access log service is served too, as a sink that never decodes
// a message, so Envoy's logging config is identical for kvfleet and the floor.
// Envoy + this processor vs Envoy alone is what any Node ext_proc service costs on the
// machine before it does any work; kvfleet vs this is kvfleet's own share. Runs as a child
// process of `kvfleet bench overhead`:
//   node dist/tools/bench/floor-processor.js <port> <cluster>     prints "ready <port>" once listening
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { ALS_SERVICE } from '../../accesslog/proto.js';
import { STREAMED_CHUNK_BYTES } from '../../extproc/body/duplex-body.js';
import { withKvfleetMetadata } from '../../extproc/explain-metadata.js';
import { CONTINUE, setHeader, streamedBody } from '../../extproc/mutations.js';
import { CLUSTER_HEADER } from '../../extproc/phases/request-body.js';
import { loadExtProcService } from '../../extproc/proto.js';
import type { CommonResponse, ProcessingRequest, ProcessingResponse, ProtoStruct, ProtoValue } from '../../extproc/proto-types.js';
import { GRPC_SERVER_OPTIONS } from '../../extproc/server.js';

const str = (v: string): ProtoValue => ({ stringValue: v });

/** kvfleet's explanation fields (explain-metadata.ts, no tenant in the bench fleet) with short constants. */
export const FLOOR_METADATA: ProtoStruct = withKvfleetMetadata({
  key: str('floor-0'),
  request_id: str('floor-0'),
  model: str('bench-model'),
  strategy: str('floor'),
  score: str('0.000'),
  affinity: str('none'),
  reason: str('floor'),
  fallbacks: str('0'),
  decision_us: str('0'),
  policy: str('class=internal'),
});

const NOTHING: readonly ProcessingResponse[] = [];

/**
 * One ext_proc stream of the floor: each message in, the answers out (none, one or several).
 * Pure apart from the collected chunks, so tests drive it without a socket.
 */
export function floorStream(cluster: string): (req: ProcessingRequest) => readonly ProcessingResponse[] {
  const route: CommonResponse = { status: 'CONTINUE', clear_route_cache: true, header_mutation: { set_headers: [setHeader(CLUSTER_HEADER, cluster)] } };
  let duplex = false;
  let answered = false;
  const chunks: Buffer[] = [];
  const finish = (endOfStream: boolean): ProcessingResponse[] => {
    answered = true;
    const body = Buffer.concat(chunks);
    chunks.length = 0;
    const out: ProcessingResponse[] = [{ request_headers: { response: route }, dynamic_metadata: FLOOR_METADATA }];
    for (let at = 0; ; at += STREAMED_CHUNK_BYTES) {
      const last = at + STREAMED_CHUNK_BYTES >= body.length;
      out.push(streamedBody('request_body', body.subarray(at, at + STREAMED_CHUNK_BYTES), last && endOfStream));
      if (last) break;
    }
    return out;
  };
  return (req) => {
    if (req.request_headers !== undefined) {
      duplex = req.protocol_config?.request_body_mode === 'FULL_DUPLEX_STREAMED';
      if (!duplex) return [{ request_headers: { response: CONTINUE } }];
      // A request without a body: nothing to wait for.
      return req.request_headers.end_of_stream === true ? [{ request_headers: { response: route }, dynamic_metadata: FLOOR_METADATA }] : NOTHING;
    }
    if (req.request_body !== undefined) {
      if (!duplex) return [{ request_body: { response: route }, dynamic_metadata: FLOOR_METADATA }];
      if (answered) return NOTHING;
      if (req.request_body.body !== undefined && req.request_body.body.length > 0) chunks.push(req.request_body.body);
      return req.request_body.end_of_stream === true ? finish(true) : NOTHING;
    }
    if (req.request_trailers !== undefined) {
      if (!duplex) return [{ request_trailers: {} }];
      return answered ? NOTHING : [...finish(false), { request_trailers: {} }];
    }
    if (req.response_headers !== undefined) return [{ response_headers: { response: CONTINUE } }];
    if (req.response_body !== undefined) return [{ response_body: { response: CONTINUE } }];
    return req.response_trailers !== undefined ? [{ response_trailers: {} }] : NOTHING;
  };
}

const passThrough = (b: Buffer): Buffer => b;
const EMPTY = Buffer.alloc(0);

/** StreamAccessLogs with raw bytes in and an empty answer out: the messages are never decoded. */
export const ACCESS_LOG_SINK: grpc.ServiceDefinition = {
  StreamAccessLogs: {
    path: `/${ALS_SERVICE}/StreamAccessLogs`,
    requestStream: true,
    responseStream: false,
    requestSerialize: passThrough,
    requestDeserialize: passThrough,
    responseSerialize: () => EMPTY,
    responseDeserialize: () => EMPTY,
    originalName: 'streamAccessLogs',
  },
};

export async function startFloorProcessor(port: number, cluster: string): Promise<{ port: number; stop(): void }> {
  const server = new grpc.Server(GRPC_SERVER_OPTIONS);
  server.addService(loadExtProcService(), {
    Process: (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
      const answer = floorStream(cluster);
      call.on('data', (msg: ProcessingRequest) => {
        for (const out of answer(msg)) if (!call.writableEnded && !call.destroyed) call.write(out);
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  server.addService(ACCESS_LOG_SINK, {
    StreamAccessLogs: (call: grpc.ServerReadableStream<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      call.on('data', () => undefined);
      call.on('end', () => done(null, EMPTY));
      call.on('error', () => undefined);
    },
  });
  const bound = await new Promise<number>((ok, fail) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))),
  );
  return { port: bound, stop: () => server.forceShutdown() };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [port, cluster] = [Number(process.argv[2] ?? '0'), process.argv[3] ?? 'pool-bench'];
  const floor = await startFloorProcessor(port, cluster);
  process.stdout.write(`ready ${floor.port}\n`);
  process.once('SIGTERM', () => {
    floor.stop();
    process.exit(0);
  });
}
