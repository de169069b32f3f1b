// The access log service on kvfleet's gRPC port: Envoy streams its access log entries here
// (HCM access_log, and the router's upstream_log) and never waits for an answer. Each entry
// becomes an AccessLogEvent for the Router (ends, periodic refreshes, per-attempt outcomes).
// Off the request path by construction, and it survives kvfleet's restarts: Envoy
// reconnects by itself with its next entry (entries produced while kvfleet is down are lost;
// the Router's pending table expires what they would have ended). A stream lives as long as
// Envoy's connection: on drain kvfleet ends them (OK) instead of waiting out the grace.
import type * as grpc from '@grpc/grpc-js';
import { eventOf, type AccessLogEvent, type StreamAccessLogsMessage } from './entry.js';
import { accessLogService } from './proto.js';

/** The open log streams; `endAll` closes them (OK) so a draining server need not wait for Envoy. */
export interface AccessLogStreams {
  endAll(): void;
}

export function addAccessLogService(server: grpc.Server, onEvent: (e: AccessLogEvent) => void, onError?: (e: unknown) => void): AccessLogStreams {
  const open = new Map<grpc.ServerReadableStream<StreamAccessLogsMessage, unknown>, () => void>();
  server.addService(accessLogService(), {
    StreamAccessLogs: (call: grpc.ServerReadableStream<StreamAccessLogsMessage, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        open.delete(call);
        callback(null, {});
      };
      open.set(call, finish);
      call.on('data', (msg: StreamAccessLogsMessage) => {
        for (const entry of msg.http_logs?.log_entry ?? []) {
          try {
            onEvent(eventOf(entry));
          } catch (e) {
            onError?.(e);
          }
        }
      });
      call.on('end', finish);
      call.on('error', () => open.delete(call));
      call.on('cancelled', () => open.delete(call));
    },
  });
  return { endAll: () => [...open.values()].forEach((f) => f()) };
}
