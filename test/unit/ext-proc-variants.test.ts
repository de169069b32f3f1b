// The ext_proc filter settings of every shipped variant, rendered as Envoy would run them and
// compared with envoy/envoy.yaml (the reference), so the variants cannot drift apart:
//   envoy.yaml, envoy.docker.yaml   the filter's typed_config itself;
//   Istio                            the EnvoyFilter's HTTP_FILTER patch value (what Istio inserts);
//   Envoy Gateway                    the EnvoyExtensionPolicy's extProc, translated field by
//                                    field as Envoy Gateway's xDS translator does it;
//   InferencePool                    what the manifest says (failureMode) plus what the
//                                    Endpoint Picker Protocol makes every gateway configure
//                                    (full-duplex bodies by design: the body-mode keys that
//                                    src/tools/envoy/processing-mode.ts changes).
// A setting a variant's API cannot express is an explicit, reasoned entry of KNOWN below,
// never a silent skip; an entry for a setting the variant does express fails the test.
// Which Service the filter calls is checked in test/unit/k8s-manifests.test.ts.
import { describe, expect, it } from 'vitest';
import { setExtProcMode } from '../../src/tools/envoy/processing-mode.js';
import { parseGoDuration } from '../helpers/k8s-schemas.js';
import { arr, findObject, isObj, loadYaml, obj, type Obj } from '../helpers/manifests.js';

/** The settings compared, as paths into ExternalProcessor (snake_case, as in Envoy YAML). */
const SETTINGS = [
  'processing_mode.request_header_mode',
  'processing_mode.request_body_mode',
  'processing_mode.request_trailer_mode',
  'processing_mode.response_header_mode',
  'processing_mode.response_body_mode',
  'processing_mode.response_trailer_mode',
  'message_timeout',
  'failure_mode_allow',
  'metadata_options.receiving_namespaces',
  'metadata_options.forwarding_namespaces',
  'request_attributes',
  'response_attributes',
  'allow_mode_override',
  'mutation_rules',
] as const;
type Setting = (typeof SETTINGS)[number];
type Rendered = Partial<Record<Setting, unknown>>;

/** Reference keys that say how to reach kvfleet rather than how to process (compared elsewhere). */
const TRANSPORT = ['@type', 'grpc_service'];

// ── Envoy's ExternalProcessor, with Envoy's defaults for absent fields ────────────
const PM_DEFAULTS: Record<string, string> = {
  request_header_mode: 'SEND',
  request_body_mode: 'NONE',
  request_trailer_mode: 'SKIP',
  response_header_mode: 'SEND',
  response_body_mode: 'NONE',
  response_trailer_mode: 'SKIP',
};

/** Duration → milliseconds ("1.5s" in Envoy YAML, "1500ms" in Envoy Gateway: the same). */
function ms(d: unknown): number {
  const ns = parseGoDuration(String(d));
  if (ns === undefined) throw new Error(`not a duration: ${String(d)}`);
  return ns / 1e6;
}
const sorted = (v: unknown): string[] => (Array.isArray(v) ? v.map(String).sort() : []);

function renderEnvoy(tc: Obj): Rendered {
  const pm = isObj(tc['processing_mode']) ? tc['processing_mode'] : {};
  const md = isObj(tc['metadata_options']) ? tc['metadata_options'] : {};
  const ns = (k: string) => sorted(isObj(md[k]) ? md[k]['untyped'] : undefined);
  const mode = (k: string) => {
    const v = pm[k];
    return v === undefined || v === 'DEFAULT' ? PM_DEFAULTS[k] : v;
  };
  return {
    'processing_mode.request_header_mode': mode('request_header_mode'),
    'processing_mode.request_body_mode': mode('request_body_mode'),
    'processing_mode.request_trailer_mode': mode('request_trailer_mode'),
    'processing_mode.response_header_mode': mode('response_header_mode'),
    'processing_mode.response_body_mode': mode('response_body_mode'),
    'processing_mode.response_trailer_mode': mode('response_trailer_mode'),
    message_timeout: ms(tc['message_timeout'] ?? '0.2s'),
    failure_mode_allow: tc['failure_mode_allow'] ?? false,
    'metadata_options.receiving_namespaces': ns('receiving_namespaces'),
    'metadata_options.forwarding_namespaces': ns('forwarding_namespaces'),
    request_attributes: sorted(tc['request_attributes']),
    response_attributes: sorted(tc['response_attributes']),
    allow_mode_override: tc['allow_mode_override'] ?? false,
    mutation_rules: tc['mutation_rules'] ?? {},
  };
}

// ── Envoy Gateway's EnvoyExtensionPolicy extProc → ExternalProcessor ──────────────
// As Envoy Gateway's translator builds the filter (internal/gatewayapi + internal/xds/
// translator/extproc.go): processingMode.request present → request headers SEND (else SKIP),
// its body → request_body_mode (absent → NONE); the same for response; trailers SKIP unless
// that direction's body is FullDuplexStreamed; failOpen → failure_mode_allow; messageTimeout →
// message_timeout; request/response attributes; metadata.accessibleNamespaces → forwarding,
// metadata.writableNamespaces → receiving; allowModeOverride. No mutation rules field exists.
const EG_BODY: Record<string, string> = {
  Buffered: 'BUFFERED',
  BufferedPartial: 'BUFFERED_PARTIAL',
  Streamed: 'STREAMED',
  FullDuplexStreamed: 'FULL_DUPLEX_STREAMED',
};

function renderEnvoyGateway(ep: Obj): Rendered {
  const pm = isObj(ep['processingMode']) ? ep['processingMode'] : undefined;
  const req = isObj(pm?.['request']) ? pm['request'] : undefined;
  const res = isObj(pm?.['response']) ? pm['response'] : undefined;
  const body = (dir: Obj | undefined) => (typeof dir?.['body'] === 'string' ? (EG_BODY[dir['body']] ?? 'NONE') : 'NONE');
  const md = isObj(ep['metadata']) ? ep['metadata'] : {};
  return {
    'processing_mode.request_header_mode': req ? 'SEND' : 'SKIP',
    'processing_mode.request_body_mode': body(req),
    'processing_mode.request_trailer_mode': body(req) === 'FULL_DUPLEX_STREAMED' ? 'SEND' : 'SKIP',
    'processing_mode.response_header_mode': res ? 'SEND' : 'SKIP',
    'processing_mode.response_body_mode': body(res),
    'processing_mode.response_trailer_mode': body(res) === 'FULL_DUPLEX_STREAMED' ? 'SEND' : 'SKIP',
    message_timeout: ms(ep['messageTimeout'] ?? '200ms'),
    failure_mode_allow: ep['failOpen'] ?? false,
    'metadata_options.receiving_namespaces': sorted(md['writableNamespaces']),
    'metadata_options.forwarding_namespaces': sorted(md['accessibleNamespaces']),
    request_attributes: sorted(req?.['attributes']),
    response_attributes: sorted(res?.['attributes']),
    allow_mode_override: pm?.['allowModeOverride'] ?? false,
  };
}

// ── InferencePool: the manifest's failureMode + the Endpoint Picker Protocol ───────
// https://github.com/kubernetes-sigs/gateway-api-inference-extension/tree/main/docs/proposals/004-endpoint-picker-protocol
// The gateway builds the filter; the protocol obliges it to send request headers (the picker
// answers with the destination header/metadata), response headers (the served endpoint), the
// subset hint in envoy.lb.subset_hint and the served endpoint in envoy.lb, and streamed
// (full-duplex) bodies — with which Envoy requires request trailers.
function renderInferencePool(pool: Obj): Rendered {
  const ref = obj(obj(pool['spec'], 'spec')['endpointPickerRef'], 'endpointPickerRef');
  return {
    'processing_mode.request_header_mode': 'SEND',
    'processing_mode.request_body_mode': 'FULL_DUPLEX_STREAMED',
    'processing_mode.request_trailer_mode': 'SEND',
    'processing_mode.response_header_mode': 'SEND',
    failure_mode_allow: (ref['failureMode'] ?? 'FailClose') === 'FailOpen',
    'metadata_options.forwarding_namespaces': ['envoy.lb', 'envoy.lb.subset_hint'],
  };
}

// ── the known differences: each with its reason ───────────────────────────────────
type Known = { reason: string; cannotExpress: true } | { reason: string; expect: unknown };

const GATEWAY_CHOOSES = 'the InferencePool API has no field for it: the gateway implementation builds the ext_proc filter';
const KNOWN: Record<string, Partial<Record<Setting, Known>>> = {
  'envoy/envoy.yaml': {},
  'envoy/envoy.docker.yaml': {},
  'envoy/istio-envoyfilter.yaml': {},
  'envoy/envoy-gateway-extension-policy.yaml': {
    mutation_rules: {
      cannotExpress: true,
      reason:
        "EnvoyExtensionPolicy has no mutation-rules field; Envoy Gateway keeps Envoy's default, which drops :authority/host mutations, so hosted-provider host rewrites go on the route instead",
    },
  },
  'envoy/inferencepool.yaml': {
    // The body-mode keys src/tools/envoy/processing-mode.ts changes: full duplex by design.
    'processing_mode.request_body_mode': {
      reason: 'the Endpoint Picker Protocol streams bodies (full duplex); kvfleet follows the announced mode',
      expect: 'FULL_DUPLEX_STREAMED',
    },
    'processing_mode.request_trailer_mode': { reason: 'Envoy refuses FULL_DUPLEX_STREAMED without request trailers', expect: 'SEND' },
    'processing_mode.response_trailer_mode': {
      cannotExpress: true,
      reason: `${GATEWAY_CHOOSES}; without SEND kvfleet's in-flight count for a streamed completion ends at its first byte (envoy/README.md)`,
    },
    'processing_mode.response_body_mode': { cannotExpress: true, reason: `${GATEWAY_CHOOSES}; a full-duplex response body is handed back unchanged` },
    message_timeout: { cannotExpress: true, reason: `${GATEWAY_CHOOSES} (Envoy runs no message timer in full duplex; kvfleet times the body itself)` },
    'metadata_options.receiving_namespaces': {
      cannotExpress: true,
      reason: `${GATEWAY_CHOOSES}; the protocol's envoy.lb is what kvfleet writes (its own namespace is reserved, unused today)`,
    },
    'metadata_options.forwarding_namespaces': {
      reason:
        "the protocol forwards envoy.lb and envoy.lb.subset_hint only: behind an InferencePool a tenant is named by an API key or a trusted header, not by jwt_authn's metadata",
      expect: ['envoy.lb', 'envoy.lb.subset_hint'],
    },
    request_attributes: { cannotExpress: true, reason: GATEWAY_CHOOSES },
    response_attributes: {
      cannotExpress: true,
      reason: `${GATEWAY_CHOOSES}; the served endpoint arrives as envoy.lb/x-gateway-destination-endpoint-served instead`,
    },
    allow_mode_override: { cannotExpress: true, reason: GATEWAY_CHOOSES },
    mutation_rules: { cannotExpress: true, reason: `${GATEWAY_CHOOSES}; kvfleet sets no :authority behind an InferencePool (it only picks endpoints)` },
  },
};

// ── extracting each variant ───────────────────────────────────────────────────────
/** The typed_config of the single ext_proc filter in a parsed Envoy config. */
function extProcIn(root: unknown, what: string): Obj {
  const found: Obj[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (isObj(n)) {
      if (n['name'] === 'envoy.filters.http.ext_proc' && isObj(n['typed_config'])) found.push(n['typed_config']);
      Object.values(n).forEach(walk);
    }
  };
  walk(root);
  expect(found, `${what}: one ext_proc filter`).toHaveLength(1);
  return found[0] as Obj;
}

const bootstrap = (file: string) => {
  const docs = loadYaml(file);
  expect(docs).toHaveLength(1);
  return docs[0]?.body;
};

const reference = extProcIn(bootstrap('envoy/envoy.yaml'), 'envoy/envoy.yaml');

const variants: Array<{ file: string; rendered: Rendered }> = [
  { file: 'envoy/envoy.yaml', rendered: renderEnvoy(reference) },
  { file: 'envoy/envoy.docker.yaml', rendered: renderEnvoy(extProcIn(bootstrap('envoy/envoy.docker.yaml'), 'envoy.docker.yaml')) },
  (() => {
    const ef = findObject('envoy/istio-envoyfilter.yaml', 'EnvoyFilter', 'kvfleet-ext-proc');
    const patches = arr(obj(ef['spec'], 'spec')['configPatches'], 'configPatches').filter((p) => isObj(p) && p['applyTo'] === 'HTTP_FILTER');
    expect(patches).toHaveLength(1);
    return { file: 'envoy/istio-envoyfilter.yaml', rendered: renderEnvoy(extProcIn(obj(patches[0], 'patch')['patch'], 'EnvoyFilter patch')) };
  })(),
  (() => {
    const eep = findObject('envoy/envoy-gateway-extension-policy.yaml', 'EnvoyExtensionPolicy', 'kvfleet');
    const eps = arr(obj(eep['spec'], 'spec')['extProc'], 'extProc');
    expect(eps).toHaveLength(1);
    return { file: 'envoy/envoy-gateway-extension-policy.yaml', rendered: renderEnvoyGateway(obj(eps[0], 'extProc[0]')) };
  })(),
  { file: 'envoy/inferencepool.yaml', rendered: renderInferencePool(findObject('envoy/inferencepool.yaml', 'InferencePool', 'llama-3-8b')) },
];

const ref = renderEnvoy(reference);

describe('ext_proc settings: every variant renders what envoy/envoy.yaml runs', () => {
  it('the comparison covers every setting of the reference filter', () => {
    const covered = new Set<string>([...SETTINGS, ...TRANSPORT]);
    const keys = Object.entries(reference).flatMap(([k, v]) =>
      (k === 'processing_mode' || k === 'metadata_options') && isObj(v) ? Object.keys(v).map((s) => `${k}.${s}`) : [k],
    );
    // A new field in envoy.yaml's filter must be added to SETTINGS (and to the renderers).
    expect(keys.filter((k) => !covered.has(k))).toEqual([]);
  });

  it('covers each shipped variant', () => {
    expect(variants.map((v) => v.file).sort()).toEqual(Object.keys(KNOWN).sort());
  });

  for (const v of variants) {
    describe(v.file, () => {
      const known = KNOWN[v.file] ?? {};
      for (const s of SETTINGS) {
        const k = known[s];
        if (k === undefined) {
          it(`${s} matches the reference`, () => {
            expect(v.rendered[s], `${v.file} ${s}`).toBeDefined();
            expect(v.rendered[s], `${v.file} ${s}`).toEqual(ref[s]);
          });
        } else if ('cannotExpress' in k) {
          it(`${s}: known difference — cannot be expressed (${k.reason})`, () => {
            // Stale allowance: once the variant renders the setting, compare it instead.
            expect(v.rendered[s], `${v.file} renders ${s}: remove it from KNOWN`).toBeUndefined();
          });
        } else {
          it(`${s}: known difference by design (${k.reason})`, () => {
            expect(v.rendered[s]).toEqual(k.expect);
            expect(v.rendered[s], 'a difference by design that is no difference: remove it from KNOWN').not.toEqual(ref[s]);
          });
        }
      }
    });
  }

  it("InferencePool's by-design body modes are exactly the full-duplex variant of the reference", () => {
    const fd = { name: 'envoy.filters.http.ext_proc', typed_config: structuredClone(reference) };
    expect(setExtProcMode(fd, 'full-duplex')).toBe(1);
    const duplex = renderEnvoy(fd.typed_config);
    const byDesign = Object.entries(KNOWN['envoy/inferencepool.yaml'] ?? {}).filter(
      ([s, k]) => s.startsWith('processing_mode.') && k !== undefined && 'expect' in k,
    );
    for (const [s, k] of byDesign) expect(k && 'expect' in k ? k.expect : undefined, s).toEqual(duplex[s as Setting]);
    // …and the processing-mode keys processing-mode.ts leaves alone are compared, not excused.
    const changed = SETTINGS.filter((s) => s.startsWith('processing_mode.') && duplex[s] !== ref[s]);
    expect(changed.sort()).toEqual(['processing_mode.request_body_mode', 'processing_mode.request_trailer_mode', 'processing_mode.response_trailer_mode']);
  });
});

describe('the renderers (so a comparison can fail)', () => {
  it('Envoy: defaults for absent fields, durations in ms, namespace order ignored', () => {
    expect(renderEnvoy({})).toMatchObject({
      message_timeout: 200,
      failure_mode_allow: false,
      'processing_mode.request_header_mode': 'SEND',
      allow_mode_override: false,
    });
    expect(renderEnvoy({ message_timeout: '1.5s', metadata_options: { receiving_namespaces: { untyped: ['b', 'a'] } } })).toMatchObject({
      message_timeout: 1500,
      'metadata_options.receiving_namespaces': ['a', 'b'],
    });
  });

  it('Envoy Gateway: a drifted policy differs from the reference where it drifted', () => {
    const eep = structuredClone(findObject('envoy/envoy-gateway-extension-policy.yaml', 'EnvoyExtensionPolicy', 'kvfleet'));
    const ep = obj(arr(obj(eep['spec'], 'spec')['extProc'], 'extProc')[0], 'extProc[0]');
    ep['messageTimeout'] = '200ms';
    obj(ep['metadata'], 'metadata')['accessibleNamespaces'] = ['envoy.lb'];
    delete obj(ep['processingMode'], 'pm')['response'];
    const r = renderEnvoyGateway(ep);
    const drifted = SETTINGS.filter((s) => s !== 'mutation_rules' && JSON.stringify(r[s]) !== JSON.stringify(ref[s]));
    expect(drifted).toEqual(['processing_mode.response_header_mode', 'message_timeout', 'metadata_options.forwarding_namespaces', 'response_attributes']);
  });

  it('InferencePool: FailOpen renders failure_mode_allow: true', () => {
    const pool = structuredClone(findObject('envoy/inferencepool.yaml', 'InferencePool', 'llama-3-8b'));
    obj(obj(pool['spec'], 'spec')['endpointPickerRef'], 'ref')['failureMode'] = 'FailOpen';
    expect(renderInferencePool(pool).failure_mode_allow).toBe(true);
  });
});
