// src/extproc/wire-decode.ts and wire-encode.ts (the ext_proc codec kvfleet serves with)
// against the general path (proto-loader over proto/kvfleet/, fromObject + encode and
// toObject + decode): generated ProcessingRequests must decode to the same objects, generated
// ProcessingResponses must encode to the same bytes, and what the wire codec leaves out must
// reach the general codec (same answer, same errors).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadExtProcService, loadGeneralExtProcService } from '../../src/extproc/proto.js';
import type { ProcessingRequest, ProcessingResponse } from '../../src/extproc/proto-types.js';
import { decodeProcessingRequest } from '../../src/extproc/wire-decode.js';
import { encodeProcessingResponse } from '../../src/extproc/wire-encode.js';
import { CONTINUE, destinationMetadata, immediateError, setHeader, streamedBody } from '../../src/extproc/mutations.js';
import { kvError } from '../../src/errors.js';

const general = loadGeneralExtProcService()['Process'];
const served = loadExtProcService()['Process'];
if (general === undefined || served === undefined) throw new Error('no Process method');
const encodeRequest = (m: unknown): Buffer => general.requestSerialize(m);
const decodeGeneral = (b: Buffer): unknown => general.requestDeserialize(b);
const encodeGeneral = (m: unknown): Buffer => general.responseSerialize(m);

/** An object with these entries, `__proto__` as an own key (as JSON.parse and protobufjs make it). */
function objectOf<T>(entries: ReadonlyArray<readonly [string, T]>): Record<string, T> {
  const o: Record<string, T> = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

/** Any UTF-16 text, lone surrogates included (protobufjs writes those its own way under 40 units). */
const anyText = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength });
const key = fc.oneof(
  fc.constantFrom('kvfleet', 'envoy.lb', 'x-gateway-destination-endpoint', '__proto__', '', '0', 'κλειδί', 'a'.repeat(45), 'é'.repeat(50)),
  fc.string({ maxLength: 12 }),
  anyText(60),
);
const bytes = fc.uint8Array({ maxLength: 48 }).map((u) => Buffer.from(u));

/** google.protobuf.Value / Struct, nested a few levels; a Value may set several members (the oneof's last one wins). */
const { struct } = fc.letrec<{ value: Record<string, unknown>; struct: Record<string, unknown> }>((tie) => ({
  value: fc.record(
    {
      nullValue: fc.constantFrom<unknown>('NULL_VALUE', 0, 3),
      numberValue: fc.oneof(fc.double(), fc.integer(), fc.constantFrom(Number.NaN, -0, Infinity)),
      stringValue: fc.oneof(fc.string({ maxLength: 20 }), anyText(80)),
      boolValue: fc.boolean(),
      structValue: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.constant({}), tie('struct')),
      listValue: fc.record({ values: fc.array(tie('value'), { maxLength: 3 }) }, { requiredKeys: [] }),
    },
    { requiredKeys: [] },
  ),
  struct: fc.record({ fields: fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map(objectOf) }, { requiredKeys: [] }),
}));
const structMap = fc.array(fc.tuple(key, struct), { maxLength: 3 }).map(objectOf);

const headerValue = fc.record({ key: fc.string({ maxLength: 16 }), value: fc.string({ maxLength: 16 }), raw_value: bytes }, { requiredKeys: [] });
const headerMap = fc.record({ headers: fc.array(headerValue, { maxLength: 6 }) }, { requiredKeys: [] });
const httpHeaders = fc.record({ headers: headerMap, end_of_stream: fc.boolean() }, { requiredKeys: [] });
const httpBody = fc.record({ body: bytes, end_of_stream: fc.boolean() }, { requiredKeys: [] });
const trailers = fc.record({ trailers: headerMap }, { requiredKeys: [] });
const bodyMode = fc.constantFrom<unknown>('NONE', 'STREAMED', 'BUFFERED', 'BUFFERED_PARTIAL', 'FULL_DUPLEX_STREAMED', 'GRPC', 4, 9);

const request = fc.record(
  {
    request_headers: httpHeaders,
    response_headers: httpHeaders,
    request_body: httpBody,
    response_body: httpBody,
    request_trailers: trailers,
    response_trailers: trailers,
    metadata_context: fc.record({ filter_metadata: structMap }, { requiredKeys: [] }),
    attributes: structMap,
    observability_mode: fc.boolean(),
    protocol_config: fc.record(
      { request_body_mode: bodyMode, response_body_mode: bodyMode, send_body_without_waiting_for_header_response: fc.boolean() },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

const appendAction = fc.constantFrom<unknown>(
  'APPEND_IF_EXISTS_OR_ADD',
  'ADD_IF_ABSENT',
  'OVERWRITE_IF_EXISTS_OR_ADD',
  'OVERWRITE_IF_EXISTS',
  2,
  7,
  'NO_SUCH_ACTION',
);
const headerOption = fc.record(
  {
    header: fc.record({ key: fc.string({ maxLength: 16 }), value: fc.string({ maxLength: 8 }), raw_value: bytes }, { requiredKeys: [] }),
    append_action: appendAction,
    keep_empty_value: fc.boolean(),
  },
  { requiredKeys: [] },
);
const headerMutation = fc.record(
  { set_headers: fc.array(headerOption, { maxLength: 5 }), remove_headers: fc.array(fc.string({ maxLength: 12 }), { maxLength: 3 }) },
  { requiredKeys: [] },
);
const bodyMutation = fc.record(
  { body: bytes, clear_body: fc.boolean(), streamed_response: fc.record({ body: bytes, end_of_stream: fc.boolean() }, { requiredKeys: [] }) },
  { requiredKeys: [] },
);
const common = fc.record(
  {
    status: fc.constantFrom<unknown>('CONTINUE', 'CONTINUE_AND_REPLACE', 0, 1, 5),
    header_mutation: headerMutation,
    body_mutation: bodyMutation,
    clear_route_cache: fc.boolean(),
  },
  { requiredKeys: [] },
);
const withCommon = fc.record({ response: common }, { requiredKeys: [] });
const response = fc.record(
  {
    request_headers: withCommon,
    response_headers: withCommon,
    request_body: withCommon,
    response_body: withCommon,
    request_trailers: fc.record({ header_mutation: headerMutation }, { requiredKeys: [] }),
    response_trailers: fc.record({ header_mutation: headerMutation }, { requiredKeys: [] }),
    immediate_response: fc.record(
      {
        status: fc.record({ code: fc.constantFrom(200, 400, 404, 413, 429, 503, 0, 999, -7, 70000) }, { requiredKeys: [] }),
        headers: headerMutation,
        body: bytes,
        grpc_status: fc.record({ status: fc.nat(16) }, { requiredKeys: [] }),
        details: fc.oneof(fc.string({ maxLength: 24 }), anyText(50)),
      },
      { requiredKeys: [] },
    ),
    dynamic_metadata: struct,
    override_message_timeout: fc.record(
      { seconds: fc.integer({ min: -5, max: 1_000_000 }), nanos: fc.integer({ min: -999_999_999, max: 999_999_999 }) },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

/** A length-delimited field (numbers below 16, lengths below 2^14). */
function field(no: number, body: Uint8Array): Buffer {
  const len = body.length < 128 ? [body.length] : [(body.length & 0x7f) | 0x80, body.length >> 7];
  return Buffer.concat([Buffer.from([(no << 3) | 2, ...len]), body]);
}

/** A Struct `levels` deep: { k: { structValue: { k: … { stringValue: "x" } } } }. */
function deepStruct(levels: number): Buffer {
  let s = field(1, Buffer.concat([field(1, Buffer.from('k')), field(2, field(3, Buffer.from('x')))]));
  for (let i = 0; i < levels; i++) s = field(1, Buffer.concat([field(1, Buffer.from('k')), field(2, field(5, s))]));
  return s;
}

/** A field number no ext_proc message uses, as a varint and as bytes: skipped by both decoders. */
const UNKNOWN = Buffer.from([0xf8, 0x06, 0x2a, 0xfa, 0x06, 0x03, 0x61, 0x62, 0x63]);

describe('ext_proc wire codec', () => {
  it('serves Process with the wire codec, everything else as proto-loader loads it', () => {
    expect(served.path).toBe(general.path);
    expect(served.requestDeserialize).not.toBe(general.requestDeserialize);
    expect(served.responseSerialize).not.toBe(general.responseSerialize);
    expect([served.requestStream, served.responseStream]).toEqual([general.requestStream, general.responseStream]);
    const b = encodeRequest({ request_body: { body: Buffer.from('{}'), end_of_stream: true } });
    expect(served.requestSerialize({ request_body: { body: Buffer.from('{}'), end_of_stream: true } }).equals(b)).toBe(true);
    expect(served.responseDeserialize(encodeGeneral({ request_trailers: {} }))).toStrictEqual(
      general.responseDeserialize(encodeGeneral({ request_trailers: {} })),
    );
  });

  it('decodes generated ProcessingRequests to the objects proto-loader gives', () => {
    fc.assert(
      fc.property(request, fc.boolean(), (m, unknown) => {
        const b = unknown ? Buffer.concat([UNKNOWN, encodeRequest(m), UNKNOWN]) : encodeRequest(m);
        const wire = decodeProcessingRequest(b);
        expect(wire).toBeDefined();
        expect(wire).toStrictEqual(decodeGeneral(b));
        expect(served.requestDeserialize(b)).toStrictEqual(decodeGeneral(b));
      }),
      { numRuns: 500 },
    );
  });

  it('encodes generated ProcessingResponses to the bytes proto-loader writes', () => {
    fc.assert(
      fc.property(response, (m) => {
        const wire = encodeProcessingResponse(m as ProcessingResponse);
        expect(wire).toBeDefined();
        expect(wire?.equals(encodeGeneral(m))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('encodes the answers kvfleet builds to the same bytes', () => {
    const answers: ProcessingResponse[] = [
      { request_headers: { response: CONTINUE } },
      {
        request_headers: {
          response: { status: 'CONTINUE', clear_route_cache: true, header_mutation: { set_headers: [setHeader('x-kvfleet-cluster', 'pool-a')] } },
        },
        dynamic_metadata: destinationMetadata(['10.0.0.7:8000', '10.0.0.8:8000']),
      },
      streamedBody('request_body', Buffer.from('{"model":"m"}'), true),
      streamedBody('response_body', Buffer.alloc(0), false),
      immediateError(kvError('body_timeout', { seconds: 5 }), [setHeader('x-kvfleet-request-id', 'r-1')]),
      { override_message_timeout: { seconds: 7 } },
      { request_trailers: {} },
    ];
    for (const a of answers) expect(encodeProcessingResponse(a)?.equals(encodeGeneral(a))).toBe(true);
  });

  it('leaves typed metadata, deep Structs and missing map values to the general decoder', () => {
    const typed = Buffer.concat([encodeRequest({ request_headers: {} }), Buffer.from([0x42, 0x06, 0x12, 0x04, 0x0a, 0x00, 0x12, 0x00])]);
    expect(decodeProcessingRequest(typed)).toBeUndefined();
    expect(served.requestDeserialize(typed)).toStrictEqual(decodeGeneral(typed));
    // metadata_context → filter_metadata "ns" → Struct → Value → Struct … past protobufjs's limit (fromObject refuses to write it).
    const deepMsg = Buffer.from(field(8, field(1, Buffer.concat([field(1, Buffer.from('ns')), field(2, deepStruct(60))]))));
    expect(decodeProcessingRequest(deepMsg)).toBeUndefined();
    expect(() => served.requestDeserialize(deepMsg)).toThrow(/depth/);
    const shallow = Buffer.from(field(8, field(1, Buffer.concat([field(1, Buffer.from('ns')), field(2, deepStruct(40))]))));
    expect(decodeProcessingRequest(shallow)).toStrictEqual(decodeGeneral(shallow));
    // attributes entry with a key and no value (field 9: { key "a" })
    const noValue = Buffer.from([0x4a, 0x03, 0x0a, 0x01, 0x61]);
    expect(decodeProcessingRequest(noValue)).toBeUndefined();
  });

  it('throws on malformed bytes as the general decoder does', () => {
    for (const bad of [Buffer.from([0x12, 0x05, 0x0a]), Buffer.from([0x22, 0x80]), Buffer.from([0x12, 0x02, 0x0a, 0x05])]) {
      expect(decodeProcessingRequest(bad)).toBeUndefined();
      let err: unknown;
      try {
        decodeGeneral(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(Error);
      expect(() => served.requestDeserialize(bad)).toThrow((err as Error).message);
    }
  });

  it('leaves mode_override, statuses by name, base64 bodies and deep Structs to the general encoder', () => {
    const cases: unknown[] = [
      { mode_override: { request_body_mode: 'BUFFERED' } },
      { immediate_response: { status: { code: 'BadRequest' } } },
      { request_body: { response: { body_mutation: { body: 'e30=' } } } },
      { override_message_timeout: { seconds: '5' } },
    ];
    for (const c of cases) {
      expect(encodeProcessingResponse(c as ProcessingResponse)).toBeUndefined();
      expect(served.responseSerialize(c).equals(encodeGeneral(c))).toBe(true);
    }
    let deep: Record<string, unknown> = { stringValue: 'x' };
    for (let i = 0; i < 60; i++) deep = { structValue: { fields: { k: deep } } };
    expect(encodeProcessingResponse({ dynamic_metadata: { fields: { k: deep } } })).toBeUndefined();
  });

  it('reads what kvfleet reads from a real-shaped request', () => {
    const m = {
      request_headers: { headers: { headers: [{ key: ':path', raw_value: Buffer.from('/v1/chat/completions') }] }, end_of_stream: false },
      metadata_context: {
        filter_metadata: { 'envoy.lb.subset_hint': { fields: { 'x-gateway-destination-endpoint-subset': { stringValue: '10.0.0.7:8000' } } } },
      },
      protocol_config: { request_body_mode: 'FULL_DUPLEX_STREAMED' },
    };
    const got = decodeProcessingRequest(encodeRequest(m)) as ProcessingRequest;
    expect(got.request).toBe('request_headers');
    expect(got.request_headers?.headers?.headers?.[0]?.raw_value?.toString()).toBe('/v1/chat/completions');
    expect(got.metadata_context?.filter_metadata?.['envoy.lb.subset_hint']?.fields?.['x-gateway-destination-endpoint-subset']).toEqual({
      stringValue: '10.0.0.7:8000',
      kind: 'stringValue',
    });
    expect(got.protocol_config?.request_body_mode).toBe('FULL_DUPLEX_STREAMED');
  });
});
