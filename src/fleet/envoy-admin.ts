// Envoy as the source of truth for membership and health: poll the admin
// `/clusters?format=json` and feed LiveEndpoints with each model cluster's hosts
// and Envoy's verdict on them. override_host does not skip hosts that outlier
// detection ejected, so kvfleet must leave them out of its lists itself.
//
// A host is healthy for kvfleet when none of these is set in its health_status:
//   failed_outlier_check, failed_active_health_check, failed_eds_health,
//   pending_dynamic_removal, excluded_via_immediate_hc_fail, active_hc_timeout
// and eds_health_status is HEALTHY, UNKNOWN or DEGRADED (absent counts as healthy).
// Hosts pending dynamic removal are not members. If a poll fails, the last known
// state is kept (Envoy restarts must not empty the fleet) and the error is counted.
import type { EnvoyHostHealth, LiveEndpoints } from './live-endpoints.js';

export interface EnvoyHost {
  readonly address: string;
  readonly health: EnvoyHostHealth;
  /** Envoy is removing it (EDS update pending drain): not a member any more. */
  readonly removing: boolean;
}

const FAILURE_FLAGS = [
  'failed_outlier_check',
  'failed_active_health_check',
  'failed_eds_health',
  'pending_dynamic_removal',
  'excluded_via_immediate_hc_fail',
  'active_hc_timeout',
] as const;

const OK_EDS = new Set(['HEALTHY', 'UNKNOWN', 'DEGRADED']);

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);

/** `{socket_address:{address, port_value}}` → `ip:port` / `[v6]:port`; undefined for pipes and names. */
export function hostAddress(address: unknown): string | undefined {
  const sa = obj(obj(address)?.['socket_address']);
  if (sa === undefined) return undefined;
  const ip = sa['address'];
  const port = sa['port_value'];
  if (typeof ip !== 'string' || typeof port !== 'number' || !Number.isInteger(port)) return undefined;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function hostHealth(status: unknown): EnvoyHostHealth {
  const hs = obj(status) ?? {};
  const flags: string[] = [];
  for (const f of FAILURE_FLAGS) if (hs[f] === true) flags.push(f);
  const eds = hs['eds_health_status'];
  if (typeof eds === 'string' && !OK_EDS.has(eds)) flags.push(`eds:${eds}`);
  return { healthy: flags.length === 0, flags };
}

/** Parse the admin JSON into cluster → hosts (only clusters in `want`, when given). */
export function parseClusters(json: unknown, want?: ReadonlySet<string>): Map<string, EnvoyHost[]> {
  const out = new Map<string, EnvoyHost[]>();
  const list = obj(json)?.['cluster_statuses'];
  if (!Array.isArray(list)) throw new Error('not an Envoy /clusters?format=json document (no cluster_statuses)');
  for (const c of list) {
    const cs = obj(c);
    const name = cs?.['name'];
    if (typeof name !== 'string' || (want !== undefined && !want.has(name))) continue;
    const hosts: EnvoyHost[] = [];
    const hsList = cs?.['host_statuses'];
    if (Array.isArray(hsList)) {
      for (const h of hsList) {
        const ho = obj(h);
        const address = hostAddress(ho?.['address']);
        if (address === undefined) continue;
        const health = hostHealth(ho?.['health_status']);
        hosts.push({ address, health, removing: health.flags.includes('pending_dynamic_removal') });
      }
    }
    out.set(name, hosts);
  }
  return out;
}

export interface DiscoveryResult {
  /** Clusters whose member list changed in this poll. */
  readonly changed: readonly string[];
  readonly clusters: number;
  readonly hosts: number;
  readonly unhealthy: number;
}

/** Apply one parsed poll to the live state. Clusters Envoy no longer reports are forgotten. */
export function applyClusters(live: LiveEndpoints, clusters: ReadonlyMap<string, readonly EnvoyHost[]>): DiscoveryResult {
  const changed: string[] = [];
  let hosts = 0;
  let unhealthy = 0;
  for (const [name, list] of clusters) {
    const members = list.filter((h) => !h.removing).map((h) => h.address);
    if (live.setMembers(name, members)) changed.push(name);
    for (const h of list) {
      hosts++;
      if (!h.health.healthy) unhealthy++;
      live.setEnvoyHealth(h.address, h.health);
    }
  }
  live.retainClusters(new Set(clusters.keys()));
  return { changed, clusters: clusters.size, hosts, unhealthy };
}

export interface EnvoyAdminOptions {
  readonly url: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Clusters worth tracking (the fleet's model clusters). */
  readonly clusters: () => ReadonlySet<string>;
  readonly onPoll?: (r: { ok: true; result: DiscoveryResult; ms: number } | { ok: false; error: string; ms: number }) => void;
  readonly fetch?: typeof fetch;
}

/** Polls Envoy admin every intervalMs (one poll at a time) until stopped. */
export class EnvoyAdminPoller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Addresses whose Envoy health was set by the last good poll. */
  private known = new Set<string>();

  constructor(
    private readonly live: LiveEndpoints,
    private readonly opts: EnvoyAdminOptions,
  ) {}

  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.running = this.pollOnce().finally(() => {
        this.running = undefined;
        if (!this.stopped) {
          this.timer = setTimeout(loop, this.opts.intervalMs);
          this.timer.unref();
        }
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }

  async pollOnce(): Promise<void> {
    const started = performance.now();
    const f = this.opts.fetch ?? fetch;
    try {
      const res = await f(this.opts.url, { signal: AbortSignal.timeout(this.opts.timeoutMs) });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`Envoy admin answered HTTP ${res.status}`);
      }
      const parsed = parseClusters(await res.json(), this.opts.clusters());
      const result = applyClusters(this.live, parsed);
      const now = new Set<string>();
      for (const list of parsed.values()) for (const h of list) now.add(h.address);
      for (const a of this.known) if (!now.has(a)) this.live.setEnvoyHealth(a, undefined);
      this.known = now;
      this.opts.onPoll?.({ ok: true, result, ms: performance.now() - started });
    } catch (e) {
      const error = e instanceof Error ? (e.name === 'TimeoutError' ? `timed out after ${this.opts.timeoutMs} ms` : e.message) : String(e);
      this.opts.onPoll?.({ ok: false, error, ms: performance.now() - started });
    }
  }
}
