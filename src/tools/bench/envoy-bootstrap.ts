// Envoy bootstraps for the benchmarks, generated in memory from the repo's envoy/envoy.yaml
// (so the benchmark runs the configuration users run):
//   kvfleet  the file as shipped: ext_proc → kvfleet, one model pool `pool-bench` (a copy of
//            the first pool cluster: override_host LB, retries, outlier detection, breakers)
//            holding the given replicas; the ext_proc body mode as asked (buffered as shipped,
//            or full-duplex: src/envoy/processing-mode.ts)
//   plain    the same listener and pool without the ext_proc filter, the route pointing at
//            `pool-bench` directly, and the cluster's LB a plain round robin — the baseline
//            "Envoy without kvfleet" of the overhead benchmark
// Ports: listener, admin and the kvfleet cluster are rewritten to the given ones.
import { readFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { setExtProcMode, type ExtProcMode } from '../envoy/processing-mode.js';

export interface BootstrapPorts {
  readonly listener: number;
  readonly admin: number;
  readonly kvfleet: number;
}

type Obj = Record<string, unknown>;

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

export const BENCH_CLUSTER = 'pool-bench';

export function benchBootstrap(
  source: string,
  variant: 'kvfleet' | 'plain',
  ports: BootstrapPorts,
  replicas: readonly number[],
  mode: ExtProcMode = 'buffered',
): string {
  const doc: unknown = parse(source);
  if (variant === 'kvfleet' && mode !== 'buffered' && setExtProcMode(doc, mode) === 0)
    throw new Error(`envoy bootstrap: no ext_proc processing_mode to set to ${mode}`);
  setPort(get(doc, 'admin', 'address'), ports.admin);
  const listeners = get(doc, 'static_resources', 'listeners');
  const clusters = get(doc, 'static_resources', 'clusters');
  if (!Array.isArray(listeners) || listeners.length === 0 || !Array.isArray(clusters)) throw new Error('envoy bootstrap: no listeners/clusters');
  const listener = listeners[0] as Obj;
  listeners.length = 1;
  setPort(listener['address'], ports.listener);

  const kv = clusters.find((c) => isObj(c) && c['name'] === 'kvfleet') as Obj | undefined;
  const pool = clusters.find((c) => isObj(c) && typeof c['name'] === 'string' && c['name'].startsWith('pool-')) as Obj | undefined;
  if (kv === undefined || pool === undefined) throw new Error('envoy bootstrap: kvfleet or pool-* cluster missing');
  setPort(get(kv, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address'), ports.kvfleet);
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
  // Only the catch-all route (cluster from x-kvfleet-cluster): the others name clusters the
  // benchmark does not run (the hosted provider's).
  const routes = get(hcm, 'route_config', 'virtual_hosts', 0, 'routes');
  if (!Array.isArray(routes)) throw new Error('envoy bootstrap: no routes');
  const catchAll = routes.find((r) => isObj(get(r, 'route')) && get(r, 'route', 'cluster_header') !== undefined) as Obj | undefined;
  if (catchAll === undefined) throw new Error('envoy bootstrap: no route with cluster_header');
  routes.length = 0;
  routes.push(catchAll);
  const route = get(catchAll, 'route');
  const filters = get(hcm, 'http_filters');
  if (!isObj(route) || !Array.isArray(filters)) throw new Error('envoy bootstrap: route or http_filters missing');
  if (variant === 'plain') {
    delete route['cluster_header'];
    delete route['cluster_not_found_response_code'];
    route['cluster'] = BENCH_CLUSTER;
    const i = filters.findIndex((f) => isObj(f) && f['name'] === 'envoy.filters.http.ext_proc');
    if (i >= 0) filters.splice(i, 1);
    delete bench['load_balancing_policy'];
    bench['lb_policy'] = 'ROUND_ROBIN';
    clusters.length = 0;
    clusters.push(bench);
  } else {
    clusters.length = 0;
    clusters.push(kv, bench);
  }
  return stringify(doc);
}

export async function benchBootstrapFromFile(
  path: string,
  variant: 'kvfleet' | 'plain',
  ports: BootstrapPorts,
  replicas: readonly number[],
  mode: ExtProcMode = 'buffered',
): Promise<string> {
  return benchBootstrap(await readFile(path, 'utf8'), variant, ports, replicas, mode);
}
