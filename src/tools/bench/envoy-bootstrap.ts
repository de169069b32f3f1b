// Envoy bootstraps for the benchmarks, generated in memory from the repo's envoy/envoy.yaml
// (so the benchmark runs the configuration users run):
//   kvfleet  the file as shipped: ext_proc → the processor on the `kvfleet` cluster (kvfleet
//            or the floor; every non-pool cluster, e.g. the meter's, points at it too), its
//            gRPC access log to the same cluster, the catch-all route only, one model pool
//            `pool-bench` (a copy of the first pool cluster: override_host LB, retries,
//            outlier detection, breakers) holding the given replicas; kvfleet_shadow (shadow
//            copies) points at the listener. The ext_proc body mode
//            is the shipped one (full-duplex) unless asked (buffered: processing-mode.ts);
//            `responsePhase` also asks for the response headers (the phase the shipped file
//            skips: the overhead benchmark measures what skipping it saves)
//   plain    the same listener and pool without the ext_proc filters, the http_grpc access
//            loggers (HCM access_log, the router's upstream_log) or the processor's clusters, the
//            route pointing at `pool-bench` directly, and the cluster's LB a plain round
//            robin — the baseline "Envoy without kvfleet" of the overhead benchmark
// Ports: listener, admin and the kvfleet cluster are rewritten to the given ones.
import { readFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { forEachProcessingMode, setExtProcMode, type ExtProcMode } from '../envoy/processing-mode.js';

export interface BootstrapPorts {
  readonly listener: number;
  readonly admin: number;
  readonly kvfleet: number;
}

export interface BootstrapOptions {
  /** ext_proc request-body mode (kvfleet variant); default: as shipped. */
  readonly mode?: ExtProcMode;
  /** Also send the response headers to the processor (response_header_mode SEND). */
  readonly responsePhase?: boolean;
}

type Obj = Record<string, unknown>;

const HTTP_GRPC_LOGGER = 'envoy.access_loggers.http_grpc';
const EXT_PROC_TYPE = '/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor';
const WANTED_BODY_MODE: Record<ExtProcMode, string> = { buffered: 'BUFFERED', 'full-duplex': 'FULL_DUPLEX_STREAMED' };

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function get(o: unknown, ...path: Array<string | number>): unknown {
  let cur: unknown = o;
  for (const p of path) {
    if (typeof p === 'number') cur = Array.isArray(cur) ? cur[p] : undefined;
    else cur = isObj(cur) ? cur[p] : undefined;
  }
  return cur;
}

function setPort(addr: unknown, port: number): void {
  const sa = get(addr, 'socket_address');
  if (!isObj(sa)) throw new Error('envoy bootstrap: expected address.socket_address');
  sa['port_value'] = port;
  sa['address'] = '127.0.0.1';
}

/** Removes the http_grpc loggers from a logger list (in place); deletes the key when none is left. */
function dropGrpcLoggers(owner: unknown, key: 'access_log' | 'upstream_log'): void {
  if (!isObj(owner)) return;
  const list = owner[key];
  if (!Array.isArray(list)) return;
  const kept = list.filter((l) => !(isObj(l) && l['name'] === HTTP_GRPC_LOGGER));
  if (kept.length > 0) owner[key] = kept;
  else delete owner[key];
}

/** Clusters other than pool-bench that the document names (cluster_name fields). */
function otherClusters(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) otherClusters(n, out);
  else if (isObj(node)) {
    const name = node['cluster_name'];
    if (typeof name === 'string' && name !== BENCH_CLUSTER) out.push(name);
    for (const v of Object.values(node)) otherClusters(v, out);
  }
  return out;
}

export const BENCH_CLUSTER = 'pool-bench';
/** envoy.yaml's cluster for shadow copies (the listener itself). */
const SHADOW = 'kvfleet_shadow';

export function benchBootstrap(
  source: string,
  variant: 'kvfleet' | 'plain',
  ports: BootstrapPorts,
  replicas: readonly number[],
  opts: BootstrapOptions = {},
): string {
  const doc: unknown = parse(source);
  if (variant === 'kvfleet') {
    if (opts.mode !== undefined) {
      setExtProcMode(doc, opts.mode);
      const wanted = WANTED_BODY_MODE[opts.mode];
      forEachProcessingMode(doc, (pm) => {
        if (pm['request_body_mode'] !== wanted) throw new Error(`envoy bootstrap: ext_proc body mode is ${String(pm['request_body_mode'])}, not ${wanted}`);
      });
    }
    if (opts.responsePhase === true) forEachProcessingMode(doc, (pm) => (pm['response_header_mode'] = 'SEND'));
  }
  setPort(get(doc, 'admin', 'address'), ports.admin);
  const listeners = get(doc, 'static_resources', 'listeners');
  const clusters = get(doc, 'static_resources', 'clusters');
  if (!Array.isArray(listeners) || listeners.length === 0 || !Array.isArray(clusters)) throw new Error('envoy bootstrap: no listeners/clusters');
  const listener = listeners[0] as Obj;
  listeners.length = 1;
  setPort(listener['address'], ports.listener);

  // The processor's clusters (kvfleet, and any other connection to it: the meter's) all point
  // at the processor under test; the model pools are replaced by pool-bench.
  const processor = clusters.filter((c): c is Obj => isObj(c) && typeof c['name'] === 'string' && !c['name'].startsWith('pool-') && c['name'] !== SHADOW);
  // Shadow copies go back into the listener (routes' request_mirror_policies).
  const shadow = clusters.filter((c): c is Obj => isObj(c) && c['name'] === SHADOW);
  for (const c of shadow) setPort(get(c, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address'), ports.listener);
  const pool = clusters.find((c) => isObj(c) && typeof c['name'] === 'string' && c['name'].startsWith('pool-')) as Obj | undefined;
  if (!processor.some((c) => c['name'] === 'kvfleet') || pool === undefined) throw new Error('envoy bootstrap: kvfleet or pool-* cluster missing');
  for (const c of processor) setPort(get(c, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address'), ports.kvfleet);
  const bench: Obj = structuredClone(pool);
  bench['name'] = BENCH_CLUSTER;
  bench['load_assignment'] = {
    cluster_name: BENCH_CLUSTER,
    endpoints: [{ lb_endpoints: replicas.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }],
  };
  // Benchmarks push the pool harder than a demo: no breaker trips on the client's burst.
  const thresholds = get(bench, 'circuit_breakers', 'thresholds', 0);
  if (isObj(thresholds)) {
    thresholds['max_connections'] = 100000;
    thresholds['max_pending_requests'] = 100000;
    thresholds['max_requests'] = 100000;
  }
  const hcm = get(listener, 'filter_chains', 0, 'filters', 0, 'typed_config');
  // Only the catch-all route (any path, no header condition, cluster from x-kvfleet-cluster):
  // the others serve clusters the benchmark does not run (the hosted provider's) or requests
  // it does not send (metered ones).
  const routes = get(hcm, 'route_config', 'virtual_hosts', 0, 'routes');
  if (!Array.isArray(routes)) throw new Error('envoy bootstrap: no routes');
  const catchAll = routes.find(
    (r) => get(r, 'route', 'cluster_header') !== undefined && get(r, 'match', 'prefix') === '/' && get(r, 'match', 'headers') === undefined,
  ) as Obj | undefined;
  if (catchAll === undefined) throw new Error('envoy bootstrap: no catch-all route with cluster_header');
  delete catchAll['typed_per_filter_config'];
  routes.length = 0;
  routes.push(catchAll);
  const route = get(catchAll, 'route');
  const filters = get(hcm, 'http_filters');
  if (!isObj(route) || !Array.isArray(filters)) throw new Error('envoy bootstrap: route or http_filters missing');
  if (variant === 'plain') {
    delete route['cluster_header'];
    delete route['cluster_not_found_response_code'];
    route['cluster'] = BENCH_CLUSTER;
    delete route['request_mirror_policies'];
    // Every ext_proc filter (kvfleet's, and the meter's) goes.
    for (let i = filters.length - 1; i >= 0; i--) if (String(get(filters[i], 'typed_config', '@type')).endsWith(EXT_PROC_TYPE)) filters.splice(i, 1);
    // The access log service is the processor's: without it, no gRPC loggers.
    dropGrpcLoggers(hcm, 'access_log');
    for (const f of filters) dropGrpcLoggers(get(f, 'typed_config'), 'upstream_log');
    delete bench['load_balancing_policy'];
    bench['lb_policy'] = 'ROUND_ROBIN';
    clusters.length = 0;
    clusters.push(bench);
    const stray = otherClusters(doc);
    if (stray.length > 0) throw new Error(`envoy bootstrap: the plain variant still refers to ${stray.join(', ')}`);
  } else {
    clusters.length = 0;
    clusters.push(...processor, ...shadow, bench);
  }
  return stringify(doc);
}

export async function benchBootstrapFromFile(
  path: string,
  variant: 'kvfleet' | 'plain',
  ports: BootstrapPorts,
  replicas: readonly number[],
  opts: BootstrapOptions = {},
): Promise<string> {
  return benchBootstrap(await readFile(path, 'utf8'), variant, ports, replicas, opts);
}
