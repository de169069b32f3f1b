// Every YAML under envoy/ is checked here (DESIGN §3):
//  - Envoy bootstraps pass `envoy --mode validate` with the real 1.40 binary, and keep the
//    invariants kvfleet depends on (fail closed, override_host, retries, …);
//  - Kubernetes manifests parse and carry the fields kvfleet needs; the Envoy fragments
//    inside the Istio EnvoyFilter are spliced into a bootstrap and validated too;
//  - fleet files pass kvfleet's own fleet validation and agree with the Envoy configs.
// A missing Envoy binary FAILS these tests (run `bash scripts/setup-envoy.sh`).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dockerFleet, dockerVariant } from '../../src/tools/envoy/docker-variant.js';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { locateEnvoy } from '../../src/tools/envoy/locate.js';
import { setExtProcMode } from '../../src/tools/envoy/processing-mode.js';
import { EXPLANATION_HEADERS } from '../../src/extproc/explain-metadata.js';
import { METER_HEADER } from '../../src/extproc/phases/request-body.js';
import { ROLE_HEADER } from '../../src/extproc/server.js';
import { parseFleet } from '../../src/config/load.js';
import { MIRROR_HEADER_PREFIX, SHADOW_CLUSTER, SHADOW_SLOT_HEADER } from '../../src/extproc/phases/shadow.js';
import { MAX_SHADOW_CANDIDATES } from '../../src/config/shadow-schema.js';
import { CONFIG_PORTS, portMap, remapPorts, REPO_ROOT } from '../helpers/envoy.js';

type Obj = Record<string, unknown>;
const ENVOY_DIR = join(REPO_ROOT, 'envoy');
const MODEL_PORTS = [18001, 18002, 18011, 18012, 18443];
const scratch = mkdtempSync(join(tmpdir(), 'kvfleet-envoy-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// ── small helpers ─────────────────────────────────────────────────────────────────
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
function obj(v: unknown, what: string): Obj {
  if (!isObj(v)) throw new Error(`${what}: expected an object, got ${JSON.stringify(v)}`);
  return v;
}
function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`${what}: expected a list, got ${JSON.stringify(v)}`);
  return v;
}
/** "1.5s", "300s", "1500ms" → seconds. */
function seconds(d: unknown): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(String(d));
  if (!m) throw new Error(`not a duration: ${String(d)}`);
  return Number(m[1]) / (m[2] === 'ms' ? 1000 : 1);
}
/** Every object (at any depth) that has key `k`. */
function withKey(node: unknown, k: string, out: Obj[] = []): Obj[] {
  if (Array.isArray(node)) for (const x of node) withKey(x, k, out);
  else if (isObj(node)) {
    if (k in node) out.push(node);
    for (const v of Object.values(node)) withKey(v, k, out);
  }
  return out;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

type Kind = 'bootstrap' | 'k8s' | 'fleet' | 'sds';
function classify(file: string): Kind {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const d of docs) if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]?.message}`);
  const js = docs.map((d) => d.toJS() as unknown);
  if (js.length > 0 && js.every((d) => isObj(d) && typeof d['apiVersion'] === 'string' && typeof d['kind'] === 'string')) {
    return 'k8s';
  }
  const [only] = js;
  if (js.length === 1 && isObj(only) && 'static_resources' in only) return 'bootstrap';
  if (js.length === 1 && isObj(only) && 'models' in only) return 'fleet';
  // An SDS file (the hosted provider's key, read by Envoy's credential injector).
  if (js.length === 1 && isObj(only) && Array.isArray(only['resources'])) return 'sds';
  throw new Error(`${relative(REPO_ROOT, file)}: neither an Envoy bootstrap, a Kubernetes manifest nor a fleet file`);
}

const files = yamlFiles(ENVOY_DIR).map((f) => ({ file: f, name: relative(ENVOY_DIR, f), kind: classify(f) }));
const bootstraps = files.filter((f) => f.kind === 'bootstrap');
const manifests = files.filter((f) => f.kind === 'k8s');
const fleets = files.filter((f) => f.kind === 'fleet');

function envoyBin(): string {
  const bin = locateEnvoy(REPO_ROOT);
  if (bin === undefined) {
    throw new Error('Envoy binary not found on PATH or in .venv/bin/envoy: run `bash scripts/setup-envoy.sh`');
  }
  return bin;
}

function validate(file: string): { status: number | null; output: string } {
  const r = spawnSync(envoyBin(), ['--mode', 'validate', '-c', file, '-l', 'error'], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

function loadBootstrap(name: string): Obj {
  return obj(parse(readFileSync(join(ENVOY_DIR, name), 'utf8')), name);
}

/** The meter: envoy.yaml's second ext_proc filter (observability mode), by name. */
const METER_FILTER = 'kvfleet-meter';

interface Parts {
  hcm: Obj;
  extProc: Obj;
  /** The meter filter's typed_config. */
  meter: Obj;
  filterNames: string[];
  /** The virtual host's routes, in order. */
  routes: Obj[];
  /** The catch-all route's action (the last route). */
  route: Obj;
  clusters: Map<string, Obj>;
  listener: Obj;
}
function parts(boot: Obj): Parts {
  const sr = obj(boot['static_resources'], 'static_resources');
  const listeners = arr(sr['listeners'], 'listeners');
  expect(listeners).toHaveLength(1);
  const listener = obj(listeners[0], 'listener');
  const hcms = withKey(listener, 'http_filters');
  expect(hcms).toHaveLength(1);
  const hcm = hcms[0] as Obj;
  const filters = arr(hcm['http_filters'], 'http_filters').map((f) => obj(f, 'http filter'));
  const filterNames = filters.map((f) => String(f['name']));
  const extProc = obj(filters.find((f) => f['name'] === 'envoy.filters.http.ext_proc')?.['typed_config'], 'ext_proc');
  const meter = obj(filters.find((f) => f['name'] === METER_FILTER)?.['typed_config'], 'meter');
  const vhosts = arr(obj(hcm['route_config'], 'route_config')['virtual_hosts'], 'virtual_hosts');
  const routes = arr(obj(vhosts[0], 'vhost')['routes'], 'routes').map((r) => obj(r, 'route'));
  // The catch-all route (cluster from x-kvfleet-cluster) comes last; routes before it serve one
  // cluster each, or are metered (x-kvfleet-meter), or both.
  const route = obj(routes.at(-1)?.['route'], 'route action');
  const clusters = new Map(arr(sr['clusters'], 'clusters').map((c) => [String(obj(c, 'cluster')['name']), c as Obj]));
  return { hcm, extProc, meter, filterNames, routes, route, clusters, listener };
}

/** kvfleet's own clusters: the routing filter's (and the access log's), and the meter's. */
const KVFLEET_CLUSTERS = new Set(['kvfleet', 'kvfleet_meter']);
/** Not a model pool either: shadow copies going back into the listener (routes' request_mirror_policies). */
const notPool = (n: string) => KVFLEET_CLUSTERS.has(n) || n === SHADOW_CLUSTER;
/** The self-hosted model pools (the hosted provider's cluster is checked on its own). */
const modelClusters = (p: Parts) => [...p.clusters].filter(([n, c]) => !notPool(n) && c['transport_socket'] === undefined);
const hostedClusters = (p: Parts) => [...p.clusters].filter(([n, c]) => !notPool(n) && c['transport_socket'] !== undefined);

/** The meter's per-route config on a route (undefined: the meter stays off there). */
const meterOn = (r: Obj): unknown => (isObj(r['typed_per_filter_config']) ? r['typed_per_filter_config'][METER_FILTER] : undefined);
/** A route's header matchers. */
const headerMatches = (r: Obj): Obj[] => arr(obj(r['match'], 'match')['headers'] ?? [], 'headers').map((h) => obj(h, 'header matcher'));
/** Its match without the x-kvfleet-meter matcher (the unmetered twin's match). */
function withoutMeterMatch(r: Obj): Obj {
  const m = structuredClone(obj(r['match'], 'match'));
  const rest = headerMatches(r).filter((h) => h['name'] !== METER_HEADER);
  if (rest.length > 0) m['headers'] = rest;
  else delete m['headers'];
  return m;
}

function endpointsOf(cluster: Obj): Array<{ address: string; port: number }> {
  return withKey(cluster, 'socket_address').map((o) => {
    const sa = obj(o['socket_address'], 'socket_address');
    return { address: String(sa['address']), port: Number(sa['port_value']) };
  });
}

// ── inventory ─────────────────────────────────────────────────────────────────────
describe('envoy/ inventory', () => {
  it('holds the expected bootstraps, manifests and fleet file', () => {
    expect(bootstraps.map((f) => f.name).sort()).toEqual(['envoy.docker.yaml', 'envoy.yaml']);
    expect(manifests.map((f) => f.name).sort()).toEqual(['envoy-gateway-extension-policy.yaml', 'inferencepool.yaml', 'istio-envoyfilter.yaml']);
    expect(fleets.map((f) => f.name)).toEqual(['fleet.docker.yaml']);
  });
});

// ── envoy --mode validate ─────────────────────────────────────────────────────────
describe('envoy --mode validate (real Envoy binary)', () => {
  it('finds the Envoy binary (run `bash scripts/setup-envoy.sh` if this fails)', () => {
    const bin = envoyBin();
    const v = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/version: \S+\/1\.40\./);
  });

  for (const f of bootstraps) {
    it(`${f.name} validates`, () => {
      // The compose variant reads the demo TLS material where compose mounts it: point that at the repo.
      const text = readFileSync(f.file, 'utf8');
      let file = f.file;
      if (text.includes('/etc/envoy/demo/')) {
        file = join(scratch, `mounted-${f.name}`);
        writeFileSync(file, text.replaceAll('/etc/envoy/demo/', `${join(ENVOY_DIR, 'demo')}/`));
      }
      const r = validate(file);
      expect(r.status, r.output).toBe(0);
      expect(r.output).toContain('OK');
    });
  }

  it('rejects a config with an unknown field (validate really checks)', () => {
    const text = readFileSync(join(ENVOY_DIR, 'envoy.yaml'), 'utf8').replace('failure_mode_allow:', 'failure_mode_alow:');
    const bad = join(scratch, 'bad.yaml');
    writeFileSync(bad, text);
    const r = validate(bad);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('failure_mode_alow');
  });

  it('the Envoy fragments of istio-envoyfilter.yaml validate when spliced into envoy.yaml', () => {
    const docs = parseAllDocuments(readFileSync(join(ENVOY_DIR, 'istio-envoyfilter.yaml'), 'utf8')).map((d) => obj(d.toJS(), 'doc'));
    const ef = obj(
      docs.find((d) => d['kind'] === 'EnvoyFilter'),
      'EnvoyFilter',
    );
    const patches = arr(obj(ef['spec'], 'spec')['configPatches'], 'configPatches').map((p) => obj(p, 'patch'));
    const patchesOf = (applyTo: string, operation: string, count: number): Obj[] => {
      const found = patches.filter((p) => p['applyTo'] === applyTo && obj(p['patch'], 'patch')['operation'] === operation);
      expect(found, `${applyTo} ${operation} patches`).toHaveLength(count);
      return found;
    };
    /** The values of the patches of `applyTo` with `operation`, in order (Istio's cluster names → the bootstrap's `kvfleet`). */
    const values = (applyTo: string, operation: string, count: number): Obj[] =>
      patchesOf(applyTo, operation, count).map((p) => {
        const v = structuredClone(obj(obj(p['patch'], 'patch')['value'], `${applyTo} value`));
        // Istio's cluster name does not exist in the bootstrap: point it at `kvfleet`.
        for (const o of withKey(v, 'cluster_name')) {
          expect(o['cluster_name']).toBe('outbound|9002||kvfleet.llm.svc.cluster.local');
          o['cluster_name'] = 'kvfleet';
        }
        return v;
      });
    const value = (applyTo: string, operation: string, count = 1): Obj => values(applyTo, operation, count)[0] as Obj;
    /** Istio's MERGE: protobuf merge semantics (messages merged field by field, repeated fields appended). */
    const merge = (into: Obj, from: Obj): void => {
      for (const [k, v] of Object.entries(from)) {
        const cur = into[k];
        if (isObj(cur) && isObj(v)) {
          if ('@type' in v) expect(cur['@type'], `${k}: MERGE needs the same @type`).toBe(v['@type']);
          merge(cur, v);
        } else if (Array.isArray(cur) && Array.isArray(v)) into[k] = [...(cur as unknown[]), ...(v as unknown[])];
        else into[k] = structuredClone(v);
      }
    };
    // ext_proc, then the meter, each inserted just before the router.
    const inserted = values('HTTP_FILTER', 'INSERT_BEFORE', 2);
    expect(inserted.map((f) => f['name'])).toEqual(['envoy.filters.http.ext_proc', METER_FILTER]);
    // The meter on, per metered route, matched by the route's name (the VirtualService's http[].name).
    const routePatches = patchesOf('HTTP_ROUTE', 'MERGE', 2).map((p) => ({
      name: obj(obj(obj(obj(p['match'], 'match')['routeConfiguration'], 'routeConfiguration')['vhost'], 'vhost')['route'], 'route')['name'],
      value: obj(obj(p['patch'], 'patch')['value'], 'HTTP_ROUTE value'),
    }));
    const routerMerge = value('HTTP_FILTER', 'MERGE');
    const hcmMerge = value('NETWORK_FILTER', 'MERGE');
    const vhostMerge = value('VIRTUAL_HOST', 'MERGE');
    const lb = value('CLUSTER', 'MERGE', 2)['load_balancing_policy'];

    const boot = loadBootstrap('envoy.yaml');
    const p = parts(boot);
    const reference = parts(loadBootstrap('envoy.yaml'));
    // Take out of envoy.yaml what the patches provide, then apply them as Istio does.
    const filters = arr(p.hcm['http_filters'], 'http_filters')
      .map((f) => obj(f, 'http filter'))
      .filter((f) => f['name'] !== 'envoy.filters.http.ext_proc' && f['name'] !== METER_FILTER);
    filters.splice(
      filters.findIndex((f) => f['name'] === 'envoy.filters.http.router'),
      0,
      ...inserted,
    );
    p.hcm['http_filters'] = filters;
    // Istio's metered routes carry their VirtualService names; the patches add the meter by name.
    const metered = p.routes.filter((r) => meterOn(r) !== undefined);
    expect(metered.length).toBeGreaterThan(0);
    metered.forEach((r, i) => {
      delete r['typed_per_filter_config'];
      r['name'] = routePatches[i % routePatches.length]?.name;
    });
    for (const r of p.routes) for (const rp of routePatches) if (rp.name === r['name']) merge(r, rp.value);
    const router = obj(
      filters.find((f) => f['name'] === 'envoy.filters.http.router'),
      'router',
    );
    delete obj(router['typed_config'], 'router typed_config')['upstream_log'];
    merge(router, routerMerge);
    p.hcm['access_log'] = arr(p.hcm['access_log'], 'access_log').filter((l) => obj(l, 'logger')['name'] !== 'envoy.access_loggers.http_grpc');
    delete p.hcm['access_log_options'];
    // The NETWORK_FILTER patch applies to the connection manager filter, whose typed_config is p.hcm.
    const hcmFilter = { name: 'envoy.filters.network.http_connection_manager', typed_config: p.hcm };
    merge(hcmFilter, hcmMerge);
    const vhosts = arr(obj(p.hcm['route_config'], 'route_config')['virtual_hosts'], 'virtual_hosts').map((v) => obj(v, 'vhost'));
    for (const vh of vhosts) {
      delete vh['response_headers_to_add'];
      delete vh['response_headers_to_remove'];
      merge(vh, vhostMerge);
    }
    for (const [, c] of modelClusters(p)) c['load_balancing_policy'] = structuredClone(lb);
    // Each fragment landed where Envoy reads it.
    const spliced = parts(boot);
    expect(withKey(spliced.hcm['access_log'], 'log_name').map((o) => o['log_name'])).toEqual(['kvfleet']);
    expect(obj(spliced.hcm['access_log_options'], 'access_log_options')['access_log_flush_interval']).toBeDefined();
    expect(withKey(router['typed_config'], 'log_name').map((o) => o['log_name'])).toEqual(['kvfleet']);
    expect(arr(vhosts[0]?.['response_headers_to_add'], 'response_headers_to_add')).toHaveLength(Object.keys(EXPLANATION_HEADERS).length + 1);
    expect(spliced.filterNames).toEqual(reference.filterNames);
    // The metered routes have the reference's per-route meter, the others none.
    expect(spliced.routes.map((r) => meterOn(r))).toEqual(reference.routes.map((r) => meterOn(r)));
    const out = join(scratch, 'istio-spliced.yaml');
    writeFileSync(out, stringify(boot));
    const r = validate(out);
    expect(r.status, r.output).toBe(0);
  });

  it('envoy.yaml switched to the buffered body mode validates; Envoy refuses full duplex without request trailers', () => {
    const boot = loadBootstrap('envoy.yaml');
    expect(setExtProcMode(boot, 'full-duplex')).toBe(0);
    expect(setExtProcMode(boot, 'buffered')).toBe(1);
    const pm = parts(boot).extProc['processing_mode'];
    expect(pm).toMatchObject({ request_body_mode: 'BUFFERED', request_trailer_mode: 'SKIP', response_header_mode: 'SKIP' });
    const good = join(scratch, 'buffered.yaml');
    writeFileSync(good, stringify(boot));
    const r = validate(good);
    expect(r.status, r.output).toBe(0);
    // Why the shipped config sends request trailers: Envoy rejects full duplex without them.
    Object.assign(obj(pm, 'processing_mode'), { request_body_mode: 'FULL_DUPLEX_STREAMED', request_trailer_mode: 'SKIP' });
    const bad = join(scratch, 'full-duplex-no-trailers.yaml');
    writeFileSync(bad, stringify(boot));
    expect(validate(bad).status).not.toBe(0);
  });
});

// ── invariants of both bootstraps ─────────────────────────────────────────────────
describe.each(['envoy.yaml', 'envoy.docker.yaml'])('%s invariants', (name) => {
  const p = parts(loadBootstrap(name));

  it('runs header_mutation, jwt_authn, ext_proc, the meter, then the router, last', () => {
    expect(p.filterNames).toEqual([
      'envoy.filters.http.header_mutation',
      'envoy.filters.http.jwt_authn',
      'envoy.filters.http.ext_proc',
      METER_FILTER,
      'envoy.filters.http.router',
    ]);
  });

  it('sanitizes client x-envoy-* control headers but keeps the client x-request-id', () => {
    expect(p.hcm['use_remote_address']).toBe(true);
    expect(p.hcm['preserve_external_request_id']).toBe(true);
  });

  it('ext_proc fails closed with a realistic message timeout', () => {
    expect(p.extProc['failure_mode_allow']).toBe(false);
    const t = seconds(p.extProc['message_timeout']);
    expect(t).toBeGreaterThanOrEqual(1);
    expect(t).toBeLessThanOrEqual(5);
    expect(obj(obj(p.extProc['grpc_service'], 'grpc_service')['envoy_grpc'], 'envoy_grpc')['cluster_name']).toBe('kvfleet');
    // kvfleet may extend the timer of a BUFFERED request it holds (flow_control), up to this.
    expect(seconds(p.extProc['max_message_timeout'])).toBeGreaterThanOrEqual(60);
  });

  it('ext_proc: the request side only, full duplex (Envoy lets go of the stream after the answer), mutation rules, metadata namespaces', () => {
    expect(p.extProc['processing_mode']).toEqual({
      request_header_mode: 'SEND',
      request_body_mode: 'FULL_DUPLEX_STREAMED',
      request_trailer_mode: 'SEND',
      response_header_mode: 'SKIP',
      response_body_mode: 'NONE',
      response_trailer_mode: 'SKIP',
    });
    // Nothing that would keep the stream open or ask for a response phase.
    expect(p.extProc['allow_mode_override']).toBeUndefined();
    expect(p.extProc['response_attributes']).toBeUndefined();
    expect(obj(p.extProc['mutation_rules'], 'mutation_rules')['allow_all_routing']).toBe(true);
    const md = obj(p.extProc['metadata_options'], 'metadata_options');
    expect(obj(md['receiving_namespaces'], 'receiving')['untyped']).toEqual(expect.arrayContaining(['envoy.lb', 'kvfleet']));
  });

  it('renders every explanation header from kvfleet metadata on the virtual host, after removing upstream copies', () => {
    const vh = obj(arr(obj(p.hcm['route_config'], 'rc')['virtual_hosts'], 'vhs')[0], 'vh');
    const added = arr(vh['response_headers_to_add'], 'response_headers_to_add').map((h) => obj(obj(h, 'hvo')['header'], 'header'));
    const expected = {
      ...Object.fromEntries(Object.entries(EXPLANATION_HEADERS).map(([h, f]) => [h, `%DYNAMIC_METADATA(kvfleet:${f})%`])),
      'x-kvfleet-endpoint': '%UPSTREAM_HOST%',
    };
    expect(Object.fromEntries(added.map((h) => [h['key'], h['value']]))).toEqual(expected);
    expect([...arr(vh['response_headers_to_remove'], 'remove')].sort()).toEqual(Object.keys(expected).sort());
    for (const h of arr(vh['response_headers_to_add'], 'add')) expect(obj(h, 'hvo')['append_action']).toBe('OVERWRITE_IF_EXISTS_OR_ADD');
  });

  it("streams Envoy's access log to kvfleet: request ends with periodic entries, and one entry per upstream attempt", () => {
    const als = (o: Obj, what: string) => {
      const loggers = arr(o, what).map((l) => obj(l, 'logger'));
      const grpc = loggers.find((l) => l['name'] === 'envoy.access_loggers.http_grpc');
      const tc = obj(grpc?.['typed_config'], `${what} http_grpc`);
      const cc = obj(tc['common_config'], 'common_config');
      expect(obj(obj(cc['grpc_service'], 'gs')['envoy_grpc'], 'eg')['cluster_name']).toBe('kvfleet');
      expect(cc['transport_api_version']).toBe('V3');
      expect(cc['buffer_size_bytes']).toBe(0); // unbatched: in-flight counts stay current
      expect(tc['additional_response_headers_to_log']).toEqual(expect.arrayContaining(['retry-after', 'x-ratelimit-remaining-requests']));
    };
    als(p.hcm['access_log'] as Obj, 'access_log');
    const router = arr(p.hcm['http_filters'], 'filters')
      .map((f) => obj(f, 'f'))
      .find((f) => f['name'] === 'envoy.filters.http.router');
    als(obj(router?.['typed_config'], 'router')['upstream_log'] as Obj, 'upstream_log');
    // Periodic entries well inside the pending table's TTL (server.inflight_ttl_seconds, default 60).
    expect(seconds(obj(p.hcm['access_log_options'], 'alo')['access_log_flush_interval'])).toBeLessThanOrEqual(20);
  });

  it("kvfleet's clusters (routing, meter) speak HTTP/2 and do not cap in-flight requests at the 1024 default", () => {
    for (const name of KVFLEET_CLUSTERS) {
      const c = obj(p.clusters.get(name), `${name} cluster`);
      expect(withKey(c, 'http2_protocol_options'), name).toHaveLength(1);
      const th = obj(arr(obj(c['circuit_breakers'], 'cb')['thresholds'], 'thresholds')[0], 'threshold');
      expect(Number(th['max_requests']), name).toBeGreaterThan(1024);
      expect(endpointsOf(c).map((e) => e.port)).toEqual([CONFIG_PORTS.kvfleet]);
    }
  });

  it('the meter: observability mode, fails open, all SKIP by default, role metadata, the decision key forwarded', () => {
    const m = p.meter;
    // Envoy sends and never waits: the meter can neither delay, change nor fail a response.
    expect(m['observability_mode']).toBe(true);
    expect(m['failure_mode_allow']).toBe(true);
    // Unmetered requests open no stream: every phase skipped unless a route turns it on.
    expect(m['processing_mode']).toEqual({
      request_header_mode: 'SKIP',
      request_body_mode: 'NONE',
      request_trailer_mode: 'SKIP',
      response_header_mode: 'SKIP',
      response_body_mode: 'NONE',
      response_trailer_mode: 'SKIP',
    });
    expect(m['allow_mode_override']).toBeUndefined();
    const gs = obj(m['grpc_service'], 'meter grpc_service');
    expect(obj(gs['envoy_grpc'], 'envoy_grpc')['cluster_name']).toBe('kvfleet_meter');
    // kvfleet tells the meter's streams from routing requests by this metadata.
    expect(gs['initial_metadata']).toEqual([{ key: ROLE_HEADER, value: 'meter' }]);
    const md = obj(m['metadata_options'], 'meter metadata_options');
    expect(md['forwarding_namespaces']).toEqual({ untyped: ['kvfleet'] });
    expect(md['receiving_namespaces']).toBeUndefined();
    expect(seconds(m['deferred_close_timeout'])).toBeLessThanOrEqual(5);
  });

  it("the meter's cluster: kvfleet's own endpoints over HTTP/2, a fresh connection well before Node's 1,000 resets", () => {
    const c = obj(p.clusters.get('kvfleet_meter'), 'kvfleet_meter cluster');
    expect(endpointsOf(c)).toEqual(endpointsOf(obj(p.clusters.get('kvfleet'), 'kvfleet cluster')));
    expect(withKey(c, 'http2_protocol_options')).toHaveLength(1);
    const common = withKey(c, 'max_requests_per_connection');
    expect(common).toHaveLength(1);
    const perConnection = Number(common[0]?.['max_requests_per_connection']);
    expect(perConnection).toBeGreaterThan(0);
    expect(perConnection).toBeLessThanOrEqual(1000);
    // The routing connection is not renewed: the meter's resets stay off it.
    expect(withKey(obj(p.clusters.get('kvfleet'), 'kvfleet cluster'), 'max_requests_per_connection')).toEqual([]);
  });

  it('the meter is turned on only by routes that match x-kvfleet-meter and remove it, with the response side streamed', () => {
    const metered = p.routes.filter((r) => meterOn(r) !== undefined);
    expect(metered.length).toBeGreaterThanOrEqual(1);
    for (const r of p.routes) {
      const matchesMeter = headerMatches(r).filter((h) => h['name'] === METER_HEADER);
      if (meterOn(r) === undefined) {
        // An unmetered route never matches the mark (nor would it remove it: the twin does).
        expect(matchesMeter, JSON.stringify(r['match'])).toEqual([]);
        continue;
      }
      expect(matchesMeter, JSON.stringify(r['match'])).toEqual([{ name: METER_HEADER, present_match: true }]);
      expect(r['request_headers_to_remove']).toEqual([METER_HEADER]);
      expect(meterOn(r)).toEqual({
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute',
        overrides: {
          processing_mode: { request_header_mode: 'SKIP', response_header_mode: 'SEND', response_body_mode: 'STREAMED', response_trailer_mode: 'SKIP' },
        },
      });
    }
  });

  it('each metered route has an unmetered twin after it: the same match without the mark, the same destination', () => {
    p.routes.forEach((r, i) => {
      if (meterOn(r) === undefined) return;
      const twin = p.routes.findIndex((t) => meterOn(t) === undefined && JSON.stringify(t['match']) === JSON.stringify(withoutMeterMatch(r)));
      expect(twin, `the unmetered twin of ${JSON.stringify(r['match'])}`).toBeGreaterThan(i);
      // With the meter on or off, the request goes to the same place with the same retries.
      expect(p.routes[twin]?.['route']).toEqual(r['route']);
    });
    // And the catch-all (the cluster kvfleet chose) is still the last route, unmetered.
    expect(meterOn(p.routes.at(-1) ?? {})).toBeUndefined();
    expect(p.routes.at(-1)?.['match']).toEqual({ prefix: '/' });
  });

  it('routes by x-kvfleet-cluster with safe retries on other hosts and no overall deadline', () => {
    expect(p.route['cluster_header']).toBe('x-kvfleet-cluster');
    expect(seconds(p.route['timeout'])).toBe(0);
    const rp = obj(p.route['retry_policy'], 'retry_policy');
    const on = String(rp['retry_on']).split(',');
    // A replica that dies before its response headers (reset) loses nothing by a retry: Envoy
    // never retries once the response has started.
    expect(on).toEqual(expect.arrayContaining(['connect-failure', 'refused-stream', 'reset-before-request', 'reset']));
    // Never retry a replica's own error answer (doubles GPU work on a request's fault).
    for (const unsafe of ['5xx', 'gateway-error', 'retriable-4xx']) expect(on).not.toContain(unsafe);
    if (on.includes('retriable-status-codes')) expect(rp['retriable_status_codes']).toEqual([503]);
    expect(Number(rp['num_retries'])).toBeGreaterThanOrEqual(1);
    expect(Number(rp['num_retries'])).toBeLessThanOrEqual(3);
    const preds = arr(rp['retry_host_predicate'], 'retry_host_predicate').map((x) => obj(x, 'pred')['name']);
    expect(preds).toContain('envoy.retry_host_predicates.previous_hosts');
    expect(Number(rp['host_selection_retry_max_attempts'])).toBeGreaterThanOrEqual(3);
    expect(seconds(rp['per_try_timeout'])).toBeGreaterThanOrEqual(60);
  });

  it('shadow traffic: every route mirrors through kvfleet_shadow (the listener itself) only when kvfleet sets x-kvfleet-mirror-<n>', () => {
    const expected = Array.from({ length: MAX_SHADOW_CANDIDATES }, (_, i) => ({
      cluster_header: `${MIRROR_HEADER_PREFIX}${i + 1}`,
      // The copy must match this listener's virtual host (a suffixed host would not in a real one).
      disable_shadow_host_suffix_append: true,
      request_headers_mutations: [{ append: { header: { key: SHADOW_SLOT_HEADER, value: String(i + 1) }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' } }],
    }));
    for (const r of p.routes) expect(obj(r['route'], 'route')['request_mirror_policies'], JSON.stringify(r['match'])).toEqual(expected);
    const c = obj(p.clusters.get(SHADOW_CLUSTER), SHADOW_CLUSTER);
    const listen = obj(obj(p.listener['address'], 'address')['socket_address'], 'sa');
    // Inside a container the listener binds 0.0.0.0 and the copies reach it on localhost.
    expect(endpointsOf(c)).toEqual([{ address: listen['address'] === '0.0.0.0' ? 'localhost' : listen['address'], port: listen['port_value'] }]);
    expect(withKey(c, 'http2_protocol_options')).toHaveLength(1);
    // Copies in flight are bounded: past it Envoy drops new copies, never the primaries.
    const th = obj(arr(obj(c['circuit_breakers'], 'cb')['thresholds'], 'thresholds')[0], 'threshold');
    expect(Number(th['max_requests'])).toBeLessThanOrEqual(1024);
    expect(Number(th['max_pending_requests'])).toBeLessThanOrEqual(1024);
  });

  it('has two model pools, each with override_host, outlier detection, circuit breakers, HTTP/1.1', () => {
    const models = modelClusters(p);
    expect(models.map(([n]) => n).sort()).toEqual(['pool-llama-3-8b', 'pool-qwen-2.5-7b']);
    for (const [n, c] of models) {
      const pol = obj(arr(obj(c['load_balancing_policy'], `${n} lbp`)['policies'], 'policies')[0], 'policy');
      const tec = obj(pol['typed_extension_config'], 'tec');
      expect(tec['name'], n).toBe('envoy.load_balancing_policies.override_host');
      const oh = obj(tec['typed_config'], 'override host');
      // Metadata only: kvfleet sets header and metadata alike, and override_host
      // concatenates the lists of all its sources (retries would revisit hosts).
      expect(oh['override_host_sources'], n).toEqual([{ metadata: { key: 'envoy.lb', path: [{ key: 'x-gateway-destination-endpoint' }] } }]);
      const fb = obj(arr(obj(oh['fallback_policy'], 'fallback')['policies'], 'fb policies')[0], 'fb');
      expect(obj(fb['typed_extension_config'], 'fb tec')['name'], n).toBe('envoy.load_balancing_policies.round_robin');

      const od = obj(c['outlier_detection'], `${n} outlier_detection`);
      expect(Number(od['consecutive_5xx'])).toBeGreaterThan(0);
      expect(Number(od['consecutive_gateway_failure'])).toBeGreaterThan(0);
      expect(od['enforcing_consecutive_gateway_failure'], 'gateway failures must actually eject').toBe(100);
      expect(Number(od['max_ejection_percent'])).toBeLessThan(100);

      const th = obj(arr(obj(c['circuit_breakers'], `${n} circuit_breakers`)['thresholds'], 'thresholds')[0], 'th');
      expect(th['max_connections']).toBeDefined();
      expect(th['max_pending_requests']).toBeDefined();
      expect(th['retry_budget'], `${n} retry budget`).toBeDefined();

      expect(withKey(c, 'http_protocol_options'), `${n} HTTP/1.1`).toHaveLength(1);
      expect(seconds(c['connect_timeout'])).toBe(1);
      expect(endpointsOf(c)).toHaveLength(2);
    }
  });

  it('reaches the hosted provider over TLS with a static SNI, the provider key injected by Envoy, and no client Authorization', () => {
    const hosted = hostedClusters(p);
    expect(hosted.map(([n]) => n)).toEqual(['pool-hosted-demo']);
    const [, c] = hosted[0] as [string, Obj];
    expect(c['type']).toBe('LOGICAL_DNS');
    const tls = obj(obj(c['transport_socket'], 'ts')['typed_config'], 'tls');
    expect(tls['sni']).toBe('hosted.kvfleet.test');
    const vc = obj(obj(tls['common_tls_context'], 'ctx')['validation_context'], 'vc');
    expect(vc['match_typed_subject_alt_names']).toEqual([{ san_type: 'DNS', matcher: { exact: 'hosted.kvfleet.test' } }]);
    const upstream = arr(
      obj(obj(c['typed_extension_protocol_options'], 'teo')['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'], 'hpo')['http_filters'],
      'filters',
    ).map((f) => obj(f, 'filter')['name']);
    expect(upstream).toEqual(['envoy.filters.http.header_mutation', 'envoy.filters.http.credential_injector', 'envoy.filters.http.upstream_codec']);
    const injector = withKey(c, 'overwrite').map((o) => o['overwrite']);
    expect(injector).toEqual([true]);
    // The client's Authorization is removed on every route (after kvfleet read it).
    const vh = obj(arr(obj(p.hcm['route_config'], 'rc')['virtual_hosts'], 'vhs')[0], 'vh');
    expect(vh['request_headers_to_remove']).toEqual(['authorization']);
    // The path prefix the provider needs, on a route matched by kvfleet's cluster header.
    const routes = arr(vh['routes'], 'routes').map((r) => obj(r, 'route'));
    const hostedRoute = routes.find((r) => JSON.stringify(r['match']).includes('pool-hosted-demo'));
    expect(obj(hostedRoute?.['route'], 'hosted route')).toMatchObject({ cluster: 'pool-hosted-demo', prefix_rewrite: '/provider/v1/' });
  });

  it('removes the client copy of the trusted tenant header before jwt_authn, and forwards the JWT payload to kvfleet', () => {
    expect(p.filterNames.slice(0, 3)).toEqual(['envoy.filters.http.header_mutation', 'envoy.filters.http.jwt_authn', 'envoy.filters.http.ext_proc']);
    const md = obj(p.extProc['metadata_options'], 'metadata_options');
    expect(JSON.stringify(md['forwarding_namespaces'])).toContain('envoy.filters.http.jwt_authn');
  });

  it('backs kvfleet body limit with an 8 MiB buffer and maps only Envoy-made replies to OpenAI JSON', () => {
    expect(p.listener['per_connection_buffer_limit_bytes']).toBe(8 * 1024 * 1024);
    const lrc = obj(p.hcm['local_reply_config'], 'local_reply_config');
    // A top-level body_format would rewrite kvfleet's own immediate responses too.
    expect(lrc['body_format']).toBeUndefined();
    const mappers = arr(lrc['mappers'], 'mappers').map((m) => obj(m, 'mapper'));
    expect(mappers.length).toBeGreaterThanOrEqual(3);
    for (const m of mappers) {
      const bf = obj(m['body_format_override'], 'body_format_override');
      expect(bf['content_type']).toBe('application/json');
      const err = obj(obj(bf['json_format'], 'json_format')['error'], 'error');
      expect(Object.keys(err).sort()).toEqual(['code', 'message', 'param', 'type']);
      expect(err['param']).toBeNull();
    }
    const exprs = withKey(lrc, 'expression').map((o) => String(o['expression']));
    expect(exprs.some((e) => e.includes('ext_proc_error'))).toBe(true);
    // Envoy's own protocol-error replies (codec errors, HTTP/1.0, bad path, no Host) too.
    for (const d of ["startsWith('http1.')", 'low_version', 'missing_host_header', 'path_normalization_failed'])
      expect(
        exprs.some((e) => e.includes(d)),
        d,
      ).toBe(true);
  });
});

// ── local vs docker ───────────────────────────────────────────────────────────────
describe('envoy.yaml and envoy.docker.yaml', () => {
  it('envoy.yaml uses the fixed loopback ports the e2e helper remaps', () => {
    const boot = loadBootstrap('envoy.yaml');
    const addrs = withKey(boot, 'socket_address').map((o) => obj(o['socket_address'], 'sa'));
    // Loopback everywhere; the hosted provider's stand-in by name (a DNS cluster, like a real provider).
    expect(addrs.every((a) => a['address'] === (a['port_value'] === 18443 ? 'localhost' : '127.0.0.1'))).toBe(true);
    // kvfleet's port twice: the routing cluster and the meter's (kvfleet_meter), remapped alike;
    // the listener's twice: itself and kvfleet_shadow (shadow copies come back into it).
    expect(addrs.map((a) => a['port_value']).sort()).toEqual(
      [CONFIG_PORTS.listener, CONFIG_PORTS.listener, CONFIG_PORTS.admin, CONFIG_PORTS.kvfleet, CONFIG_PORTS.kvfleet, ...MODEL_PORTS].sort(),
    );
    const endpoints = Object.fromEntries(MODEL_PORTS.map((port, i) => [String(port), 40001 + i]));
    const seen = remapPorts(boot, portMap({ listener: 30000, admin: 30001, kvfleet: 30002, endpoints }));
    expect(seen).toHaveLength(addrs.length);
    expect(
      withKey(boot, 'socket_address')
        .map((o) => obj(o['socket_address'], 'sa')['port_value'])
        .sort(),
    ).toEqual([30000, 30000, 30001, 30002, 30002, 40001, 40002, 40003, 40004, 40005]);
    const remapped = parts(boot);
    for (const name of KVFLEET_CLUSTERS) expect(endpointsOf(obj(remapped.clusters.get(name), name)).map((e) => e.port)).toEqual([30002]);
    expect(endpointsOf(obj(remapped.clusters.get(SHADOW_CLUSTER), SHADOW_CLUSTER)).map((e) => e.port)).toEqual([30000]);
  });

  it('envoy.docker.yaml and fleet.docker.yaml are exactly what `npm run render:docker-envoy` renders', () => {
    expect(readFileSync(join(ENVOY_DIR, 'envoy.docker.yaml'), 'utf8')).toBe(dockerVariant(readFileSync(join(ENVOY_DIR, 'envoy.yaml'), 'utf8')));
    expect(readFileSync(join(ENVOY_DIR, 'fleet.docker.yaml'), 'utf8')).toBe(dockerFleet(readFileSync(join(REPO_ROOT, 'examples', 'fleet.yaml'), 'utf8')));
  });

  it('are the same config apart from addresses and DNS discovery', () => {
    const strip = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(strip);
      // The demo TLS material: envoy/demo/ in the repo, /etc/envoy/demo/ where compose mounts it.
      if (typeof node === 'string') return node.replace(/^\/etc\/envoy\/demo\//, 'envoy/demo/');
      if (!isObj(node)) return node;
      const out: Obj = {};
      for (const [k, v] of Object.entries(node)) {
        if (k === 'type' && (v === 'STATIC' || v === 'STRICT_DNS')) continue;
        if (k === 'dns_lookup_family') continue;
        if (k === 'socket_address') {
          out[k] = { port_value: obj(v, 'sa')['port_value'] };
          continue;
        }
        out[k] = strip(v);
      }
      return out;
    };
    expect(strip(loadBootstrap('envoy.docker.yaml'))).toEqual(strip(loadBootstrap('envoy.yaml')));
  });

  it('envoy.docker.yaml listens on all interfaces and resolves compose services with STRICT_DNS', () => {
    const p = parts(loadBootstrap('envoy.docker.yaml'));
    expect(obj(obj(p.listener['address'], 'addr')['socket_address'], 'sa')['address']).toBe('0.0.0.0');
    for (const [n, c] of p.clusters) {
      expect(c['type'], n).toBe(c['transport_socket'] !== undefined ? 'LOGICAL_DNS' : 'STRICT_DNS');
      for (const e of endpointsOf(c)) expect(e.address, n).toMatch(/^[a-z][a-z0-9-]*$/);
    }
  });
});

// ── fleet files and docker-compose.yml agree with the Envoy configs ───────────────
describe('fleet files agree with the Envoy configs', () => {
  it('envoy/fleet.docker.yaml is a valid fleet file', () => {
    const res = parseFleet(readFileSync(join(ENVOY_DIR, 'fleet.docker.yaml'), 'utf8'));
    expect(res.ok ? [] : res.problems).toEqual([]);
  });

  it("examples/fleet.yaml lists exactly envoy.yaml's clusters and endpoints", () => {
    const res = parseFleet(readFileSync(join(REPO_ROOT, 'examples', 'fleet.yaml'), 'utf8'));
    if (!res.ok) throw new Error(res.problems.join('\n'));
    const p = parts(loadBootstrap('envoy.yaml'));
    for (const m of res.file.models) {
      const c = obj(p.clusters.get(m.cluster), `cluster ${m.cluster} of model ${m.name}`);
      // A hosted model lists no endpoints: its DNS cluster's own LB picks (kvfleet sends no list).
      if (m.host !== undefined) {
        expect(m.endpoints, m.name).toEqual([]);
        expect(c['type'], m.name).toBe('LOGICAL_DNS');
        continue;
      }
      const eps = endpointsOf(c).map((e) => `${e.address}:${e.port}`);
      expect([...m.endpoints].sort(), m.name).toEqual(eps.sort());
    }
    expect(res.file.server.grpc.port).toBe(CONFIG_PORTS.kvfleet);
  });

  it('docker-compose.yml pins the IPs that fleet.docker.yaml lists, behind the names envoy.docker.yaml resolves', () => {
    const compose = obj(parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')), 'compose');
    const services = obj(compose['services'], 'services');
    const ipOf = new Map<string, string>();
    for (const [svc, def] of Object.entries(services)) {
      const nets = obj(def, svc)['networks'];
      // A service without a pinned IP (the hosted stand-in, reached by name) lists its networks.
      if (Array.isArray(nets)) continue;
      for (const n of Object.values(obj(nets, `${svc}.networks`))) ipOf.set(String(obj(n, 'net')['ipv4_address']), svc);
    }
    const mounts = Object.values(services).flatMap((d) => (obj(d, 'svc')['volumes'] as string[] | undefined) ?? []);
    expect(mounts).toContain('./envoy/envoy.docker.yaml:/etc/envoy/envoy.yaml:ro');
    expect(mounts).toContain('./envoy/fleet.docker.yaml:/etc/kvfleet/fleet.yaml:ro');

    const fleet = parseFleet(readFileSync(join(ENVOY_DIR, 'fleet.docker.yaml'), 'utf8'));
    if (!fleet.ok) throw new Error(fleet.problems.join('\n'));
    const p = parts(loadBootstrap('envoy.docker.yaml'));
    for (const m of fleet.file.models) {
      const c = obj(p.clusters.get(m.cluster), `cluster ${m.cluster}`);
      if (m.host !== undefined) continue; // hosted: a DNS cluster, no endpoint list
      const named = endpointsOf(c)
        .map((e) => `${e.address}:${e.port}`)
        .sort();
      const viaCompose = m.endpoints
        .map((ep) => {
          const [ip, port] = ep.split(':');
          const svc = ipOf.get(ip ?? '');
          expect(svc, `${m.name}: ${ep} is no compose service's ipv4_address`).toBeDefined();
          return `${svc}:${port}`;
        })
        .sort();
      expect(viaCompose, m.name).toEqual(named);
    }
    const kv = withKey(obj(p.clusters.get('kvfleet'), 'kvfleet'), 'socket_address')[0];
    expect(obj(kv?.['socket_address'], 'sa')['address']).toBe('kvfleet');
    expect(services).toHaveProperty('kvfleet');
  });
});

// ── Kubernetes manifests ──────────────────────────────────────────────────────────
describe('Kubernetes manifests', () => {
  const docs = (name: string) =>
    parseAllDocuments(readFileSync(join(ENVOY_DIR, name), 'utf8')).map((d) => {
      expect(d.errors, name).toEqual([]);
      return obj(d.toJS(), name);
    });
  const kinds = (name: string) => docs(name).map((d) => `${String(d['apiVersion'])}/${String(d['kind'])}`);

  it('every document has apiVersion, kind and metadata.name', () => {
    for (const f of manifests) {
      for (const d of docs(f.name)) expect(obj(d['metadata'], `${f.name} metadata`)['name'], f.name).toBeTruthy();
    }
  });

  it('istio-envoyfilter.yaml inserts a fail-closed ext_proc before the router', () => {
    expect(kinds('istio-envoyfilter.yaml')).toEqual([
      'networking.istio.io/v1alpha3/EnvoyFilter',
      'networking.istio.io/v1/DestinationRule',
      'networking.istio.io/v1/DestinationRule',
      'networking.istio.io/v1/DestinationRule',
      'networking.istio.io/v1/VirtualService',
    ]);
    const ef = docs('istio-envoyfilter.yaml')[0] as Obj;
    const patches = arr(obj(ef['spec'], 'spec')['configPatches'], 'patches').map((x) => obj(x, 'patch'));
    const fp = obj(
      patches.find((x) => x['applyTo'] === 'HTTP_FILTER'),
      'filter patch',
    );
    expect(obj(fp['patch'], 'patch')['operation']).toBe('INSERT_BEFORE');
    expect(JSON.stringify(fp['match'])).toContain('envoy.filters.http.router');
    const tc = obj(obj(obj(fp['patch'], 'patch')['value'], 'value')['typed_config'], 'tc');
    expect(tc['failure_mode_allow']).toBe(false);
    expect(patches.filter((x) => x['applyTo'] === 'CLUSTER')).toHaveLength(2);
    // The meter, inserted after it (also before the router), fails open.
    const inserted = patches.filter((x) => x['applyTo'] === 'HTTP_FILTER' && obj(x['patch'], 'patch')['operation'] === 'INSERT_BEFORE');
    const values = inserted.map((x) => obj(obj(x['patch'], 'patch')['value'], 'value'));
    expect(values.map((v) => v['name'])).toEqual(['envoy.filters.http.ext_proc', METER_FILTER]);
    expect(obj(values[1]?.['typed_config'], 'meter tc')).toMatchObject({ observability_mode: true, failure_mode_allow: true });
    // Its connections (Istio's one cluster for the kvfleet Service) are renewed by a DestinationRule.
    const dr = docs('istio-envoyfilter.yaml').find(
      (d) => d['kind'] === 'DestinationRule' && obj(d['spec'], 'spec')['host'] === 'kvfleet.llm.svc.cluster.local',
    );
    const http = obj(obj(obj(obj(dr?.['spec'], 'DestinationRule kvfleet spec')['trafficPolicy'], 'tp')['connectionPool'], 'cp')['http'], 'http');
    expect(Number(http['maxRequestsPerConnection'])).toBeGreaterThan(0);
    expect(Number(http['maxRequestsPerConnection'])).toBeLessThanOrEqual(1000);
  });

  it('envoy-gateway-extension-policy.yaml: extProc to the kvfleet Service, fail closed, full-duplex body', () => {
    expect(kinds('envoy-gateway-extension-policy.yaml')).toEqual([
      'gateway.envoyproxy.io/v1alpha1/EnvoyExtensionPolicy',
      'gateway.networking.k8s.io/v1/HTTPRoute',
      'gateway.envoyproxy.io/v1alpha1/BackendTrafficPolicy',
    ]);
    const [eep, , btp] = docs('envoy-gateway-extension-policy.yaml') as [Obj, Obj, Obj];
    const ep = obj(arr(obj(eep['spec'], 'spec')['extProc'], 'extProc')[0], 'extProc[0]');
    expect(ep['backendRefs']).toEqual([{ name: 'kvfleet', port: 9002 }]);
    expect(ep['failOpen']).toBe(false);
    expect(seconds(ep['messageTimeout'])).toBeGreaterThanOrEqual(1);
    expect(obj(obj(ep['processingMode'], 'pm')['request'], 'req')['body']).toBe('FullDuplexStreamed');
    const lb = obj(obj(btp['spec'], 'spec')['loadBalancer'], 'lb');
    expect(lb['endpointOverride']).toEqual({ extractFrom: [{ header: 'x-gateway-destination-endpoint' }] });
  });

  it('inferencepool.yaml: v1 InferencePool whose endpoint picker is kvfleet:9002, plus an HTTPRoute', () => {
    // The kvfleet Service itself is deploy/kvfleet.yaml's (test/unit/k8s-manifests.test.ts
    // checks that the reference resolves to it).
    expect(kinds('inferencepool.yaml')).toEqual(['inference.networking.k8s.io/v1/InferencePool', 'gateway.networking.k8s.io/v1/HTTPRoute']);
    const [pool, route] = docs('inferencepool.yaml') as [Obj, Obj];
    const ref = obj(obj(pool['spec'], 'spec')['endpointPickerRef'], 'endpointPickerRef');
    expect(ref).toMatchObject({ kind: 'Service', name: 'kvfleet', port: { number: 9002 }, failureMode: 'FailClose' });
    expect(JSON.stringify(route['spec'])).toContain('"kind":"InferencePool"');
  });
});

// ── locateEnvoy ───────────────────────────────────────────────────────────────────
describe('locateEnvoy', () => {
  const fakeExe = (dir: string) => {
    mkdirSync(dir, { recursive: true });
    const p = join(dir, 'envoy');
    writeFileSync(p, '#!/bin/sh\n');
    chmodSync(p, 0o755);
    return p;
  };

  it('prefers envoy on PATH, then <repo>/.venv/bin/envoy, else undefined', () => {
    const root = join(scratch, 'locate');
    const repo = join(root, 'repo');
    mkdirSync(repo, { recursive: true });
    const empty = join(root, 'empty');
    mkdirSync(empty, { recursive: true });
    expect(locateEnvoy(repo, { PATH: empty })).toBeUndefined();
    const venv = fakeExe(join(repo, '.venv', 'bin'));
    expect(locateEnvoy(repo, { PATH: empty })).toBe(venv);
    const onPath = fakeExe(join(root, 'bin'));
    expect(locateEnvoy(repo, { PATH: `${empty}:${join(root, 'bin')}` })).toBe(onPath);
  });

  it('ignores non-executable files and relative PATH entries', () => {
    const root = join(scratch, 'locate2');
    mkdirSync(join(root, 'bin'), { recursive: true });
    writeFileSync(join(root, 'bin', 'envoy'), 'not executable');
    chmodSync(join(root, 'bin', 'envoy'), 0o644);
    expect(locateEnvoy(join(root, 'repo'), { PATH: `${join(root, 'bin')}:.:relative/dir` })).toBeUndefined();
  });
});
