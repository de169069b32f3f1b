// TypeScript shapes of the envoy.service.ext_proc.v3 messages kvfleet reads and
// writes, as @grpc/proto-loader presents them (keepCase, oneofs, bytes → Buffer).
// The .proto files: proto/kvfleet/ (ours, wire-compatible) importing the shared Envoy
// types from the pinned @grpc/grpc-js-xds package.

/**
 * google.protobuf.Value. protobufjs ships its own definition of the well-known
 * struct.proto with camelCase field names, so keepCase does not apply here.
 */
export interface ProtoValue {
  nullValue?: 'NULL_VALUE';
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: ProtoStruct;
  listValue?: { values?: ProtoValue[] };
  kind?: string;
}

export interface ProtoStruct {
  fields?: Record<string, ProtoValue>;
}

export interface HeaderValue {
  key: string;
  value?: string;
  raw_value?: Buffer;
}

export interface HeaderMap {
  headers?: HeaderValue[];
}

export interface HttpHeaders {
  headers?: HeaderMap;
  end_of_stream?: boolean;
}

export interface HttpBody {
  body?: Buffer;
  end_of_stream?: boolean;
}

export type RequestKind = 'request_headers' | 'response_headers' | 'request_body' | 'response_body' | 'request_trailers' | 'response_trailers';

export type BodySendMode = 'NONE' | 'STREAMED' | 'BUFFERED' | 'BUFFERED_PARTIAL' | 'FULL_DUPLEX_STREAMED' | 'GRPC';

/** The filter's configured body modes, sent with a stream's first message. */
export interface ProtocolConfiguration {
  request_body_mode?: BodySendMode;
  response_body_mode?: BodySendMode;
  send_body_without_waiting_for_header_response?: boolean;
}

export interface ProcessingRequest {
  request?: RequestKind;
  request_headers?: HttpHeaders;
  response_headers?: HttpHeaders;
  request_body?: HttpBody;
  response_body?: HttpBody;
  request_trailers?: { trailers?: HeaderMap };
  response_trailers?: { trailers?: HeaderMap };
  metadata_context?: { filter_metadata?: Record<string, ProtoStruct> };
  /** Keyed by filter name (envoy.filters.http.ext_proc); values are the configured attributes. */
  attributes?: Record<string, ProtoStruct>;
  observability_mode?: boolean;
  protocol_config?: ProtocolConfiguration;
}

export type AppendAction = 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';

export interface HeaderValueOption {
  header: { key: string; raw_value: Buffer };
  append_action: AppendAction;
}

export interface HeaderMutation {
  set_headers?: HeaderValueOption[];
  remove_headers?: string[];
}

/** One of: a whole new body (BUFFERED), clear it, or a body chunk sent back (FULL_DUPLEX_STREAMED). */
export interface BodyMutation {
  body?: Buffer;
  clear_body?: boolean;
  streamed_response?: { body?: Buffer; end_of_stream?: boolean };
}

export interface CommonResponse {
  status?: 'CONTINUE' | 'CONTINUE_AND_REPLACE';
  header_mutation?: HeaderMutation;
  body_mutation?: BodyMutation;
  clear_route_cache?: boolean;
}

export interface ImmediateResponse {
  status: { code: number };
  headers?: HeaderMutation;
  body?: Buffer;
  details?: string;
}

export interface ProcessingResponse {
  request_headers?: { response: CommonResponse };
  response_headers?: { response: CommonResponse };
  request_body?: { response: CommonResponse };
  response_body?: { response: CommonResponse };
  request_trailers?: { header_mutation?: HeaderMutation };
  response_trailers?: { header_mutation?: HeaderMutation };
  immediate_response?: ImmediateResponse;
  dynamic_metadata?: ProtoStruct;
  /** Extends Envoy's message timer for the message being processed (bounded by max_message_timeout). */
  override_message_timeout?: { seconds: number; nanos?: number };
}
