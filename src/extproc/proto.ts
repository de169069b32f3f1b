// Loads envoy.service.ext_proc.v3.ExternalProcessor: kvfleet's own wire-compatible
// subset of the service file (proto/kvfleet/, which adds what the older Envoy API copy
// lacks: protocol_config and streamed bodies for FULL_DUPLEX_STREAMED), importing the
// shared Envoy types from the .proto files shipped by the pinned @grpc/grpc-js-xds
// package (deps/envoy-api, xds, googleapis, pgv). kvfleet (and the overhead benchmark's floor
// processor, so the two keep the same stack) serve it with wire-decode.ts / wire-encode.ts
// (plain objects straight off and onto the wire, falling back to proto-loader's codec for what
// they leave out); proto-loader's definition stays the reference they are tested against.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProcessingRequest, ProcessingResponse } from './proto-types.js';
import { decodeProcessingRequest } from './wire-decode.js';
import { encodeProcessingResponse } from './wire-encode.js';

const require = createRequire(import.meta.url);

/** proto/ at the repository root (from src/extproc or dist/extproc). */
export const OWN_PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'proto');

/** The Envoy API copy in the pinned @grpc/grpc-js-xds and its dependencies. */
export function upstreamProtoDirs(): string[] {
  const root = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(root, d));
}

export function protoIncludeDirs(): string[] {
  return [OWN_PROTO_DIR, ...upstreamProtoDirs()];
}

export const EXT_PROC_PROTO = 'kvfleet/external_processor.proto';
/** The same service in the pinned upstream copy (the compatibility test compares the two). */
export const UPSTREAM_EXT_PROC_PROTO = 'envoy/service/ext_proc/v3/external_processor.proto';
export const EXT_PROC_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: protoIncludeDirs(),
};

/** The ExternalProcessor client constructor; its `.service` is what the server registers. */
export function loadExtProcClient(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(EXT_PROC_PROTO, LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { ext_proc: { v3: { ExternalProcessor: grpc.ServiceClientConstructor } } } };
  };
  return pkg.envoy.service.ext_proc.v3.ExternalProcessor;
}

/** The service as proto-loader encodes and decodes it (the reference the wire codec is tested against). */
export function loadGeneralExtProcService(): grpc.ServiceDefinition {
  return loadExtProcClient().service;
}

/** The service kvfleet serves: Process with the wire codec, proto-loader's for what it leaves out. */
export function loadExtProcService(): grpc.ServiceDefinition {
  const def = loadGeneralExtProcService();
  const method = def['Process'] as grpc.MethodDefinition<ProcessingRequest, ProcessingResponse> | undefined;
  if (method === undefined) throw new Error(`${EXT_PROC_SERVICE}: no Process method`);
  const general = { decode: method.requestDeserialize, encode: method.responseSerialize };
  const process: grpc.MethodDefinition<ProcessingRequest, ProcessingResponse> = {
    ...method,
    requestDeserialize: (b: Buffer) => decodeProcessingRequest(b) ?? general.decode(b),
    responseSerialize: (m: ProcessingResponse) => encodeProcessingResponse(m) ?? general.encode(m),
  };
  return { ...def, Process: process };
}
