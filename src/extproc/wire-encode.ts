// An encoder for ext_proc's ProcessingResponse straight from kvfleet's plain objects
// (proto-types.ts) onto the wire: the walk below runs twice, sizing then writing into one
// Buffer (wire-writer.ts). The general path (fromObject, then encode with protobufjs's Writer)
// first copies the whole answer into protobufjs message instances, then queues an operation per
// field; this writes the same bytes without either: fields in field
// number order, every field that is set (not undefined or null) written even when it holds
// its default, map entries in key order — the bytes protobufjs writes
// (test/unit/ext-proc-wire.test.ts compares the two byte for byte over generated answers).
// As fromObject does, it reads only the fields the schema knows, converts scalars the same
// way (String, Boolean, Number, `| 0`, `>>> 0`) and leaves out an enum given by an unknown
// name. What it leaves to the general encoder (encodeProcessingResponse returns undefined):
// mode_override, an HTTP status given by name, bytes given as base64 text, Struct nesting
// past protobufjs's recursion limit, and anything that is not of the expected shape (the
// general encoder then throws its own error, as before).
// Field numbers: proto/kvfleet/external_processor.proto, the Envoy API's config/core/v3/base.proto
// (HeaderValueOption, HeaderValue), google/protobuf/struct.proto and duration.proto.
import { DirectWriter, Sizer, type ProtoSink } from './wire-writer.js';
import type {
  BodyMutation,
  CommonResponse,
  HeaderMutation,
  HeaderValueOption,
  ImmediateResponse,
  ProcessingResponse,
  ProtoStruct,
  ProtoValue,
} from './proto-types.js';

type Writer = ProtoSink;

/** Thrown inside to hand the answer to the general encoder. */
class Unsupported extends Error {}

/** protobufjs's nesting limit (util.recursionLimit): deeper Structs are the general encoder's. */
const MAX_DEPTH = 100;

/** Enum names → numbers (ext_proc CommonResponse.ResponseStatus, HeaderValueOption.HeaderAppendAction). */
const RESPONSE_STATUS: Readonly<Record<string, number>> = { CONTINUE: 0, CONTINUE_AND_REPLACE: 1 };
const APPEND_ACTION: Readonly<Record<string, number>> = {
  APPEND_IF_EXISTS_OR_ADD: 0,
  ADD_IF_ABSENT: 1,
  OVERWRITE_IF_EXISTS_OR_ADD: 2,
  OVERWRITE_IF_EXISTS: 3,
};

/** Tag of field `no` with wire type `wt`. */
const tag = (no: number, wt: number): number => ((no << 3) | wt) >>> 0;
const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;

const isSet = (v: unknown): boolean => v !== undefined && v !== null;

/** A sub-message: the object is checked like fromObject checks it (an object, else the general encoder's TypeError). */
function message<T>(w: Writer, no: number, v: T | undefined | null, write: (w: Writer, v: T) => void): void {
  if (v === undefined || v === null) return;
  if (typeof v !== 'object') throw new Unsupported();
  write(w.uint32(tag(no, LEN)).fork(), v);
  w.ldelim();
}

/** An enum field: a number as is, a known name as its number, anything else left out (fromObject). */
function enumField(w: Writer, no: number, v: unknown, names: Readonly<Record<string, number>>): void {
  const n = typeof v === 'number' ? v : typeof v === 'string' && Object.hasOwn(names, v) ? names[v] : undefined;
  if (n !== undefined) w.uint32(tag(no, VARINT)).int32(n);
}

function bytesField(w: Writer, no: number, v: unknown): void {
  if (!isSet(v)) return;
  if (!(v instanceof Uint8Array)) throw new Unsupported();
  w.uint32(tag(no, LEN)).bytes(v);
}

function stringField(w: Writer, no: number, v: unknown): void {
  if (isSet(v)) w.uint32(tag(no, LEN)).string(String(v));
}

function boolField(w: Writer, no: number, v: unknown): void {
  if (isSet(v)) w.uint32(tag(no, VARINT)).bool(Boolean(v));
}

function value(w: Writer, v: ProtoValue, depth: number): void {
  if (depth > MAX_DEPTH) throw new Unsupported();
  enumField(w, 1, v.nullValue, { NULL_VALUE: 0 });
  if (isSet(v.numberValue)) w.uint32(tag(2, FIXED64)).double(Number(v.numberValue));
  stringField(w, 3, v.stringValue);
  boolField(w, 4, v.boolValue);
  message(w, 5, v.structValue, (ww, s) => struct(ww, s, depth + 1));
  message(w, 6, v.listValue, (ww, l) => {
    const values = l.values;
    if (!isSet(values)) return;
    if (!Array.isArray(values)) throw new Unsupported();
    for (const x of values) message(ww, 1, x, (www, xv) => value(www, xv, depth + 2));
  });
}

function struct(w: Writer, s: ProtoStruct, depth: number): void {
  if (depth > MAX_DEPTH) throw new Unsupported();
  const fields = s.fields;
  if (!isSet(fields)) return;
  if (typeof fields !== 'object') throw new Unsupported();
  for (const k of Object.keys(fields)) {
    const v = fields[k];
    if (typeof v !== 'object' || v === null) throw new Unsupported();
    w.uint32(tag(1, LEN)).fork().uint32(tag(1, LEN)).string(k);
    message(w, 2, v, (ww, x) => value(ww, x, depth + 1));
    w.ldelim();
  }
}

function headerValueOption(w: Writer, o: HeaderValueOption): void {
  message(w, 1, o.header, (ww, h) => {
    const hv = h as { key?: unknown; value?: unknown; raw_value?: unknown };
    stringField(ww, 1, hv.key);
    stringField(ww, 2, hv.value);
    bytesField(ww, 3, hv.raw_value);
  });
  // append (google.protobuf.BoolValue, deprecated): kvfleet never sets it.
  if (isSet((o as { append?: unknown }).append)) throw new Unsupported();
  enumField(w, 3, o.append_action, APPEND_ACTION);
  boolField(w, 4, (o as { keep_empty_value?: unknown }).keep_empty_value);
}

function headerMutation(w: Writer, m: HeaderMutation): void {
  const set = m.set_headers;
  if (isSet(set)) {
    if (!Array.isArray(set)) throw new Unsupported();
    for (const o of set) message(w, 1, o, headerValueOption);
  }
  const remove = m.remove_headers;
  if (isSet(remove)) {
    if (!Array.isArray(remove)) throw new Unsupported();
    for (const k of remove) w.uint32(tag(2, LEN)).string(String(k));
  }
}

function bodyMutation(w: Writer, b: BodyMutation): void {
  bytesField(w, 1, b.body);
  boolField(w, 2, b.clear_body);
  message(w, 3, b.streamed_response, (ww, s) => {
    bytesField(ww, 1, s.body);
    boolField(ww, 2, s.end_of_stream);
  });
}

function commonResponse(w: Writer, c: CommonResponse): void {
  enumField(w, 1, c.status, RESPONSE_STATUS);
  message(w, 2, c.header_mutation, headerMutation);
  message(w, 3, c.body_mutation, bodyMutation);
  boolField(w, 5, c.clear_route_cache);
}

/** HeadersResponse and BodyResponse: { response: CommonResponse }. */
function withCommon(w: Writer, r: { response?: CommonResponse }): void {
  message(w, 1, r.response, commonResponse);
}

function trailersResponse(w: Writer, t: { header_mutation?: HeaderMutation }): void {
  message(w, 1, t.header_mutation, headerMutation);
}

function immediate(w: Writer, i: ImmediateResponse): void {
  message(w, 1, i.status, (ww, s) => {
    const code: unknown = s.code;
    if (typeof code === 'number') ww.uint32(tag(1, VARINT)).int32(code);
    else if (isSet(code)) throw new Unsupported(); // by name: the general encoder knows the names
  });
  message(w, 2, i.headers, headerMutation);
  bytesField(w, 3, i.body);
  message(w, 4, (i as { grpc_status?: { status?: unknown } }).grpc_status, (ww, g) => {
    if (isSet(g.status)) ww.uint32(tag(1, VARINT)).uint32(Number(g.status) >>> 0);
  });
  stringField(w, 5, i.details);
}

function response(w: Writer, r: ProcessingResponse): void {
  message(w, 1, r.request_headers, withCommon);
  message(w, 2, r.response_headers, withCommon);
  message(w, 3, r.request_body, withCommon);
  message(w, 4, r.response_body, withCommon);
  message(w, 5, r.request_trailers, trailersResponse);
  message(w, 6, r.response_trailers, trailersResponse);
  message(w, 7, r.immediate_response, immediate);
  message(w, 8, r.dynamic_metadata, (ww, s) => struct(ww, s, 1));
  if (isSet((r as { mode_override?: unknown }).mode_override)) throw new Unsupported();
  message(w, 10, r.override_message_timeout, (ww, d) => {
    // int64 from a whole number; anything else (text, a Long, a fraction, ±Infinity) is the general encoder's.
    const seconds: unknown = d.seconds;
    if (Number.isSafeInteger(seconds)) ww.uint32(tag(1, VARINT)).int64(seconds as number);
    else if (isSet(seconds)) throw new Unsupported();
    const nanos: unknown = d.nanos;
    if (typeof nanos === 'number') ww.uint32(tag(2, VARINT)).int32(nanos | 0);
    else if (isSet(nanos)) throw new Unsupported();
  });
}

/** ProcessingResponse → its bytes, or undefined when the general encoder must write it (see the header). */
export function encodeProcessingResponse(r: ProcessingResponse): Buffer | undefined {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return undefined;
  try {
    const sizer = new Sizer();
    response(sizer, r);
    const w = new DirectWriter(sizer);
    response(w, r);
    return w.finish();
  } catch {
    return undefined;
  }
}
