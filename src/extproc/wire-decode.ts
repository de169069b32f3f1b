// A decoder for ext_proc's ProcessingRequest straight off the wire (protobufjs's Reader, the
// library proto-loader decodes with) into the plain object proto-loader gives
// (toObject(decode(bytes)) with keepCase, enums as names, longs as numbers, no defaults,
// oneofs): the general path builds every message twice, once as protobufjs instances and
// once more as plain objects; this builds the plain objects only. Every field of kvfleet's
// subset (proto/kvfleet/external_processor.proto) is decoded, so the result is the same
// object for every message (test/unit/ext-proc-wire.test.ts compares the two over
// generated messages), as protobufjs decodes:
//   a repeated singular field   the last occurrence wins (sub-messages are not merged)
//   a oneof                     its name (`request`, Value's `kind`) is the present member
//                               with the highest field number, as toObject sets it
//   map keys                    `__proto__` becomes an own property
//   enums                       by name; numbers without a name stay numbers
// What it leaves to the general decoder (decodeProcessingRequest returns undefined): typed
// filter metadata (google.protobuf.Any), Struct nesting past protobufjs's recursion limit,
// a map entry without its value, and any malformed input (the general decoder then throws
// its own error, as before).
// Field numbers: proto/kvfleet/external_processor.proto and processing_mode.proto, the Envoy
// API's config/core/v3/base.proto (Metadata, HeaderMap, HeaderValue), google/protobuf/struct.proto.
import protobuf from 'protobufjs/minimal.js';
import type {
  BodySendMode,
  HeaderMap,
  HeaderValue,
  HttpBody,
  HttpHeaders,
  ProcessingRequest,
  ProtoStruct,
  ProtoValue,
  ProtocolConfiguration,
  RequestKind,
} from './proto-types.js';

type Reader = protobuf.Reader;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Thrown inside to hand the message to the general decoder. */
class Unsupported extends Error {}

/** protobufjs's nesting limit (util.recursionLimit): deeper Structs are the general decoder's. */
const MAX_DEPTH = 100;

const BODY_MODES: readonly BodySendMode[] = ['NONE', 'STREAMED', 'BUFFERED', 'BUFFERED_PARTIAL', 'FULL_DUPLEX_STREAMED', 'GRPC'];

/** ProcessingRequest's oneof `request`, by field number. */
const REQUEST_KINDS: readonly (RequestKind | undefined)[] = [
  undefined,
  undefined,
  'request_headers',
  'response_headers',
  'request_body',
  'response_body',
  'request_trailers',
  'response_trailers',
];

/** Value's oneof `kind`, by field number. */
const VALUE_KINDS = ['', 'nullValue', 'numberValue', 'stringValue', 'boolValue', 'structValue', 'listValue'] as const;

/** End of the length-delimited field at the reader's position (checked against the buffer). */
function endOf(r: Reader): number {
  const end = r.uint32() + r.pos;
  if (end > r.len) throw new Unsupported();
  return end;
}

/** After a sub-message: it must have ended exactly at its length. */
function done(r: Reader, end: number): void {
  if (r.pos !== end) throw new Unsupported();
}

/** obj[key] = value, `__proto__` included (as an own property, like protobufjs's util.makeProp). */
function put<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

function value(r: Reader, depth: number): ProtoValue {
  if (depth > MAX_DEPTH) throw new Unsupported();
  const v: ProtoValue = {};
  let kind = 0;
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    const no = tag >>> 3;
    switch (no) {
      case 1: {
        const n = r.int32();
        v.nullValue = n === 0 ? 'NULL_VALUE' : (n as unknown as 'NULL_VALUE');
        break;
      }
      case 2:
        v.numberValue = r.double();
        break;
      case 3:
        v.stringValue = r.string();
        break;
      case 4:
        v.boolValue = r.bool();
        break;
      case 5:
        v.structValue = struct(r, depth + 1);
        break;
      case 6: {
        const values: ProtoValue[] = [];
        const lend = endOf(r);
        while (r.pos < lend) {
          const t = r.uint32();
          if (t >>> 3 === 1) values.push(value(r, depth + 2));
          else r.skipType(t & 7);
        }
        done(r, lend);
        v.listValue = values.length > 0 ? { values } : {};
        break;
      }
      default:
        r.skipType(tag & 7);
        continue;
    }
    if (no > kind) kind = no;
  }
  done(r, end);
  if (kind > 0) v.kind = VALUE_KINDS[kind];
  return v;
}

/** A map entry (key 1: string, value 2: a message read by `read`); the last key and value win. */
function mapEntry<T>(r: Reader, read: (r: Reader) => T): [string, T] {
  let key = '';
  let val: T | undefined;
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1) key = r.string();
    else if (tag >>> 3 === 2) val = read(r);
    else r.skipType(tag & 7);
  }
  done(r, end);
  // protobufjs keeps null there and its toObject then fails: leave it to the general decoder.
  if (val === undefined) throw new Unsupported();
  return [key, val];
}

function struct(r: Reader, depth: number): ProtoStruct {
  if (depth > MAX_DEPTH) throw new Unsupported();
  let fields: Record<string, ProtoValue> | undefined;
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1) {
      r.skipType(tag & 7);
      continue;
    }
    const [k, v] = mapEntry(r, (rr) => value(rr, depth + 1));
    put((fields ??= {}), k, v);
  }
  done(r, end);
  return fields !== undefined ? { fields } : {};
}

/** A map<string, Struct> field's entry, added to `into`. */
function structEntry(r: Reader, into: Record<string, ProtoStruct>, depth: number): void {
  const [k, v] = mapEntry(r, (rr) => struct(rr, depth));
  put(into, k, v);
}

function metadata(r: Reader): NonNullable<ProcessingRequest['metadata_context']> {
  let filter: Record<string, ProtoStruct> | undefined;
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    const no = tag >>> 3;
    if (no === 1) structEntry(r, (filter ??= {}), 2);
    else if (no === 2)
      throw new Unsupported(); // typed_filter_metadata (Any)
    else r.skipType(tag & 7);
  }
  done(r, end);
  return filter !== undefined ? { filter_metadata: filter } : {};
}

function headerValue(r: Reader): HeaderValue {
  const h: Partial<HeaderValue> = {};
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        h.key = r.string();
        break;
      case 2:
        h.value = r.string();
        break;
      case 3:
        h.raw_value = r.bytes() as Buffer;
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  done(r, end);
  // `key` is absent only when Envoy sent an empty one (proto3 default), as toObject leaves it.
  return h as HeaderValue;
}

function headerMap(r: Reader): HeaderMap {
  let headers: HeaderValue[] | undefined;
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1) (headers ??= []).push(headerValue(r));
    else r.skipType(tag & 7);
  }
  done(r, end);
  return headers !== undefined ? { headers } : {};
}

function httpHeaders(r: Reader): HttpHeaders {
  const h: HttpHeaders = {};
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    const no = tag >>> 3;
    if (no === 1) h.headers = headerMap(r);
    else if (no === 3) h.end_of_stream = r.bool();
    else r.skipType(tag & 7);
  }
  done(r, end);
  return h;
}

function httpBody(r: Reader): HttpBody {
  const b: HttpBody = {};
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    const no = tag >>> 3;
    if (no === 1) b.body = r.bytes() as Buffer;
    else if (no === 2) b.end_of_stream = r.bool();
    else r.skipType(tag & 7);
  }
  done(r, end);
  return b;
}

function trailers(r: Reader): { trailers?: HeaderMap } {
  const t: { trailers?: HeaderMap } = {};
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1) t.trailers = headerMap(r);
    else r.skipType(tag & 7);
  }
  done(r, end);
  return t;
}

const bodyMode = (n: number): BodySendMode => BODY_MODES[n] ?? (n as unknown as BodySendMode);

function protocolConfig(r: Reader): ProtocolConfiguration {
  const p: ProtocolConfiguration = {};
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1:
        p.request_body_mode = bodyMode(r.int32());
        break;
      case 2:
        p.response_body_mode = bodyMode(r.int32());
        break;
      case 3:
        p.send_body_without_waiting_for_header_response = r.bool();
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  done(r, end);
  return p;
}

function request(r: Reader): ProcessingRequest {
  const m: Mutable<ProcessingRequest> = {};
  let kind = 0;
  while (r.pos < r.len) {
    const tag = r.uint32();
    const no = tag >>> 3;
    switch (no) {
      case 2:
        m.request_headers = httpHeaders(r);
        break;
      case 3:
        m.response_headers = httpHeaders(r);
        break;
      case 4:
        m.request_body = httpBody(r);
        break;
      case 5:
        m.response_body = httpBody(r);
        break;
      case 6:
        m.request_trailers = trailers(r);
        break;
      case 7:
        m.response_trailers = trailers(r);
        break;
      case 8:
        m.metadata_context = metadata(r);
        break;
      case 9:
        structEntry(r, (m.attributes ??= {}), 1);
        break;
      case 10:
        m.observability_mode = r.bool();
        break;
      case 11:
        m.protocol_config = protocolConfig(r);
        break;
      default:
        r.skipType(tag & 7);
    }
    if (no >= 2 && no <= 7 && no > kind) kind = no;
  }
  if (r.pos !== r.len) throw new Unsupported();
  if (kind > 0) m.request = REQUEST_KINDS[kind];
  return m;
}

/**
 * ProcessingRequest bytes → the object proto-loader gives, or undefined when the message is
 * one to leave to the general decoder (see the header; it also decides malformed input).
 */
export function decodeProcessingRequest(buf: Uint8Array): ProcessingRequest | undefined {
  try {
    return request(protobuf.Reader.create(buf));
  } catch {
    return undefined;
  }
}
