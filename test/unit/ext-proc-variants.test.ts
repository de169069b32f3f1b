// The Envoy settings kvfleet relies on, in every shipped variant, rendered as Envoy would run
// them and compared with envoy/envoy.yaml (the reference), so the variants cannot drift apart.
// Three tables:
//   SETTINGS   the ext_proc filter itself;
//   AROUND     what the filter relies on around it: the explanation headers Envoy renders from
//              kvfleet's metadata, the access log service that tells kvfleet what happened after
//              its answer (request ends, periodic entries, one entry per upstream attempt), and
//              the retries on kvfleet's fallback endpoints;
//   METER      the meter: the second, observability-mode ext_proc filter that copies metered
//              responses to kvfleet (token usage), its connection to kvfleet, the per-route
//              override that turns it on and the metered routes (x-kvfleet-meter).
// The variants, as each is rendered:
//   envoy.yaml, envoy.docker.yaml   the bootstrap itself;
//   Istio                            the EnvoyFilter's patch values (what Istio inserts/merges),
//                                    the VirtualService's retries and metered routes, and the
//                                    kvfleet DestinationRule's connection pool;
//   Envoy Gateway                    the EnvoyExtensionPolicy's extProc, the HTTPRoute's filters,
//                                    the BackendTrafficPolicy's retries and the EnvoyProxy access
//                                    log the manifest shows in its header, translated field by
//                                    field as Envoy Gateway's xDS translator does it;
//   InferencePool                    what the manifest says (failureMode) plus what the
//                                    Endpoint Picker Protocol makes every gateway configure.
// A setting a variant's API cannot express is an explicit, reasoned entry of KNOWN /
// KNOWN_AROUND / KNOWN_METER below, never a silent skip; an entry for a setting the variant
// does express fails the test. Which Service the filter calls is checked in test/unit/k8s-manifests.test.ts;
// that the Istio fragments are valid Envoy config, in test/unit/envoy-config.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { METER_HEADER } from '../../src/extproc/phases/request-body.js';
import { ROLE_HEADER } from '../../src/extproc/server.js';
import { setExtProcMode } from '../../src/tools/envoy/processing-mode.js';
import { REPO_ROOT } from '../helpers/envoy.js';
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
  'max_message_timeout',
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

/**
 * The settings around the filter:
 *   explanation.*   the virtual host's (or route's) response headers;
 *   access_log.*    the HTTP connection manager's gRPC access log to kvfleet (request ends);
 *                   batching with Envoy's defaults (16 KiB or 1 s) for absent fields;
 *   access_log_options.access_log_flush_interval   its periodic entries of long streams;
 *   upstream_log    the router's gRPC access log (one entry per upstream attempt), whole;
 *   retry.*         the model route's retry policy.
 */
const AROUND = [
  'explanation.response_headers_to_add',
  'explanation.response_headers_to_remove',
  'access_log.service',
  'access_log.log_name',
  'access_log.transport_api_version',
  'access_log.additional_response_headers_to_log',
  'access_log.batching',
  'access_log.grpc_stream_retry_policy',
  'access_log_options.access_log_flush_interval',
  'upstream_log',
  'retry.retry_on',
  'retry.num_retries',
  'retry.per_try_timeout',
] as const;
type Around = (typeof AROUND)[number];
type RenderedAround = Partial<Record<Around, unknown>>;

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
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

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
    // Unset: the processor may not extend the timer (override_message_timeout is ignored).
    max_message_timeout: tc['max_message_timeout'] === undefined ? 0 : ms(tc['max_message_timeout']),
    failure_mode_allow: tc['failure_mode_allow'] ?? false,
    'metadata_options.receiving_namespaces': ns('receiving_namespaces'),
    'metadata_options.forwarding_namespaces': ns('forwarding_namespaces'),
    request_attributes: sorted(tc['request_attributes']),
    response_attributes: sorted(tc['response_attributes']),
    allow_mode_override: tc['allow_mode_override'] ?? false,
    mutation_rules: tc['mutation_rules'] ?? {},
  };
}

// ── Envoy's configuration around the filter ───────────────────────────────────────
/** Response headers to add, as `header → "value" action` (Envoy's default action appends). */
function headersToAdd(list: unknown): Record<string, string> {
  return Object.fromEntries(
    arr(list, 'response_headers_to_add').map((h) => {
      const hv = obj(h, 'header value option');
      const header = obj(hv['header'], 'header');
      const action = typeof hv['append_action'] === 'string' ? hv['append_action'] : 'APPEND_IF_EXISTS_OR_ADD';
      return [String(header['key']), `${JSON.stringify(header['value'])} ${action}`];
    }),
  );
}

/** How entries are batched before they leave (CommonGrpcAccessLogConfig; Envoy's defaults: 16 KiB or 1 s). */
function batching(cc: Obj): string {
  const size = Number(cc['buffer_size_bytes'] ?? 16384);
  return size === 0 ? 'unbatched' : `${size} bytes or ${ms(cc['buffer_flush_interval'] ?? '1s')} ms`;
}

/** A gRPC access logger (HttpGrpcAccessLogConfig), field by field; `service` says whether it is the ext_proc filter's. */
function renderLogger(tc: Obj, extProcService: unknown): Record<string, unknown> {
  const cc = obj(tc['common_config'], 'common_config');
  return {
    service: same(cc['grpc_service'], extProcService) ? 'the ext_proc service' : cc['grpc_service'],
    log_name: cc['log_name'],
    transport_api_version: cc['transport_api_version'],
    additional_response_headers_to_log: sorted(tc['additional_response_headers_to_log']),
    batching: batching(cc),
    grpc_stream_retry_policy: cc['grpc_stream_retry_policy'],
  };
}

/** The http_grpc logger of an access_log / upstream_log list (undefined when there is none). */
function grpcLogger(list: unknown): Obj | undefined {
  if (!Array.isArray(list)) return undefined;
  const grpc = list.filter((l) => isObj(l) && l['name'] === 'envoy.access_loggers.http_grpc');
  expect(grpc.length).toBeLessThanOrEqual(1);
  return grpc[0] === undefined ? undefined : obj(obj(grpc[0], 'logger')['typed_config'], 'http_grpc typed_config');
}

function aroundFromLoggers(accessLog: Obj | undefined, upstreamLog: Obj | undefined, extProcService: unknown): RenderedAround {
  const al = accessLog === undefined ? {} : renderLogger(accessLog, extProcService);
  return {
    'access_log.service': al['service'],
    'access_log.log_name': al['log_name'],
    'access_log.transport_api_version': al['transport_api_version'],
    'access_log.additional_response_headers_to_log': al['additional_response_headers_to_log'],
    'access_log.batching': al['batching'],
    'access_log.grpc_stream_retry_policy': al['grpc_stream_retry_policy'],
    upstream_log: upstreamLog === undefined ? undefined : renderLogger(upstreamLog, extProcService),
  };
}

/** Retry triggers with the retriable status codes folded in: "retriable-status-codes:503". */
function retryOn(triggers: readonly string[], codes: readonly unknown[]): string[] {
  return triggers.map((t) => (t === 'retriable-status-codes' ? `${t}:${codes.map(String).join('|')}` : t)).sort();
}

/** Every object (at any depth) matching `pred`. */
function findAll(node: unknown, pred: (o: Obj) => boolean, out: Obj[] = []): Obj[] {
  if (Array.isArray(node)) for (const x of node) findAll(x, pred, out);
  else if (isObj(node)) {
    // A YAML alias is the same object again: found once.
    if (pred(node) && !out.includes(node)) out.push(node);
    for (const v of Object.values(node)) findAll(v, pred, out);
  }
  return out;
}
function only(node: unknown, pred: (o: Obj) => boolean, what: string): Obj {
  const found = findAll(node, pred);
  expect(found, what).toHaveLength(1);
  return found[0] as Obj;
}

const isHcm = (o: Obj): boolean => String(o['@type']).endsWith('.HttpConnectionManager');

function renderAroundBootstrap(boot: unknown, extProc: Obj): RenderedAround {
  const hcm = only(boot, isHcm, 'one HTTP connection manager');
  const vhosts = arr(obj(hcm['route_config'], 'route_config')['virtual_hosts'], 'virtual_hosts').map((v) => obj(v, 'virtual host'));
  expect(vhosts).toHaveLength(1);
  const vh = vhosts[0] as Obj;
  const router = only(hcm['http_filters'], (o) => o['name'] === 'envoy.filters.http.router', 'the router');
  // The model route: the catch-all (the cluster from x-kvfleet-cluster), last.
  const routes = arr(vh['routes'], 'routes').map((r) => obj(r, 'route'));
  const rp = obj(obj(routes.at(-1)?.['route'], 'route action')['retry_policy'], 'retry_policy');
  const ao = isObj(hcm['access_log_options']) ? hcm['access_log_options'] : {};
  return {
    'explanation.response_headers_to_add': headersToAdd(vh['response_headers_to_add']),
    'explanation.response_headers_to_remove': sorted(vh['response_headers_to_remove']),
    ...aroundFromLoggers(grpcLogger(hcm['access_log']), grpcLogger(obj(router['typed_config'], 'router')['upstream_log']), extProc['grpc_service']),
    'access_log_options.access_log_flush_interval': ao['access_log_flush_interval'] === undefined ? undefined : ms(ao['access_log_flush_interval']),
    'retry.retry_on': retryOn(String(rp['retry_on']).split(','), arr(rp['retriable_status_codes'] ?? [], 'retriable_status_codes')),
    'retry.num_retries': rp['num_retries'],
    'retry.per_try_timeout': ms(rp['per_try_timeout']),
  };
}

// ── Istio: the EnvoyFilter's patches and the VirtualService ───────────────────────
const ISTIO = 'envoy/istio-envoyfilter.yaml';
function istioPatches(applyTo: string, operation: string): Obj[] {
  const ef = findObject(ISTIO, 'EnvoyFilter', 'kvfleet-ext-proc');
  return arr(obj(ef['spec'], 'spec')['configPatches'], 'configPatches')
    .map((p) => obj(p, 'patch'))
    .filter((p) => p['applyTo'] === applyTo && obj(p['patch'], 'patch')['operation'] === operation)
    .map((p) => obj(obj(p['patch'], 'patch')['value'], `${applyTo} ${operation} value`));
}
function onePatch(applyTo: string, operation: string): Obj {
  const values = istioPatches(applyTo, operation);
  expect(values, `${ISTIO}: one ${applyTo} ${operation} patch`).toHaveLength(1);
  return values[0] as Obj;
}

function renderAroundIstio(extProc: Obj): RenderedAround {
  const hcm = obj(onePatch('NETWORK_FILTER', 'MERGE')['typed_config'], 'HCM typed_config');
  const router = obj(onePatch('HTTP_FILTER', 'MERGE')['typed_config'], 'router typed_config');
  const vh = onePatch('VIRTUAL_HOST', 'MERGE');
  const ao = isObj(hcm['access_log_options']) ? hcm['access_log_options'] : {};
  // Istio turns the numbers in retryOn into retriable_status_codes (+ the retriable-status-codes trigger).
  const vs = findObject(ISTIO, 'VirtualService', 'kvfleet-llm');
  const retries = arr(obj(vs['spec'], 'spec')['http'], 'http').map((h) => {
    const r = obj(obj(h, 'http route')['retries'], 'retries');
    const on = String(r['retryOn']).split(',');
    const codes = on.filter((t) => /^\d+$/.test(t));
    const triggers = on.filter((t) => !/^\d+$/.test(t));
    return {
      'retry.retry_on': retryOn(codes.length > 0 ? [...triggers, 'retriable-status-codes'] : triggers, codes.map(Number)),
      'retry.num_retries': r['attempts'],
      'retry.per_try_timeout': ms(r['perTryTimeout']),
    };
  });
  return {
    'explanation.response_headers_to_add': headersToAdd(vh['response_headers_to_add']),
    'explanation.response_headers_to_remove': sorted(vh['response_headers_to_remove']),
    ...aroundFromLoggers(grpcLogger(hcm['access_log']), grpcLogger(router['upstream_log']), extProc['grpc_service']),
    'access_log_options.access_log_flush_interval': ao['access_log_flush_interval'] === undefined ? undefined : ms(ao['access_log_flush_interval']),
    ...(retries.every((r) => same(r, retries[0])) ? retries[0] : { 'retry.retry_on': 'the routes differ' }),
  };
}

// ── Envoy Gateway's EnvoyExtensionPolicy extProc → ExternalProcessor ──────────────
// As Envoy Gateway's translator builds the filter (internal/gatewayapi + internal/xds/
// translator/extproc.go, buildProcessingMode): processingMode.request present → request
// headers SEND (else SKIP), its body → request_body_mode (absent → NONE); the same for
// response; trailers SKIP unless that direction's body is FullDuplexStreamed (then SEND);
// failOpen → failure_mode_allow; messageTimeout → message_timeout; request/response attributes;
// metadata.accessibleNamespaces → forwarding, metadata.writableNamespaces → receiving;
// allowModeOverride. No mutation rules field exists.
const EG = 'envoy/envoy-gateway-extension-policy.yaml';
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

/** The EnvoyProxy the Envoy Gateway manifest shows, commented out, in its header. */
function commentedEnvoyProxy(): Obj {
  const lines = readFileSync(join(REPO_ROOT, EG), 'utf8').split('\n');
  const start = lines.indexOf('#   apiVersion: gateway.envoyproxy.io/v1alpha1');
  expect(start, `${EG}: the EnvoyProxy in the header`).toBeGreaterThan(-1);
  const block: string[] = [];
  for (const l of lines.slice(start)) {
    if (!l.startsWith('#   ')) break;
    block.push(l.slice(4));
  }
  const ep = obj(parse(block.join('\n')), 'EnvoyProxy');
  expect(ep['kind']).toBe('EnvoyProxy');
  return ep;
}

// Around the filter, as Envoy Gateway translates it:
//   HTTPRoute ResponseHeaderModifier → the route's response_headers_to_add/remove; set →
//     OVERWRITE_IF_EXISTS_OR_ADD, add → APPEND_IF_EXISTS_OR_ADD; the values reach Envoy
//     unchanged, so substitution formatters work (internal/gatewayapi/filters.go,
//     internal/xds/translator/route.go buildXdsAddedHeaders; docs: envoyproxy/gateway#7187).
//     Envoy applies a route's response headers in the same step as its virtual host's.
//   EnvoyProxy telemetry.accessLog settings of type Route → the connection manager's access_log;
//     an ALS sink of type HTTP → envoy.access_loggers.http_grpc with log_name (default
//     "<namespace>/<name>"), transport V3, additional headers from http.*, nothing else
//     (internal/xds/translator/accesslog.go); its backend always speaks gRPC.
//   BackendTrafficPolicy retry → the route's retry policy (triggers, httpStatusCodes,
//     numRetries, perRetry.timeout).
function renderAroundEnvoyGateway(ep: Obj, eepNamespace: unknown): RenderedAround {
  const route = findObject(EG, 'HTTPRoute', 'llm');
  const explanations = arr(obj(route['spec'], 'spec')['rules'], 'rules').map((rule) => {
    const filters = arr(obj(rule, 'rule')['filters'] ?? [], 'filters').map((f) => obj(f, 'filter'));
    const rhm = filters.find((f) => f['type'] === 'ResponseHeaderModifier')?.['responseHeaderModifier'];
    if (!isObj(rhm)) return undefined;
    const entries = (k: string, action: string) =>
      arr(rhm[k] ?? [], k).map((h) => [String(obj(h, 'header')['name']), `${JSON.stringify(obj(h, 'header')['value'])} ${action}`] as const);
    return {
      'explanation.response_headers_to_add': Object.fromEntries([
        ...entries('set', 'OVERWRITE_IF_EXISTS_OR_ADD'),
        ...entries('add', 'APPEND_IF_EXISTS_OR_ADD'),
      ]),
      'explanation.response_headers_to_remove': sorted(rhm['remove']),
    };
  });
  const explanation = explanations.every((e) => same(e, explanations[0])) ? explanations[0] : { 'explanation.response_headers_to_add': 'the rules differ' };

  const proxy = commentedEnvoyProxy();
  const settings = arr(obj(obj(obj(proxy['spec'], 'spec')['telemetry'], 'telemetry')['accessLog'], 'accessLog')['settings'], 'settings');
  const als = settings
    .map((s) => obj(s, 'setting'))
    .filter((s) => s['type'] === 'Route')
    .flatMap((s) => arr(s['sinks'], 'sinks').map((k) => obj(k, 'sink')))
    .filter((k) => k['type'] === 'ALS')
    .map((k) => obj(k['als'], 'als'))
    .filter((a) => a['type'] === 'HTTP');
  expect(als, 'one HTTP ALS sink on the Route access log').toHaveLength(1);
  const a = als[0] as Obj;
  const md = obj(proxy['metadata'], 'EnvoyProxy metadata');
  const http = isObj(a['http']) ? a['http'] : {};
  const eep = findObject(EG, 'EnvoyExtensionPolicy', 'kvfleet');
  const extProcRefs = obj(arr(obj(eep['spec'], 'spec')['extProc'], 'extProc')[0], 'extProc[0]')['backendRefs'];
  const accessLog: RenderedAround = {
    // Backend refs resolve in the EnvoyProxy's namespace, the extProc's in the policy's.
    'access_log.service': same(a['backendRefs'], extProcRefs) && md['namespace'] === eepNamespace ? 'the ext_proc service' : a['backendRefs'],
    'access_log.log_name': a['logName'] ?? `${String(md['namespace'])}/${String(md['name'])}`,
    'access_log.transport_api_version': 'V3',
    'access_log.additional_response_headers_to_log': sorted(http['responseHeaders']),
  };

  const btp = findObject(EG, 'BackendTrafficPolicy', 'llm-pools');
  const retry = obj(obj(btp['spec'], 'spec')['retry'], 'retry');
  const on = obj(retry['retryOn'], 'retryOn');
  return {
    ...explanation,
    ...accessLog,
    'retry.retry_on': retryOn(arr(on['triggers'], 'triggers').map(String), arr(on['httpStatusCodes'] ?? [], 'httpStatusCodes')),
    'retry.num_retries': retry['numRetries'],
    'retry.per_try_timeout': ms(obj(retry['perRetry'], 'perRetry')['timeout']),
  };
}

// ── InferencePool: the manifest's failureMode + the Endpoint Picker Protocol ───────
// https://github.com/kubernetes-sigs/gateway-api-inference-extension/tree/main/docs/proposals/004-endpoint-picker-protocol
// The gateway builds the filter; the protocol obliges it to send request headers (the picker
// answers with the destination header/metadata), response headers (the served endpoint as
// envoy.lb metadata), the subset hint in envoy.lb.subset_hint, and streamed (full-duplex)
// bodies — with which Envoy requires request trailers.
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
type Known =
  | { reason: string; cannotExpress: true }
  // The variant's API could say it, but the feature is left out as a whole (the reason says why).
  | { reason: string; notConfigured: true }
  | { reason: string; expect: unknown };

const GATEWAY_CHOOSES = 'the InferencePool API has no field for it: the gateway implementation builds the ext_proc filter';
const KNOWN: Record<string, Partial<Record<Setting, Known>>> = {
  'envoy/envoy.yaml': {},
  'envoy/envoy.docker.yaml': {},
  [ISTIO]: {},
  [EG]: {
    max_message_timeout: {
      cannotExpress: true,
      reason:
        'EnvoyExtensionPolicy has no max_message_timeout field, so kvfleet cannot extend the message timer of a request it holds in a priority queue (flow_control); only the BUFFERED body mode has that timer, and this policy streams the body full duplex (kvfleet times the body itself)',
    },
    mutation_rules: {
      cannotExpress: true,
      reason:
        "EnvoyExtensionPolicy has no mutation-rules field; Envoy Gateway keeps Envoy's default, which drops :authority/host mutations, so hosted-provider host rewrites go on the route instead",
    },
  },
  'envoy/inferencepool.yaml': {
    'processing_mode.response_header_mode': {
      reason:
        "the protocol has the gateway send response headers (the served endpoint): the ext_proc stream lives as long as the response, so a kvfleet restart could cut the responses still streaming (kvfleet's SIGTERM drain ends every answered stream with OK at once: only a SIGKILL or a crash cuts them)",
      expect: 'SEND',
    },
    'processing_mode.response_trailer_mode': { cannotExpress: true, reason: GATEWAY_CHOOSES },
    'processing_mode.response_body_mode': {
      cannotExpress: true,
      reason: `${GATEWAY_CHOOSES}; the protocol allows streamed response bodies, which kvfleet hands back unchanged`,
    },
    message_timeout: { cannotExpress: true, reason: `${GATEWAY_CHOOSES} (Envoy runs no message timer for a full-duplex body; kvfleet times the body itself)` },
    max_message_timeout: {
      cannotExpress: true,
      reason: `${GATEWAY_CHOOSES}; it matters only for BUFFERED bodies (kvfleet extending the timer of a request it holds in a priority queue), and the protocol streams them full duplex`,
    },
    'metadata_options.receiving_namespaces': {
      cannotExpress: true,
      reason: `${GATEWAY_CHOOSES}; the protocol covers envoy.lb (the endpoint list); kvfleet's own namespace (the explanation) only if the gateway accepts it`,
    },
    'metadata_options.forwarding_namespaces': {
      reason:
        "the protocol forwards envoy.lb (the served endpoint) and envoy.lb.subset_hint only: behind an InferencePool a tenant is named by an API key or a trusted header, not by jwt_authn's metadata",
      expect: ['envoy.lb', 'envoy.lb.subset_hint'],
    },
    request_attributes: { cannotExpress: true, reason: GATEWAY_CHOOSES },
    response_attributes: { cannotExpress: true, reason: GATEWAY_CHOOSES },
    allow_mode_override: { cannotExpress: true, reason: GATEWAY_CHOOSES },
    mutation_rules: { cannotExpress: true, reason: `${GATEWAY_CHOOSES}; kvfleet sets no :authority behind an InferencePool (it only picks endpoints)` },
  },
};

const EG_NO_FIELD = "Envoy Gateway's APIs have no field for it (only an EnvoyPatchPolicy, a raw xDS JSON patch disabled by default, could add it)";
const POOL_GATEWAY = 'the gateway configures it outside the InferencePool API';
const KNOWN_AROUND: Record<string, Partial<Record<Around, Known>>> = {
  'envoy/envoy.yaml': {},
  'envoy/envoy.docker.yaml': {},
  [ISTIO]: {},
  [EG]: {
    'access_log.batching': {
      cannotExpress: true,
      reason: `${EG_NO_FIELD}: Envoy's default batching (16 KiB or 1 s) applies instead of envoy.yaml's, so the in-flight counts kvfleet keeps from request ends can lag by up to ~1 s`,
    },
    'access_log.grpc_stream_retry_policy': {
      cannotExpress: true,
      reason: `${EG_NO_FIELD}: no reconnect policy for the log stream while kvfleet restarts; kvfleet's pending table expires the requests whose ends are lost (server.inflight_ttl_seconds)`,
    },
    'access_log_options.access_log_flush_interval': {
      cannotExpress: true,
      reason: `${EG_NO_FIELD}: no periodic entries, so kvfleet releases a long stream's in-flight slot after server.inflight_ttl_seconds (default 60) without news — raise it above your longest stream — and after a restart does not take back the slots of streams still running`,
    },
    upstream_log: {
      cannotExpress: true,
      reason: `${EG_NO_FIELD}: no per-attempt entries, so kvfleet infers failed attempts from the end entry's attempt count (attempts > 1: the earlier offered endpoints failed)`,
    },
  },
  'envoy/inferencepool.yaml': {
    'explanation.response_headers_to_add': {
      cannotExpress: true,
      reason: `${POOL_GATEWAY}: kvfleet writes the explanation to its own metadata namespace, which the protocol does not cover; without it there are no x-kvfleet-* headers (x-kvfleet-budget-remaining included)`,
    },
    'explanation.response_headers_to_remove': { cannotExpress: true, reason: POOL_GATEWAY },
    'access_log.service': {
      cannotExpress: true,
      reason: `${POOL_GATEWAY} (Envoy Gateway: the EnvoyProxy access log of envoy/envoy-gateway-extension-policy.yaml); without it kvfleet learns no outcomes and releases each in-flight slot after server.inflight_ttl_seconds`,
    },
    'access_log.log_name': { cannotExpress: true, reason: POOL_GATEWAY },
    'access_log.transport_api_version': { cannotExpress: true, reason: POOL_GATEWAY },
    'access_log.additional_response_headers_to_log': {
      cannotExpress: true,
      reason: `${POOL_GATEWAY}; without retry-after / x-ratelimit-* kvfleet sets no cooldown from a replica's rate limits`,
    },
    'access_log.batching': { cannotExpress: true, reason: POOL_GATEWAY },
    'access_log.grpc_stream_retry_policy': { cannotExpress: true, reason: POOL_GATEWAY },
    'access_log_options.access_log_flush_interval': { cannotExpress: true, reason: POOL_GATEWAY },
    upstream_log: { cannotExpress: true, reason: POOL_GATEWAY },
    'retry.retry_on': {
      cannotExpress: true,
      reason: `${POOL_GATEWAY} (the standard-channel HTTPRoute has no retry field); the protocol has the proxy walk kvfleet's list only when a retry is configured`,
    },
    'retry.num_retries': { cannotExpress: true, reason: POOL_GATEWAY },
    'retry.per_try_timeout': { cannotExpress: true, reason: POOL_GATEWAY },
  },
};

// ── the meter ─────────────────────────────────────────────────────────────────────
/**
 * envoy.yaml's meter, compared setting by setting:
 *   meter.position          where the filter runs: between kvfleet's ext_proc and the router;
 *   meter.*                 the filter's own settings, with Envoy's defaults for absent fields
 *                           (processing_mode: the default, all SKIP: unmetered requests open no stream);
 *   meter.role_metadata     the gRPC initial metadata by which kvfleet tells a meter's streams
 *                           from routing requests;
 *   meter.service           which connections to kvfleet it uses;
 *   meter.max_requests_per_connection   how soon those connections are renewed (Envoy resets
 *                           every observability stream; Node answers > 1,000 resets with GOAWAY);
 *   meter.route_override    the per-route processing mode that turns it on (Envoy's defaults filled);
 *   meter.metered_routes    the routes that turn it on: how they match x-kvfleet-meter, whether they
 *                           remove it, whether only they match it, and whether each has an
 *                           unmetered twin with the same destination (the meter changes nothing else).
 */
const METER = [
  'meter.position',
  'meter.observability_mode',
  'meter.failure_mode_allow',
  'meter.deferred_close_timeout',
  'meter.stat_prefix',
  'meter.processing_mode',
  'meter.forwarding_namespaces',
  'meter.role_metadata',
  'meter.service',
  'meter.max_requests_per_connection',
  'meter.route_override',
  'meter.metered_routes',
] as const;
type Meter = (typeof METER)[number];
type RenderedMeter = Partial<Record<Meter, unknown>>;

const METER_FILTER = 'kvfleet-meter';
/** What the reference's meter filter sets, by the METER rows that compare it. */
const METER_FIELDS: Record<string, readonly Meter[]> = {
  '@type': [],
  grpc_service: ['meter.service', 'meter.role_metadata'],
  stat_prefix: ['meter.stat_prefix'],
  observability_mode: ['meter.observability_mode'],
  failure_mode_allow: ['meter.failure_mode_allow'],
  deferred_close_timeout: ['meter.deferred_close_timeout'],
  processing_mode: ['meter.processing_mode'],
  metadata_options: ['meter.forwarding_namespaces'],
};

/** A processing mode with Envoy's defaults for absent fields (DEFAULT header modes: headers sent, trailers skipped). */
function processingMode(pm: unknown): Record<string, unknown> {
  const m = isObj(pm) ? pm : {};
  return Object.fromEntries(Object.entries(PM_DEFAULTS).map(([k, d]) => [k, m[k] === undefined || m[k] === 'DEFAULT' ? d : m[k]]));
}

/** The meter filter's own settings (an ExternalProcessor typed_config). */
function renderMeterFilter(tc: Obj): RenderedMeter {
  const gs = isObj(tc['grpc_service']) ? tc['grpc_service'] : {};
  const md = isObj(tc['metadata_options']) ? tc['metadata_options'] : {};
  return {
    'meter.observability_mode': tc['observability_mode'] ?? false,
    'meter.failure_mode_allow': tc['failure_mode_allow'] ?? false,
    'meter.deferred_close_timeout': ms(tc['deferred_close_timeout'] ?? '5s'),
    'meter.stat_prefix': tc['stat_prefix'] ?? '',
    'meter.processing_mode': processingMode(tc['processing_mode']),
    'meter.forwarding_namespaces': sorted(isObj(md['forwarding_namespaces']) ? md['forwarding_namespaces']['untyped'] : undefined),
    'meter.role_metadata': gs['initial_metadata'] ?? [],
  };
}

/** The filters in order: the meter between kvfleet's ext_proc and the router, or the names as they are. */
function meterPosition(names: readonly string[]): unknown {
  const at = names.indexOf(METER_FILTER);
  const between = at > 0 && names[at - 1] === 'envoy.filters.http.ext_proc' && names[at + 1] === 'envoy.filters.http.router';
  return between ? 'between the ext_proc filter and the router' : names;
}

/** An ExtProcPerRoute that turns the meter on: its processing mode, Envoy's defaults filled. */
function renderOverride(perRoute: unknown): unknown {
  const pr = obj(perRoute, 'the meter per-route config');
  if (pr['@type'] !== 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute') return pr['@type'];
  return processingMode(obj(obj(pr['overrides'], 'overrides')['processing_mode'], 'overrides.processing_mode'));
}

/** JSON with object keys sorted: the same config, whatever the key order. */
function canonical(v: unknown): string {
  const sortKeys = (x: unknown): unknown =>
    Array.isArray(x)
      ? x.map(sortKeys)
      : isObj(x)
        ? Object.fromEntries(
            Object.keys(x)
              .sort()
              .map((k) => [k, sortKeys(x[k])]),
          )
        : x;
  return JSON.stringify(sortKeys(v));
}

/** One value when all are the same, else a marker that makes the comparison fail. */
function uniform(values: readonly unknown[], what: string): unknown {
  if (values.length === 0) return undefined;
  return values.every((v) => same(v, values[0])) ? values[0] : `${what} differ`;
}

/** The metered routes, summarized (see METER). */
interface MeteredRoutes {
  match: unknown;
  removed: boolean;
  only_they_match_it: boolean;
  unmetered_twin_same_destination: boolean;
}

/** Envoy routes: the meter on where typed_per_filter_config names it. */
function meteredRoutesEnvoy(routes: readonly Obj[]): MeteredRoutes | undefined {
  const on = (r: Obj) => isObj(r['typed_per_filter_config']) && r['typed_per_filter_config'][METER_FILTER] !== undefined;
  const headers = (r: Obj) => (isObj(r['match']) && Array.isArray(r['match']['headers']) ? r['match']['headers'].map((h) => obj(h, 'header matcher')) : []);
  const mark = (r: Obj) => headers(r).filter((h) => h['name'] === METER_HEADER);
  const metered = routes.filter(on);
  if (metered.length === 0) return undefined;
  return {
    match: uniform(
      metered.map((r) => (same(mark(r), [{ name: METER_HEADER, present_match: true }]) ? 'present' : mark(r))),
      'the metered matches',
    ),
    removed: metered.every((r) => Array.isArray(r['request_headers_to_remove']) && r['request_headers_to_remove'].includes(METER_HEADER)),
    only_they_match_it: routes.filter((r) => !on(r)).every((r) => mark(r).length === 0),
    unmetered_twin_same_destination: metered.every((r) => {
      const unmarked = { ...obj(r['match'], 'match'), headers: headers(r).filter((h) => h['name'] !== METER_HEADER) };
      const matchOf = (t: Obj) => ({ ...obj(t['match'], 'match'), headers: headers(t) });
      const twin = routes.slice(routes.indexOf(r) + 1).find((t) => !on(t) && canonical(matchOf(t)) === canonical(unmarked));
      return twin !== undefined && canonical(twin['route']) === canonical(r['route']);
    }),
  };
}

/** The endpoints of a cluster, as "address:port". */
function clusterEndpoints(cluster: Obj | undefined): string[] {
  return findAll(cluster, (o) => isObj(o['socket_address'])).map((o) => {
    const sa = obj(o['socket_address'], 'socket_address');
    return `${String(sa['address'])}:${String(sa['port_value'])}`;
  });
}

const clusterOf = (tc: Obj): unknown =>
  isObj(tc['grpc_service']) && isObj(tc['grpc_service']['envoy_grpc']) ? tc['grpc_service']['envoy_grpc']['cluster_name'] : undefined;

function renderMeterBootstrap(boot: unknown, extProc: Obj): RenderedMeter {
  const hcm = only(boot, isHcm, 'one HTTP connection manager');
  const filters = arr(hcm['http_filters'], 'http_filters').map((f) => obj(f, 'http filter'));
  const meter = filters.find((f) => f['name'] === METER_FILTER);
  if (meter === undefined) return {};
  const tc = obj(meter['typed_config'], 'meter typed_config');
  const clusters = new Map(
    arr(obj(obj(boot, 'bootstrap')['static_resources'], 'static_resources')['clusters'], 'clusters').map((c) => [obj(c, 'cluster')['name'], obj(c, 'cluster')]),
  );
  const own = clusters.get(clusterOf(tc));
  const routing = clusters.get(clusterOf(extProc));
  const vh = only(hcm['route_config'], (o) => Array.isArray(o['routes']), 'one virtual host');
  const routes = arr(vh['routes'], 'routes').map((r) => obj(r, 'route'));
  const perConnection = findAll(own, (o) => 'max_requests_per_connection' in o)[0]?.['max_requests_per_connection'];
  return {
    'meter.position': meterPosition(filters.map((f) => String(f['name']))),
    ...renderMeterFilter(tc),
    'meter.service':
      clusterOf(tc) === clusterOf(extProc)
        ? "the ext_proc filter's cluster"
        : same(clusterEndpoints(own), clusterEndpoints(routing))
          ? "a cluster of its own to the ext_proc filter's endpoints"
          : clusterOf(tc),
    'meter.max_requests_per_connection': perConnection ?? 'unlimited',
    'meter.route_override': uniform(
      routes.flatMap((r) =>
        isObj(r['typed_per_filter_config']) && r['typed_per_filter_config'][METER_FILTER] !== undefined
          ? [renderOverride(r['typed_per_filter_config'][METER_FILTER])]
          : [],
      ),
      'the per-route overrides',
    ),
    'meter.metered_routes': meteredRoutesEnvoy(routes),
  };
}

// Istio: the meter is the second INSERT_BEFORE-router patch; HTTP_ROUTE MERGE patches add its
// per-route config to the routes of that name, which Istio takes from the VirtualService's
// http[].name (pilot/pkg/networking/core/route: translateRoute names the Envoy route
// `<http.name>[.<match.name>]`; envoyfilter/rc_patch.go: routeMatch compares the names). A
// header match with an empty StringMatch ({}) becomes present_match (translateHeaderMatch),
// headers.request.remove the route's request_headers_to_remove. Istio has one cluster per
// Service port: a DestinationRule's connectionPool.http.maxRequestsPerConnection sets its
// common_http_protocol_options.max_requests_per_connection.
function istioRoutePatches(): Array<{ name: unknown; value: Obj }> {
  const ef = findObject(ISTIO, 'EnvoyFilter', 'kvfleet-ext-proc');
  return arr(obj(ef['spec'], 'spec')['configPatches'], 'configPatches')
    .map((p) => obj(p, 'patch'))
    .filter((p) => p['applyTo'] === 'HTTP_ROUTE' && obj(p['patch'], 'patch')['operation'] === 'MERGE')
    .map((p) => {
      const vhost = obj(obj(obj(p['match'], 'match')['routeConfiguration'], 'routeConfiguration')['vhost'], 'vhost');
      return { name: obj(vhost['route'], 'route')['name'], value: obj(obj(p['patch'], 'patch')['value'], 'HTTP_ROUTE value') };
    });
}

/** VirtualService http routes: the meter on for those an HTTP_ROUTE patch names. */
function meteredRoutesIstio(http: readonly Obj[], names: readonly unknown[]): MeteredRoutes | string | undefined {
  if (names.some((n) => !http.some((h) => h['name'] === n))) return 'an HTTP_ROUTE patch names no VirtualService route';
  const on = (h: Obj) => names.includes(h['name']);
  const matches = (h: Obj) => arr(h['match'] ?? [{}], 'match').map((m) => obj(m, 'match'));
  const headers = (m: Obj) => (isObj(m['headers']) ? m['headers'] : {});
  /** Istio's translation of a header StringMatch: none of exact/prefix/regex (or regex "*") is present_match. */
  const mark = (m: Obj) => {
    const sm = headers(m)[METER_HEADER];
    if (sm === undefined) return undefined;
    const o = obj(sm, 'StringMatch');
    return Object.keys(o).length === 0 || same(o, { regex: '*' }) ? 'present' : o;
  };
  const metered = http.filter(on);
  if (metered.length === 0) return undefined;
  const rest = (h: Obj) => Object.fromEntries(Object.entries(h).filter(([k]) => k !== 'name' && k !== 'match' && k !== 'headers'));
  const unmarked = (m: Obj) => ({ ...m, headers: Object.fromEntries(Object.entries(headers(m)).filter(([k]) => k !== METER_HEADER)) });
  return {
    match: uniform(
      metered.flatMap((h) => matches(h).map(mark)),
      'the metered matches',
    ),
    removed: metered.every((h) => {
      const req = isObj(h['headers']) && isObj(h['headers']['request']) ? h['headers']['request'] : {};
      return Array.isArray(req['remove']) && req['remove'].includes(METER_HEADER);
    }),
    only_they_match_it: http.filter((h) => !on(h)).every((h) => matches(h).every((m) => mark(m) === undefined)),
    unmetered_twin_same_destination: metered.every((h) => {
      const twin = http
        .slice(http.indexOf(h) + 1)
        .find((t) => !on(t) && canonical(matches(t).map((m) => ({ ...m, headers: headers(m) }))) === canonical(matches(h).map(unmarked)));
      return twin !== undefined && canonical(rest(twin)) === canonical(rest(h));
    }),
  };
}

function renderMeterIstio(extProc: Obj): RenderedMeter {
  const inserted = istioPatches('HTTP_FILTER', 'INSERT_BEFORE');
  const meter = inserted.find((v) => v['name'] === METER_FILTER);
  if (meter === undefined) return {};
  const tc = obj(meter['typed_config'], 'meter typed_config');
  // Each INSERT_BEFORE lands just before the router, in patch order.
  const order = [...inserted.map((v) => String(v['name'])), 'envoy.filters.http.router'];
  const cluster = String(clusterOf(tc));
  const host = cluster.split('|').at(-1);
  const rules = loadYaml(ISTIO)
    .map((d) => d.body)
    .filter((b): b is Obj => isObj(b) && b['kind'] === 'DestinationRule' && obj(b['spec'], 'spec')['host'] === host);
  const pools = rules.map((dr) => {
    const tp = obj(obj(dr['spec'], 'spec')['trafficPolicy'] ?? {}, 'trafficPolicy');
    const http = isObj(tp['connectionPool']) && isObj(tp['connectionPool']['http']) ? tp['connectionPool']['http'] : {};
    return http['maxRequestsPerConnection'];
  });
  const patches = istioRoutePatches();
  const vs = findObject(ISTIO, 'VirtualService', 'kvfleet-llm');
  const http = arr(obj(vs['spec'], 'spec')['http'], 'http').map((h) => obj(h, 'http route'));
  return {
    'meter.position': meterPosition(order),
    ...renderMeterFilter(tc),
    'meter.service': cluster === clusterOf(extProc) ? "the ext_proc filter's cluster" : cluster,
    'meter.max_requests_per_connection': rules.length === 1 ? (pools[0] ?? 'unlimited') : `${rules.length} DestinationRules for ${String(host)}`,
    'meter.route_override': uniform(
      patches.map((p) => renderOverride(obj(p.value['typed_per_filter_config'], 'typed_per_filter_config')[METER_FILTER])),
      'the per-route overrides',
    ),
    'meter.metered_routes': meteredRoutesIstio(
      http,
      patches.map((p) => p.name),
    ),
  };
}

const NOT_CONFIGURED_EG = 'expressible on an extProc entry, but no meter is configured on Envoy Gateway (see meter.role_metadata and meter.route_override)';
const POOL_NO_METER =
  "the InferencePool API has no field for it: the gateway builds the ext_proc filters, and the Endpoint Picker Protocol covers the picker's one filter. No meter, so no token metering: budgets and token limits are charged the admission estimate, never the tokens actually used";
const KNOWN_METER: Record<string, Partial<Record<Meter, Known>>> = {
  'envoy/envoy.yaml': {},
  'envoy/envoy.docker.yaml': {},
  [ISTIO]: {
    'meter.service': {
      reason:
        "Istio has one cluster per Service port: the meter shares the routing filter's (and the access log's) connections to kvfleet, and the kvfleet DestinationRule renews them all after 500 streams. Each connection stays under Node's 1,000-reset budget, but the meter's resets land on routing connections too and routing streams reconnect every 500 (a cluster of the meter's own would be a hand-written EnvoyFilter CLUSTER ADD, outside Istio's service discovery and mTLS)",
      expect: "the ext_proc filter's cluster",
    },
  },
  [EG]: {
    'meter.role_metadata': {
      cannotExpress: true,
      reason: `${EG_NO_FIELD}: kvfleet tells a meter's streams from routing requests by this gRPC initial metadata (x-kvfleet-role: meter), so an extProc meter's streams would reach kvfleet as routing requests and never be read. No meter is configured: budgets and token limits are charged the admission estimate, never the tokens actually used`,
    },
    'meter.route_override': {
      cannotExpress: true,
      reason:
        "EnvoyExtensionPolicy has no per-route processing-mode override, and a meter policy on the metered rules only (targetRefs sectionName) would never run: Envoy Gateway adds a route-attached filter disabled and enables it on the rules it targets, and Envoy builds a request's filters on the first route matched, before kvfleet's answer re-matches the request to a metered rule (observed with Envoy 1.40); on every rule it would copy every response to kvfleet",
    },
    'meter.metered_routes': {
      cannotExpress: true,
      reason: "with no meter no rule turns it on; every rule removes x-kvfleet-meter (RequestHeaderModifier), so kvfleet's mark never reaches a replica",
    },
    'meter.position': { notConfigured: true, reason: `${NOT_CONFIGURED_EG} (extProc entries run in list order)` },
    'meter.observability_mode': { notConfigured: true, reason: `${NOT_CONFIGURED_EG} (shadowMode)` },
    'meter.failure_mode_allow': { notConfigured: true, reason: `${NOT_CONFIGURED_EG} (failOpen)` },
    'meter.processing_mode': {
      notConfigured: true,
      reason: `${NOT_CONFIGURED_EG} (processingMode; but only one mode for every rule, see meter.route_override)`,
    },
    'meter.forwarding_namespaces': { notConfigured: true, reason: `${NOT_CONFIGURED_EG} (metadata.accessibleNamespaces)` },
    'meter.service': { notConfigured: true, reason: `${NOT_CONFIGURED_EG} (backendRefs)` },
    'meter.max_requests_per_connection': { notConfigured: true, reason: `${NOT_CONFIGURED_EG} (backendSettings.circuitBreaker.maxRequestsPerConnection)` },
    'meter.deferred_close_timeout': { cannotExpress: true, reason: `${EG_NO_FIELD} (Envoy's default, 5 s, would apply); no meter is configured anyway` },
    'meter.stat_prefix': { cannotExpress: true, reason: `${EG_NO_FIELD}; no meter is configured anyway` },
  },
  'envoy/inferencepool.yaml': {
    ...Object.fromEntries(METER.map((m) => [m, { cannotExpress: true, reason: POOL_NO_METER }])),
    'meter.metered_routes': {
      cannotExpress: true,
      reason: `${POOL_NO_METER}; the HTTPRoute removes x-kvfleet-meter (RequestHeaderModifier), so kvfleet's mark never reaches a model server`,
    },
  },
};

// ── extracting each variant ───────────────────────────────────────────────────────
/** The typed_config of the single ext_proc filter in a parsed Envoy config. */
function extProcIn(root: unknown, what: string): Obj {
  const found = findAll(root, (n) => n['name'] === 'envoy.filters.http.ext_proc' && isObj(n['typed_config']));
  expect(found, `${what}: one ext_proc filter`).toHaveLength(1);
  return obj(found[0]?.['typed_config'], 'typed_config');
}

const bootstrap = (file: string) => {
  const docs = loadYaml(file);
  expect(docs).toHaveLength(1);
  return docs[0]?.body;
};

const reference = extProcIn(bootstrap('envoy/envoy.yaml'), 'envoy/envoy.yaml');

interface Variant {
  file: string;
  rendered: Rendered;
  around: RenderedAround;
  meter: RenderedMeter;
}
const variants: Variant[] = [
  ...['envoy/envoy.yaml', 'envoy/envoy.docker.yaml'].map((file) => {
    const boot = bootstrap(file);
    const tc = extProcIn(boot, file);
    return { file, rendered: renderEnvoy(tc), around: renderAroundBootstrap(boot, tc), meter: renderMeterBootstrap(boot, tc) };
  }),
  (() => {
    // kvfleet's filter, then the meter: both inserted before the router.
    const inserted = istioPatches('HTTP_FILTER', 'INSERT_BEFORE');
    expect(inserted).toHaveLength(2);
    const tc = extProcIn(inserted, 'EnvoyFilter patches');
    return { file: ISTIO, rendered: renderEnvoy(tc), around: renderAroundIstio(tc), meter: renderMeterIstio(tc) };
  })(),
  (() => {
    const eep = findObject(EG, 'EnvoyExtensionPolicy', 'kvfleet');
    const eps = arr(obj(eep['spec'], 'spec')['extProc'], 'extProc');
    // kvfleet's filter only: no meter (KNOWN_METER says why).
    expect(eps).toHaveLength(1);
    const ep = obj(eps[0], 'extProc[0]');
    return { file: EG, rendered: renderEnvoyGateway(ep), around: renderAroundEnvoyGateway(ep, obj(eep['metadata'], 'metadata')['namespace']), meter: {} };
  })(),
  {
    file: 'envoy/inferencepool.yaml',
    rendered: renderInferencePool(findObject('envoy/inferencepool.yaml', 'InferencePool', 'llama-3-8b')),
    around: {},
    meter: {},
  },
];

const ref = renderEnvoy(reference);
const refAround = renderAroundBootstrap(bootstrap('envoy/envoy.yaml'), reference);
const refMeter = renderMeterBootstrap(bootstrap('envoy/envoy.yaml'), reference);

/** One test per setting: equal to the reference, or the KNOWN entry holds. */
function compare<S extends string>(
  settings: readonly S[],
  rendered: Partial<Record<S, unknown>>,
  reference: Partial<Record<S, unknown>>,
  known: Partial<Record<S, Known>>,
  file: string,
): void {
  for (const s of settings) {
    const k = known[s];
    if (k === undefined) {
      it(`${s} matches the reference`, () => {
        expect(rendered[s], `${file} ${s}`).toBeDefined();
        expect(rendered[s], `${file} ${s}`).toEqual(reference[s]);
      });
    } else if ('cannotExpress' in k || 'notConfigured' in k) {
      it(`${s}: known difference — ${'cannotExpress' in k ? 'cannot be expressed' : 'not configured'} (${k.reason})`, () => {
        // Stale allowance: once the variant renders the setting, compare it instead.
        expect(rendered[s], `${file} renders ${s}: remove it from KNOWN`).toBeUndefined();
      });
    } else {
      it(`${s}: known difference by design (${k.reason})`, () => {
        expect(rendered[s]).toEqual(k.expect);
        expect(rendered[s], 'a difference by design that is no difference: remove it from KNOWN').not.toEqual(reference[s]);
      });
    }
  }
}

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

  for (const v of variants) describe(v.file, () => compare(SETTINGS, v.rendered, ref, KNOWN[v.file] ?? {}, v.file));

  it("InferencePool's body modes are the reference's own (full duplex); its only by-design processing-mode difference is the response side", () => {
    const pool = variants.find((v) => v.file === 'envoy/inferencepool.yaml')?.rendered ?? {};
    const fd = { name: 'envoy.filters.http.ext_proc', typed_config: structuredClone(reference) };
    // The shipped reference already is processing-mode.ts's full-duplex variant…
    expect(setExtProcMode(fd, 'full-duplex')).toBe(0);
    expect(renderEnvoy(fd.typed_config)).toEqual(ref);
    // …and the keys its buffered variant changes are exactly the body-mode keys: compared for the
    // InferencePool, never excused, and the protocol's values, not the buffered ones.
    expect(setExtProcMode(fd, 'buffered')).toBe(1);
    const buffered = renderEnvoy(fd.typed_config);
    const bodyKeys = SETTINGS.filter((s) => !same(buffered[s], ref[s]));
    expect(bodyKeys).toEqual(['processing_mode.request_body_mode', 'processing_mode.request_trailer_mode']);
    for (const s of bodyKeys) {
      expect(KNOWN['envoy/inferencepool.yaml']?.[s], s).toBeUndefined();
      expect(pool[s], s).toEqual(ref[s]);
      expect(pool[s], s).not.toEqual(buffered[s]);
    }
    const byDesign = Object.entries(KNOWN['envoy/inferencepool.yaml'] ?? {}).filter(
      ([s, k]) => s.startsWith('processing_mode.') && k !== undefined && 'expect' in k,
    );
    expect(byDesign.map(([s]) => s)).toEqual(['processing_mode.response_header_mode']);
  });
});

describe('around the filter: explanation headers, access log to kvfleet, retries', () => {
  it('covers each shipped variant', () => {
    expect(variants.map((v) => v.file).sort()).toEqual(Object.keys(KNOWN_AROUND).sort());
  });

  it('the reference renders every setting (a missing one would excuse the variants)', () => {
    for (const s of AROUND) expect(refAround[s], s).toBeDefined();
    expect(refAround['access_log.service']).toBe('the ext_proc service');
    // The per-attempt log is the same logger as the request ends'.
    expect(refAround['upstream_log']).toEqual({
      service: refAround['access_log.service'],
      log_name: refAround['access_log.log_name'],
      transport_api_version: refAround['access_log.transport_api_version'],
      additional_response_headers_to_log: refAround['access_log.additional_response_headers_to_log'],
      batching: refAround['access_log.batching'],
      grpc_stream_retry_policy: refAround['access_log.grpc_stream_retry_policy'],
    });
  });

  for (const v of variants) describe(v.file, () => compare(AROUND, v.around, refAround, KNOWN_AROUND[v.file] ?? {}, v.file));
});

describe('the meter: the observability-mode filter, its connection to kvfleet, the metered routes', () => {
  it('covers each shipped variant', () => {
    expect(variants.map((v) => v.file).sort()).toEqual(Object.keys(KNOWN_METER).sort());
  });

  it('the reference renders every setting, and the comparison covers every field of its meter filter', () => {
    for (const m of METER) expect(refMeter[m], m).toBeDefined();
    expect(refMeter).toMatchObject({
      'meter.position': 'between the ext_proc filter and the router',
      'meter.observability_mode': true,
      'meter.failure_mode_allow': true,
      'meter.role_metadata': [{ key: ROLE_HEADER, value: 'meter' }],
      'meter.forwarding_namespaces': ['kvfleet'],
      'meter.service': "a cluster of its own to the ext_proc filter's endpoints",
      'meter.metered_routes': { match: 'present', removed: true, only_they_match_it: true, unmetered_twin_same_destination: true },
    });
    const tc = obj(findAll(bootstrap('envoy/envoy.yaml'), (o) => o['name'] === METER_FILTER)[0]?.['typed_config'], 'the meter');
    // A new field in envoy.yaml's meter must be added to METER (and to the renderers).
    expect(Object.keys(tc).filter((k) => METER_FIELDS[k] === undefined)).toEqual([]);
    expect(Object.keys(obj(tc['grpc_service'], 'grpc_service')).sort()).toEqual(['envoy_grpc', 'initial_metadata']);
    expect(Object.keys(obj(tc['metadata_options'], 'metadata_options'))).toEqual(['forwarding_namespaces']);
  });

  for (const v of variants) describe(v.file, () => compare(METER, v.meter, refMeter, KNOWN_METER[v.file] ?? {}, v.file));
});

describe('the renderers (so a comparison can fail)', () => {
  it('Envoy: defaults for absent fields, durations in ms, namespace order ignored', () => {
    expect(renderEnvoy({})).toMatchObject({
      message_timeout: 200,
      failure_mode_allow: false,
      'processing_mode.request_header_mode': 'SEND',
      'processing_mode.response_header_mode': 'SEND',
      allow_mode_override: false,
    });
    expect(renderEnvoy({ message_timeout: '1.5s', metadata_options: { receiving_namespaces: { untyped: ['b', 'a'] } } })).toMatchObject({
      message_timeout: 1500,
      'metadata_options.receiving_namespaces': ['a', 'b'],
    });
  });

  it('Envoy Gateway: a drifted policy differs from the reference where it drifted', () => {
    const eep = structuredClone(findObject(EG, 'EnvoyExtensionPolicy', 'kvfleet'));
    const ep = obj(arr(obj(eep['spec'], 'spec')['extProc'], 'extProc')[0], 'extProc[0]');
    ep['messageTimeout'] = '200ms';
    obj(ep['metadata'], 'metadata')['accessibleNamespaces'] = ['envoy.lb'];
    const pm = obj(ep['processingMode'], 'pm');
    obj(pm['request'], 'request')['body'] = 'Buffered';
    pm['response'] = {};
    pm['allowModeOverride'] = true;
    const r = renderEnvoyGateway(ep);
    const unexpressed = KNOWN[EG] ?? {};
    const drifted = SETTINGS.filter((s) => !(unexpressed[s] !== undefined && 'cannotExpress' in unexpressed[s]) && !same(r[s], ref[s]));
    expect(drifted).toEqual([
      'processing_mode.request_body_mode',
      'processing_mode.request_trailer_mode',
      'processing_mode.response_header_mode',
      'message_timeout',
      'metadata_options.forwarding_namespaces',
      'allow_mode_override',
    ]);
  });

  it('Envoy Gateway: full duplex in either direction brings that direction’s trailers', () => {
    const r = renderEnvoyGateway({ processingMode: { request: { body: 'FullDuplexStreamed' }, response: { body: 'FullDuplexStreamed' } } });
    expect(r['processing_mode.request_trailer_mode']).toBe('SEND');
    expect(r['processing_mode.response_trailer_mode']).toBe('SEND');
    expect(renderEnvoyGateway({})['processing_mode.request_header_mode']).toBe('SKIP');
  });

  it('around: a header appended instead of overwritten, a logger on another service and a retry trigger more all differ', () => {
    const boot = structuredClone(bootstrap('envoy/envoy.yaml'));
    const vh = only(boot, (o) => 'response_headers_to_add' in o, 'the virtual host');
    delete obj(arr(vh['response_headers_to_add'], 'add')[0], 'first header')['append_action'];
    const hcm = only(boot, isHcm, 'the HCM');
    // A copy: envoy.yaml's upstream_log shares this common_config (a YAML alias).
    const logger = obj(grpcLogger(hcm['access_log']), 'logger');
    logger['common_config'] = { ...obj(logger['common_config'], 'cc'), grpc_service: { envoy_grpc: { cluster_name: 'elsewhere' } } };
    const rp = only(boot, (o) => 'retry_on' in o && 'retriable_status_codes' in o, 'the model retry policy');
    rp['retry_on'] = `${String(rp['retry_on'])},5xx`;
    const r = renderAroundBootstrap(boot, extProcIn(boot, 'drifted'));
    const drifted = AROUND.filter((s) => !same(r[s], refAround[s]));
    expect(drifted).toEqual(['explanation.response_headers_to_add', 'access_log.service', 'retry.retry_on']);
  });

  it('retries: the status codes fold into the retriable-status-codes trigger, so a changed code differs', () => {
    expect(retryOn(['reset', 'retriable-status-codes'], [503])).toEqual(['reset', 'retriable-status-codes:503']);
    expect(retryOn(['retriable-status-codes'], [502])).not.toEqual(retryOn(['retriable-status-codes'], [503]));
  });

  it('meter: a meter that fails closed, a metered route that keeps the mark, a buffered override and no connection renewal all differ', () => {
    const boot = structuredClone(bootstrap('envoy/envoy.yaml'));
    const meter = obj(only(boot, (o) => o['name'] === METER_FILTER, 'the meter')['typed_config'], 'meter');
    meter['failure_mode_allow'] = false;
    const metered = findAll(boot, (o) => Array.isArray(o['request_headers_to_remove']) && o['request_headers_to_remove'].includes(METER_HEADER));
    delete metered[0]?.['request_headers_to_remove'];
    // The metered routes share one per-route config (a YAML alias): both drift.
    const pm = only(boot, (o) => o['response_body_mode'] === 'STREAMED', 'the override');
    pm['response_body_mode'] = 'BUFFERED';
    const own = only(boot, (o) => 'max_requests_per_connection' in o, "the meter cluster's protocol options");
    delete own['max_requests_per_connection'];
    const r = renderMeterBootstrap(boot, extProcIn(boot, 'drifted'));
    expect(METER.filter((m) => !same(r[m], refMeter[m]))).toEqual([
      'meter.failure_mode_allow',
      'meter.max_requests_per_connection',
      'meter.route_override',
      'meter.metered_routes',
    ]);
  });

  it('meter, Istio: a patch naming no route, a twin to another pool and an unmetered route matching the mark all differ', () => {
    const vs = structuredClone(findObject(ISTIO, 'VirtualService', 'kvfleet-llm'));
    const http = arr(obj(vs['spec'], 'spec')['http'], 'http').map((h) => obj(h, 'http route'));
    const names = istioRoutePatches().map((p) => p.name);
    expect(meteredRoutesIstio(http, names)).toEqual(refMeter['meter.metered_routes']);
    expect(meteredRoutesIstio(http, [...names, 'kvfleet-metered-gone'])).toBe('an HTTP_ROUTE patch names no VirtualService route');
    const twinElsewhere = http.map((h) => structuredClone(h));
    const [first] = twinElsewhere.filter((h) => names.includes(h['name']));
    if (first !== undefined) first['route'] = [{ destination: { host: 'elsewhere.llm.svc.cluster.local', port: { number: 8000 } } }];
    expect(meteredRoutesIstio(twinElsewhere, names)).toMatchObject({ unmetered_twin_same_destination: false });
    const marked = http.map((h) => structuredClone(h));
    const unmetered = marked.find((h) => !names.includes(h['name']));
    const m0 = obj(arr(unmetered?.['match'], 'match')[0], 'match 0');
    m0['headers'] = { ...obj(m0['headers'], 'headers'), [METER_HEADER]: {} };
    expect(meteredRoutesIstio(marked, names)).toMatchObject({ only_they_match_it: false });
  });

  it('InferencePool: FailOpen renders failure_mode_allow: true', () => {
    const pool = structuredClone(findObject('envoy/inferencepool.yaml', 'InferencePool', 'llama-3-8b'));
    obj(obj(pool['spec'], 'spec')['endpointPickerRef'], 'ref')['failureMode'] = 'FailOpen';
    expect(renderInferencePool(pool).failure_mode_allow).toBe(true);
  });
});
