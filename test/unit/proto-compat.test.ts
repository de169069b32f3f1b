// kvfleet's own ext_proc service subset (proto/kvfleet/) against the Envoy API copy in the
// pinned @grpc/grpc-js-xds: every message, field and enum value both define must agree
// on number, name, type, label and oneof (wire compatibility, and the shape proto-loader
// gives the objects); what only ours has is the newer Envoy API (1.40) listed here, and
// exercised through a real Envoy by test/e2e/duplex.e2e.test.ts; what only upstream has
// is listed as left out. protobufjs (a dev dependency, the version proto-loader uses) reads
// the oneofs, which proto-loader's descriptors do not show.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { ALS_PROTO, ALS_SERVICE } from '../../src/accesslog/proto.js';
import { EXT_PROC_PROTO, EXT_PROC_SERVICE, OWN_PROTO_DIR, UPSTREAM_EXT_PROC_PROTO, protoIncludeDirs, upstreamProtoDirs } from '../../src/extproc/proto.js';

interface FieldDesc {
  name: string;
  number: number;
  type: string;
  label: string;
  typeName: string;
}
interface EnumDesc {
  name: string;
  value: { name: string; number: number }[];
}
interface MessageDesc {
  name: string;
  field: FieldDesc[];
  enumType: EnumDesc[];
  nestedType: MessageDesc[];
}

const PACKAGES = ['envoy.service.ext_proc.v3.', 'envoy.extensions.filters.http.ext_proc.v3.'];

/** Newer than the pinned copy: Envoy ≥ 1.33's ext_proc API (protocol config, full-duplex bodies). */
const NEWER_MESSAGES = new Set(['envoy.service.ext_proc.v3.ProtocolConfiguration', 'envoy.service.ext_proc.v3.StreamedBodyResponse']);
const NEWER_FIELDS = new Set(['ProcessingRequest.protocol_config', 'BodyMutation.streamed_response']);
const NEWER_ENUM_VALUES = new Set(['BodySendMode.FULL_DUPLEX_STREAMED', 'BodySendMode.GRPC']);
/** In upstream, deliberately not in ours: deprecated or not implemented by Envoy. */
const LEFT_OUT_FIELDS = new Set(['HttpHeaders.attributes', 'CommonResponse.trailers']);

function messages(file: string, includeDirs: string[], packages: readonly string[] = PACKAGES): Map<string, MessageDesc> {
  const def = protoLoader.loadSync(file, { keepCase: true, includeDirs });
  const out = new Map<string, MessageDesc>();
  for (const [name, v] of Object.entries(def)) {
    if (!packages.some((p) => name.startsWith(p))) continue;
    if (!('type' in v) || (v as { format?: string }).format !== 'Protocol Buffer 3 DescriptorProto') continue;
    out.set(name, v.type as unknown as MessageDesc);
  }
  return out;
}

const lastSegment = (typeName: string) => typeName.split('.').pop() ?? '';

function loadRoot(file: string, dirs: string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => dirs.map((d) => join(d, target)).find((p) => existsSync(p)) ?? target;
  root.loadSync(file, { keepCase: true });
  return root;
}

describe('proto/kvfleet against the pinned Envoy API', () => {
  const ours = messages(EXT_PROC_PROTO, protoIncludeDirs());
  const upstream = messages(UPSTREAM_EXT_PROC_PROTO, upstreamProtoDirs());

  it('loads the service under its upstream name', () => {
    const def = protoLoader.loadSync(EXT_PROC_PROTO, { keepCase: true, includeDirs: protoIncludeDirs() });
    const svc = def[EXT_PROC_SERVICE] as unknown as Record<string, { path: string; requestStream: boolean; responseStream: boolean }>;
    expect(svc.Process?.path).toBe('/envoy.service.ext_proc.v3.ExternalProcessor/Process');
    expect(svc.Process?.requestStream).toBe(true);
    expect(svc.Process?.responseStream).toBe(true);
  });

  it('every message of ours exists upstream, or is one of the newer ones', () => {
    expect(ours.size).toBeGreaterThan(10);
    const missing = [...ours.keys()].filter((n) => !upstream.has(n));
    expect(missing.sort()).toEqual([...NEWER_MESSAGES].sort());
  });

  it('fields agree on number, name, type and label; only the listed ones differ', () => {
    const newer: string[] = [];
    const leftOut: string[] = [];
    for (const [name, mine] of ours) {
      const theirs = upstream.get(name);
      if (theirs === undefined) continue;
      const short = name.split('.').pop() as string;
      const byNumber = new Map(theirs.field.map((f) => [f.number, f]));
      for (const f of mine.field) {
        const u = byNumber.get(f.number);
        if (u === undefined) {
          newer.push(`${short}.${f.name}`);
          continue;
        }
        expect({ at: `${short}.${f.number}`, name: f.name, type: f.type, label: f.label, typeName: lastSegment(f.typeName) }).toEqual({
          at: `${short}.${f.number}`,
          name: u.name,
          type: u.type,
          label: u.label,
          typeName: lastSegment(u.typeName),
        });
      }
      const mineNumbers = new Set(mine.field.map((f) => f.number));
      for (const u of theirs.field) if (!mineNumbers.has(u.number)) leftOut.push(`${short}.${u.name}`);
    }
    expect(newer.sort()).toEqual([...NEWER_FIELDS].sort());
    expect(leftOut.sort()).toEqual([...LEFT_OUT_FIELDS].sort());
  });

  it('enum values agree; only the newer body modes are added', () => {
    const added: string[] = [];
    for (const [name, mine] of ours) {
      const theirs = upstream.get(name);
      if (theirs === undefined) continue;
      for (const e of mine.enumType) {
        const u = theirs.enumType.find((x) => x.name === e.name);
        expect(u, `${name}.${e.name}`).toBeDefined();
        const uByNumber = new Map((u as EnumDesc).value.map((v) => [v.number, v.name]));
        for (const v of e.value) {
          const un = uByNumber.get(v.number);
          if (un === undefined) added.push(`${e.name}.${v.name}`);
          else expect(`${e.name}.${v.number}=${v.name}`).toBe(`${e.name}.${v.number}=${un}`);
        }
        // nothing upstream is dropped
        expect((u as EnumDesc).value.every((v) => e.value.some((x) => x.number === v.number))).toBe(true);
      }
    }
    expect(added.sort()).toEqual([...NEWER_ENUM_VALUES].sort());
  });

  it('fields sit in the same oneof as upstream (proto-loader presents a oneof as one property)', () => {
    const mine = loadRoot(EXT_PROC_PROTO, protoIncludeDirs());
    const theirs = loadRoot(UPSTREAM_EXT_PROC_PROTO, upstreamProtoDirs());
    let compared = 0;
    for (const name of ours.keys()) {
      if (!upstream.has(name)) continue;
      const a = mine.lookupType(name);
      const b = theirs.lookupType(name);
      for (const f of a.fieldsArray) {
        const u = b.fields[f.name];
        if (u === undefined) continue;
        expect(`${name}.${f.name} in ${f.partOf?.name ?? '-'}`).toBe(`${name}.${f.name} in ${u.partOf?.name ?? '-'}`);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(40);
  });
});

// The access log service subset (proto/kvfleet/als/): only the fields kvfleet reads, each
// identical to upstream (number, name, type, label, oneof), the service under its upstream name.
describe('proto/kvfleet/als against the pinned Envoy API', () => {
  const ALS_PACKAGES = ['envoy.service.accesslog.v3.', 'envoy.data.accesslog.v3.', 'envoy.config.core.v3.'];
  const ours = messages(ALS_PROTO, [OWN_PROTO_DIR, ...upstreamProtoDirs()], ALS_PACKAGES);
  const upstream = messages('envoy/service/accesslog/v3/als.proto', upstreamProtoDirs(), ALS_PACKAGES);

  it('loads the service under its upstream name and method path', () => {
    const def = protoLoader.loadSync(ALS_PROTO, { keepCase: true, includeDirs: [OWN_PROTO_DIR, ...upstreamProtoDirs()] });
    const svc = def[ALS_SERVICE] as unknown as Record<string, { path: string; requestStream: boolean; responseStream: boolean }>;
    expect(svc.StreamAccessLogs?.path).toBe('/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs');
    expect(svc.StreamAccessLogs?.requestStream).toBe(true);
    expect(svc.StreamAccessLogs?.responseStream).toBe(false);
  });

  it('every field of ours is the upstream field of that number, in the same oneof', () => {
    const mineRoot = loadRoot(ALS_PROTO, [OWN_PROTO_DIR, ...upstreamProtoDirs()]);
    const theirsRoot = loadRoot('envoy/service/accesslog/v3/als.proto', upstreamProtoDirs());
    let compared = 0;
    for (const [name, mine] of ours) {
      const theirs = upstream.get(name);
      expect(theirs, name).toBeDefined();
      const byNumber = new Map((theirs as MessageDesc).field.map((f) => [f.number, f]));
      for (const f of mine.field) {
        const u = byNumber.get(f.number);
        expect(u, `${name}.${f.name}`).toBeDefined();
        expect({ name: f.name, type: f.type, label: f.label, typeName: lastSegment(f.typeName) }).toEqual({
          name: u?.name,
          type: u?.type,
          label: u?.label,
          typeName: lastSegment(u?.typeName ?? ''),
        });
        const a = mineRoot.lookupType(name).fields[f.name];
        const b = theirsRoot.lookupType(name).fields[f.name];
        expect(`${name}.${f.name} in ${a?.partOf?.name ?? '-'}`).toBe(`${name}.${f.name} in ${b?.partOf?.name ?? '-'}`);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(15);
  });

  it('the access log types agree value for value', () => {
    const mine = protoLoader.loadSync(ALS_PROTO, { keepCase: true, includeDirs: [OWN_PROTO_DIR, ...upstreamProtoDirs()] });
    const theirs = protoLoader.loadSync('envoy/service/accesslog/v3/als.proto', { keepCase: true, includeDirs: upstreamProtoDirs() });
    const values = (d: protoLoader.PackageDefinition) =>
      (d['envoy.data.accesslog.v3.AccessLogType'] as unknown as { type: EnumDesc }).type.value.map((v) => `${v.number}=${v.name}`);
    expect(values(mine)).toEqual(values(theirs));
  });
});
