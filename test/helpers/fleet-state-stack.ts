// A stack for the fleet-state end-to-end tests: like stack.ts, but Envoy runs a
// VARIANT of the repo's envoy/envoy.yaml in which the llama pool is an EDS cluster
// read from a watched file (path_config_source), so a test can add or remove
// endpoints at runtime exactly as a control plane would, and kvfleet learns the
// membership from Envoy admin (discovery) instead of the fleet file.
//   - the shipped envoy.yaml is loaded and only these things change: the llama
//     cluster's load_assignment becomes EDS-from-file, and its outlier detection is
//     made faster (interval 0.5 s, ejection 3 s) so ejection/readmission fit a test
//   - llama replicas can sit behind a small reverse proxy whose /metrics can be
//     stalled (a replica whose metrics went stale but which still serves)
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startSim, type SimHandle, type SimOptions } from '../../src/tools/sim/index.js';
import { ENVOY_CONFIG, freePort, REPO_ROOT, startEnvoy, type EnvoyHandle } from './envoy.js';
import { startKvfleetWith, type KvfleetProcess } from './stack.js';

export const LLAMA_CLUSTER = 'pool-llama-3-8b';

/** Reverse proxy in front of one replica; `stallMetrics` makes GET /metrics hang. */
export interface ReplicaProxy {
  readonly port: number;
  readonly address: string;
  stallMetrics: boolean;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<ReplicaProxy> {
  const stalled = new Set<ServerResponse>();
  const state = { stallMetrics: false };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (state.stallMetrics && (req.url ?? '').startsWith('/metrics')) {
      stalled.add(res);
      res.on('close', () => stalled.delete(res));
      return;
    }
    const up = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    get stallMetrics() {
      return state.stallMetrics;
    },
    set stallMetrics(v: boolean) {
      state.stallMetrics = v;
      if (!v) for (const r of stalled) r.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of stalled) s.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface FleetStateStack {
  readonly url: string;
  readonly envoy: EnvoyHandle;
  readonly kvfleet: KvfleetProcess;
  readonly llama: SimHandle;
  /** Proxy in front of llama replica 0 (its address is what Envoy and kvfleet know). */
  readonly proxy: ReplicaProxy;
  /** Rewrite the llama cluster's EDS file (atomic rename, picked up by Envoy's directory watch). */
  setLlamaEndpoints(addresses: readonly string[]): Promise<void>;
  /** kvfleet admin GET /fleet. */
  fleet(): Promise<FleetJson>;
  /** A second Envoy on the same kvfleet and EDS file, its bootstrap edited by `edit` first. */
  startEnvoyVariant(edit: (config: EnvoyBootstrap) => void): Promise<EnvoyHandle>;
  logs(): string;
  stop(): Promise<void>;
}

export interface EndpointJson {
  address: string;
  inflight: number;
  healthy: boolean;
  stale?: boolean;
  engine?: { running: number; waiting: number; kvUsage: number };
  coolingMs?: number;
  coolReason?: string;
  circuit: string;
  envoy?: { healthy: boolean; flags: string[] };
}
export interface FleetJson {
  models: Array<{ name: string; cluster: string; source: string; endpoints: string[] }>;
  endpoints: EndpointJson[];
}

function edsDocument(addresses: readonly string[]): string {
  return stringify({
    resources: [
      {
        '@type': 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
        cluster_name: LLAMA_CLUSTER,
        endpoints: [
          {
            lb_endpoints: addresses.map((a) => {
              const [host, port] = a.split(':');
              return { endpoint: { address: { socket_address: { address: host, port_value: Number(port) } } } };
            }),
          },
        ],
      },
    ],
  });
}

/** envoy/envoy.yaml with the llama pool as an EDS cluster fed from `edsPath` (watched `watchDir`). */
export interface EnvoyBootstrap {
  node?: unknown;
  static_resources: { listeners: Array<Record<string, unknown>>; clusters: Array<Record<string, unknown>> };
}

export async function edsVariant(
  outDir: string,
  watchDir: string,
  edsPath: string,
  edit?: (c: EnvoyBootstrap) => void,
  name = 'envoy-eds-variant.yaml',
): Promise<string> {
  const config = parse(await readFile(ENVOY_CONFIG, 'utf8')) as EnvoyBootstrap;
  config.node = { id: 'kvfleet-e2e', cluster: 'kvfleet-e2e' }; // xDS (even from a file) needs a node identity
  const cluster = config.static_resources.clusters.find((c) => c['name'] === LLAMA_CLUSTER);
  if (cluster === undefined) throw new Error(`envoy/envoy.yaml has no cluster ${LLAMA_CLUSTER}`);
  cluster['type'] = 'EDS';
  delete cluster['load_assignment'];
  cluster['eds_cluster_config'] = {
    eds_config: { path_config_source: { path: edsPath, watched_directory: { path: watchDir } }, resource_api_version: 'V3' },
  };
  const od = cluster['outlier_detection'] as Record<string, unknown>;
  od['interval'] = '0.5s';
  od['base_ejection_time'] = '3s';
  od['max_ejection_time'] = '3s';
  edit?.(config);
  const path = join(outDir, name);
  await writeFile(path, stringify(config));
  return path;
}

export interface FleetStateStackOptions {
  readonly sim?: Partial<SimOptions>;
  /** How many llama replicas to start (replica 0 sits behind the proxy). */
  readonly llamaReplicas?: number;
  /** Llama replica indexes in the EDS file at start (default: 0 and 1). */
  readonly initial?: readonly number[];
  readonly editFleet?: (fleet: Record<string, unknown>) => void;
}

export async function startFleetStateStack(opts: FleetStateStackOptions = {}): Promise<FleetStateStack> {
  const dir = await mkdtemp(join(tmpdir(), 'kvfleet-fs-e2e-'));
  const edsDir = join(dir, 'eds');
  await mkdir(edsDir);
  const edsPath = join(edsDir, 'llama.yaml');
  const started: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const s of started.reverse()) await s().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const llama = await startSim({ ...opts.sim, replicas: opts.llamaReplicas ?? 3, basePort: 0, model: 'meta-llama/Meta-Llama-3-8B-Instruct' });
    started.push(() => llama.close());
    const first = llama.replicas[0];
    if (first === undefined) throw new Error('no llama replica');
    const proxy = await startProxy(first.port);
    started.push(() => proxy.close());
    const addr = (i: number) => (i === 0 ? proxy.address : `127.0.0.1:${llama.replicas[i]?.port ?? 0}`);

    const setLlamaEndpoints = async (addresses: readonly string[]) => {
      const tmp = join(edsDir, `.llama.${process.hrtime.bigint()}.tmp`);
      await writeFile(tmp, edsDocument(addresses));
      await rename(tmp, edsPath);
    };
    await setLlamaEndpoints((opts.initial ?? [0, 1]).map(addr));

    const [grpcPort, adminPort, listener, envoyAdmin, dead1, dead2] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const fleet = parse(await readFile(join(REPO_ROOT, 'examples', 'fleet.yaml'), 'utf8')) as Record<string, unknown>;
    const models = fleet['models'] as Array<Record<string, unknown>>;
    for (const m of models) {
      if (m['cluster'] === LLAMA_CLUSTER) delete m['endpoints'];
      else m['endpoints'] = [`127.0.0.1:${dead1}`, `127.0.0.1:${dead2}`];
    }
    fleet['discovery'] = { envoy_admin: `http://127.0.0.1:${envoyAdmin}/clusters?format=json`, interval_ms: 200 };
    fleet['scrape'] = { interval_ms: 100, timeout_ms: 300, stale_after_ms: 600 };
    opts.editFleet?.(fleet);
    const { kvfleet } = await startKvfleetWith(dir, fleet, { grpc: grpcPort, admin: adminPort }, started);
    const configPath = await edsVariant(dir, edsDir, edsPath);
    let variants = 0;
    const envoy = await startEnvoy({
      ports: { listener, admin: envoyAdmin, kvfleet: grpcPort, endpoints: { '18011': dead1, '18012': dead2 } },
      configPath,
    });
    started.push(() => envoy.stop());

    return {
      url: envoy.url,
      envoy,
      kvfleet,
      llama,
      proxy,
      setLlamaEndpoints,
      fleet: async () => (await (await fetch(`${kvfleet.adminUrl}/fleet`)).json()) as FleetJson,
      startEnvoyVariant: async (edit) => {
        const path = await edsVariant(dir, edsDir, edsPath, edit, `envoy-variant-${++variants}.yaml`);
        const [l, a] = await Promise.all([freePort(), freePort()]);
        const e = await startEnvoy({ ports: { listener: l, admin: a, kvfleet: grpcPort, endpoints: { '18011': dead1, '18012': dead2 } }, configPath: path });
        started.push(() => e.stop());
        return e;
      },
      logs: () => `--- kvfleet ---\n${kvfleet.logs().slice(-6000)}\n--- envoy ---\n${envoy.logs().slice(-6000)}`,
      stop: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Poll `probe` every 50 ms until it returns true (or throw after `ms`). */
export async function until(what: string, probe: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}
