// The floor of the ext_proc hop: a processor on kvfleet's own stack (grpc-js, the same
// proto files, the same server options) that decides nothing. It answers every message at
// once with a constant: CONTINUE on the request headers, the bench pool's cluster header on
// the body, CONTINUE on the response headers. Envoy + this processor vs Envoy alone is what
// any Node ext_proc service costs on the machine before it does any work; kvfleet vs this
// is kvfleet's own share. Runs as a child process of `kvfleet bench overhead`:
//   node dist/tools/bench/floor-processor.js <port> <cluster>     prints "ready <port>" once listening
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { CONTINUE, setHeader } from '../../extproc/mutations.js';
import { CLUSTER_HEADER } from '../../extproc/phases/request-body.js';
import { loadExtProcService } from '../../extproc/proto.js';
import type { ProcessingRequest, ProcessingResponse } from '../../extproc/proto-types.js';
import { GRPC_SERVER_OPTIONS } from '../../extproc/server.js';

export function floorAnswers(cluster: string): (req: ProcessingRequest) => ProcessingResponse {
  const headers: ProcessingResponse = { request_headers: { response: CONTINUE } };
  const body: ProcessingResponse = {
    request_body: { response: { status: 'CONTINUE', clear_route_cache: true, header_mutation: { set_headers: [setHeader(CLUSTER_HEADER, cluster)] } } },
  };
  const response: ProcessingResponse = { response_headers: { response: CONTINUE } };
  const requestTrailers: ProcessingResponse = { request_trailers: {} };
  const responseTrailers: ProcessingResponse = { response_trailers: {} };
  return (req) => {
    if (req.request_headers !== undefined) return headers;
    if (req.request_body !== undefined) return body;
    if (req.response_headers !== undefined) return response;
    return req.request_trailers !== undefined ? requestTrailers : responseTrailers;
  };
}

export async function startFloorProcessor(port: number, cluster: string): Promise<{ port: number; stop(): void }> {
  const server = new grpc.Server(GRPC_SERVER_OPTIONS);
  const answer = floorAnswers(cluster);
  server.addService(loadExtProcService(), {
    Process: (call: grpc.ServerDuplexStream<ProcessingRequest, ProcessingResponse>) => {
      call.on('data', (msg: ProcessingRequest) => call.write(answer(msg)));
      call.on('end', () => call.end());
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
