// Loads envoy.service.accesslog.v3.AccessLogService from kvfleet's own wire-compatible
// subset (proto/kvfleet/als/: only the fields kvfleet reads, so decoding an entry builds
// nothing else; checked against the pinned Envoy API copy by test/unit/proto-compat.test.ts).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repo's proto/ directory (kvfleet's own wire-compatible subsets). */
const OWN_PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'proto');

export const ALS_PROTO = 'kvfleet/als/als.proto';
export const ALS_SERVICE = 'envoy.service.accesslog.v3.AccessLogService';

export function loadAccessLogService(): grpc.ServiceDefinition {
  const def = protoLoader.loadSync(ALS_PROTO, { keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true, includeDirs: [OWN_PROTO_DIR] });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { accesslog: { v3: { AccessLogService: grpc.ServiceClientConstructor } } } };
  };
  return pkg.envoy.service.accesslog.v3.AccessLogService.service;
}
