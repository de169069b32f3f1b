// Loads envoy.service.accesslog.v3.AccessLogService from kvfleet's own wire-compatible
// subset (proto/kvfleet/als/: only the fields kvfleet reads, so decoding an entry builds
// nothing else; checked against the pinned Envoy API copy by test/unit/proto-compat.test.ts).
// kvfleet serves it with wire.ts's decoder (only the fields entry.ts reads); the
// proto-loader definition stays the reference it is tested against.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeAccessLogs } from './wire.js';

/** The repo's proto/ directory (kvfleet's own wire-compatible subsets). */
const OWN_PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'proto');

export const ALS_PROTO = 'kvfleet/als/als.proto';
export const ALS_SERVICE = 'envoy.service.accesslog.v3.AccessLogService';

/** The service as proto-loader decodes it (every field of the subset; tests compare wire.ts with it). */
export function loadAccessLogService(): grpc.ServiceDefinition {
  const def = protoLoader.loadSync(ALS_PROTO, { keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true, includeDirs: [OWN_PROTO_DIR] });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { accesslog: { v3: { AccessLogService: grpc.ServiceClientConstructor } } } };
  };
  return pkg.envoy.service.accesslog.v3.AccessLogService.service;
}

/** The service kvfleet serves: the same, its messages decoded by wire.ts (only the fields entry.ts reads). */
export function accessLogService(): grpc.ServiceDefinition {
  const def = loadAccessLogService();
  const method = def['StreamAccessLogs'];
  if (method === undefined) throw new Error(`${ALS_SERVICE}: no StreamAccessLogs method`);
  return { ...def, StreamAccessLogs: { ...method, requestDeserialize: (b: Buffer) => decodeAccessLogs(b) } };
}
