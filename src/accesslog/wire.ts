// A decoder for Envoy's StreamAccessLogsMessage that reads only what entry.ts uses, straight
// off the wire (protobufjs's Reader, the library proto-loader decodes with), and skips the
// rest. The general path (proto-loader over proto/kvfleet/als/) decodes every explanation
// field kvfleet wrote into its metadata namespace, as google.protobuf.Struct values, then
// copies the whole tree again into plain objects (toObject): about two entries per request,
// ≈ 5 % of kvfleet's CPU in the hot-path profile (src/tools/bench/hotpath-profile.ts).
// It gives the same HttpLogEntry shape proto-loader gives for every field entry.ts reads
// (test/unit/access-log-wire.test.ts compares the two over generated messages):
//   filter_metadata      only kvfleet.key and envoy.lb.x-gateway-destination-endpoint; map
//                        keys are compared as bytes, values decoded only for those two
//   upstream_cluster     not read (entry.ts does not use it)
//   a repeated singular  the last occurrence wins (as protobufjs decodes)
//   enums                by name (access_log_type), numbers without a name stay numbers
// Field numbers: proto/kvfleet/als/*.proto (the Envoy API's).
import protobuf from 'protobufjs/minimal.js';
import type { HttpLogEntry, StreamAccessLogsMessage } from './entry.js';

type Reader = protobuf.Reader;
type Common = NonNullable<HttpLogEntry['common_properties']>;
type Duration = NonNullable<Common['duration']>;
type Struct = NonNullable<NonNullable<Common['metadata']>['filter_metadata']>[string];
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** envoy.data.accesslog.v3.AccessLogType, by number. */
const LOG_TYPES = [
  'NotSet',
  'TcpUpstreamConnected',
  'TcpPeriodic',
  'TcpConnectionEnd',
  'DownstreamStart',
  'DownstreamPeriodic',
  'DownstreamEnd',
  'UpstreamPoolReady',
  'UpstreamPeriodic',
  'UpstreamEnd',
  'DownstreamTunnelSuccessfullyEstablished',
  'UdpTunnelUpstreamConnected',
  'UdpPeriodic',
  'UdpSessionEnd',
];

/** A wanted map key, as text and as its UTF-8 bytes. */
interface Name {
  readonly text: string;
  readonly bytes: Buffer;
}
const name = (text: string): Name => ({ text, bytes: Buffer.from(text, 'utf8') });

/** The namespaces read, each with the one field read from it (entry.ts). */
const NAMESPACES: ReadonlyArray<readonly [Name, Name]> = [
  [name('kvfleet'), name('key')],
  [name('envoy.lb'), name('x-gateway-destination-endpoint')],
];

const LEN = 2;

/** End position of the length-delimited message starting at the reader's position. */
const endOf = (r: Reader): number => {
  const len = r.uint32();
  return r.pos + len;
};

/** Reads a length-delimited field's bytes; returns whether they equal `want`. */
function bytesAre(r: Reader, want: Buffer): boolean {
  const len = r.uint32();
  const at = r.pos;
  r.pos += len;
  if (r.pos > r.len) throw new RangeError('index out of range');
  if (len !== want.length) return false;
  for (let i = 0; i < len; i++) if (r.buf[at + i] !== want[i]) return false;
  return true;
}

function int64(r: Reader): number {
  // A Long when the `long` package is installed; converted as protobufjs's toObject does for longs: Number.
  const v: protobuf.Long | number = r.int64();
  return typeof v === 'number' ? v : new protobuf.util.LongBits(v.low >>> 0, v.high >>> 0).toNumber(false);
}

function duration(r: Reader): Duration {
  const d: { seconds?: number; nanos?: number } = {};
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1) d.seconds = int64(r);
    else if (tag >>> 3 === 2) d.nanos = r.int32();
    else r.skipType(tag & 7);
  }
  return d;
}

/** google.protobuf.Value at `at`: {stringValue} with its string_value (the last on the wire), or {}. */
function valueAt(r: Reader, at: number): { stringValue?: string } {
  const back = r.pos;
  r.pos = at;
  const end = endOf(r);
  let s: string | undefined;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 === 3) s = r.string();
    else r.skipType(tag & 7);
  }
  r.pos = back;
  return s === undefined ? {} : { stringValue: s };
}

/**
 * A map entry (key 1, value 2) whose key is compared with `names` as bytes: the index of the
 * name it equals (-1: none) and where its value starts (-1: absent). The last key and value
 * on the wire win, as protobufjs decodes.
 */
function mapEntry(r: Reader, names: readonly Name[]): { match: number; value: number } {
  const end = endOf(r);
  let match = -1;
  let value = -1;
  while (r.pos < end) {
    const tag = r.uint32();
    const no = tag >>> 3;
    if (no === 1 && (tag & 7) === LEN) {
      match = -1;
      const at = r.pos;
      for (let i = 0; i < names.length && match === -1; i++) {
        r.pos = at;
        if (bytesAre(r, (names[i] as Name).bytes)) match = i;
      }
      if (match === -1) {
        r.pos = at;
        r.skipType(LEN);
      }
    } else if (no === 2) {
      value = r.pos;
      r.skipType(tag & 7);
    } else r.skipType(tag & 7);
  }
  return { match, value };
}

/** A Struct with only `field` decoded (the map's last entry of that key wins). */
function structField(r: Reader, field: Name): Struct {
  const fields: NonNullable<Struct['fields']> = {};
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1) {
      r.skipType(tag & 7);
      continue;
    }
    const e = mapEntry(r, [field]);
    if (e.match === 0) fields[field.text] = e.value === -1 ? {} : valueAt(r, e.value);
  }
  return { fields };
}

const NAMESPACE_NAMES = NAMESPACES.map(([ns]) => ns);

function metadata(r: Reader): NonNullable<Common['metadata']> {
  const filter: Record<string, Struct> = {};
  let any = false;
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1) {
      r.skipType(tag & 7);
      continue;
    }
    any = true;
    const e = mapEntry(r, NAMESPACE_NAMES);
    const wanted = NAMESPACES[e.match];
    if (wanted === undefined) continue;
    if (e.value === -1) filter[wanted[0].text] = {};
    else {
      const back = r.pos;
      r.pos = e.value;
      filter[wanted[0].text] = structField(r, wanted[1]);
      r.pos = back;
    }
  }
  return any ? { filter_metadata: filter } : {};
}

function address(r: Reader): NonNullable<Common['upstream_remote_address']> {
  const a: Mutable<NonNullable<Common['upstream_remote_address']>> = {};
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1) {
      r.skipType(tag & 7);
      continue;
    }
    const sa: { address?: string; port_value?: number } = {};
    const send = endOf(r);
    while (r.pos < send) {
      const t = r.uint32();
      if (t >>> 3 === 2) sa.address = r.string();
      else if (t >>> 3 === 3) sa.port_value = r.uint32();
      else r.skipType(t & 7);
    }
    a.socket_address = sa;
  }
  return a;
}

function common(r: Reader): Common {
  const c: Mutable<Common> = {};
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 9:
        c.time_to_first_upstream_rx_byte = duration(r);
        break;
      case 12:
        c.time_to_last_downstream_tx_byte = duration(r);
        break;
      case 13:
        c.upstream_remote_address = address(r);
        break;
      case 17:
        c.metadata = metadata(r);
        break;
      case 23:
        c.duration = duration(r);
        break;
      case 24:
        c.upstream_request_attempt_count = r.uint32();
        break;
      case 33: {
        const t = r.int32();
        c.access_log_type = LOG_TYPES[t] ?? (t as unknown as string);
        break;
      }
      default:
        r.skipType(tag & 7);
    }
  }
  return c;
}

function response(r: Reader): NonNullable<HttpLogEntry['response']> {
  const out: { response_code?: { value?: number }; response_headers?: Record<string, string>; response_code_details?: string } = {};
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    const no = tag >>> 3;
    if (no === 1) {
      const code: { value?: number } = {};
      const cend = endOf(r);
      while (r.pos < cend) {
        const t = r.uint32();
        if (t >>> 3 === 1) code.value = r.uint32();
        else r.skipType(t & 7);
      }
      out.response_code = code;
    } else if (no === 4) {
      let key = '';
      let value = '';
      const eend = endOf(r);
      while (r.pos < eend) {
        const t = r.uint32();
        if (t >>> 3 === 1) key = r.string();
        else if (t >>> 3 === 2) value = r.string();
        else r.skipType(t & 7);
      }
      (out.response_headers ??= {})[key] = value;
    } else if (no === 6) out.response_code_details = r.string();
    else r.skipType(tag & 7);
  }
  return out;
}

function request(r: Reader): { request_id?: string } {
  const req: { request_id?: string } = {};
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag >>> 3 === 9) req.request_id = r.string();
    else r.skipType(tag & 7);
  }
  return req;
}

function entry(r: Reader): HttpLogEntry {
  const e: Mutable<HttpLogEntry> = {};
  const end = endOf(r);
  while (r.pos < end) {
    const tag = r.uint32();
    const no = tag >>> 3;
    if (no === 1) e.common_properties = common(r);
    else if (no === 3) e.request = request(r);
    else if (no === 4) e.response = response(r);
    else r.skipType(tag & 7);
  }
  return e;
}

/** StreamAccessLogsMessage bytes → the fields entry.ts reads (throws on malformed bytes, like protobufjs). */
export function decodeAccessLogs(buf: Uint8Array): StreamAccessLogsMessage {
  const r = protobuf.Reader.create(buf);
  let http: { log_entry?: HttpLogEntry[] } | undefined;
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 !== 2) {
      r.skipType(tag & 7);
      continue;
    }
    const entries: HttpLogEntry[] = [];
    const end = endOf(r);
    while (r.pos < end) {
      const t = r.uint32();
      if (t >>> 3 === 1) entries.push(entry(r));
      else r.skipType(t & 7);
    }
    http = entries.length > 0 ? { log_entry: entries } : {};
  }
  return http !== undefined ? { http_logs: http } : {};
}
