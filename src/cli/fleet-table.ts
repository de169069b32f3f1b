// The status table of `kvfleet fleet`: endpoints (model, address, health, in-flight, waiting,
// KV usage, staleness of the engine metrics, cooldown) and models (traffic, state), rendered
// from the admin JSON as plain text. Pure: the command fetches, this formats.
import type { EndpointStateJson, FleetStatus } from './admin-client.js';
import { textTable } from './text-table.js';

function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

function health(e: EndpointStateJson | undefined): string {
  if (e === undefined) return 'unknown';
  if (e.healthy) return 'healthy';
  // Envoy's flags, kvfleet's circuit, or an engine that stopped answering its metrics scrape.
  const why = [...(e.envoy?.flags ?? []), e.circuit === 'open' ? 'circuit_open' : undefined, e.scrapeError !== undefined ? 'scrape_failing' : undefined].filter(
    (x) => x !== undefined,
  );
  return why.length > 0 ? `DOWN (${why.join(',')})` : 'DOWN';
}

function metrics(e: EndpointStateJson | undefined): string {
  if (e?.stale === undefined) return '-';
  const age = e.scrapeAgeMs !== undefined ? ` ${duration(e.scrapeAgeMs)}` : '';
  return `${e.stale ? 'STALE' : 'fresh'}${age}${e.stale && e.scrapeError !== undefined ? ` (${e.scrapeError})` : ''}`;
}

function cooldown(e: EndpointStateJson | undefined): string {
  if (e?.coolingMs === undefined || e.coolingMs <= 0) return '-';
  return `${duration(e.coolingMs)}${e.coolReason !== undefined ? ` ${e.coolReason}` : ''}`;
}

/** Last known engine value: fresh as is, stale in brackets (the router does not trust it). */
function engineValue(e: EndpointStateJson | undefined, pick: (l: { running: number; waiting: number; kvUsage: number }) => string): string {
  if (e?.engine !== undefined) return pick(e.engine);
  if (e?.lastEngine !== undefined) return `(${pick(e.lastEngine)})`;
  return '-';
}

function ago(iso: string | null | undefined, now: number): string {
  if (iso === null || iso === undefined) return '-';
  const t = Date.parse(iso);
  return Number.isFinite(t) ? `${duration(Math.max(0, now - t))} ago` : '-';
}

export function renderFleetStatus(s: FleetStatus, admin: string, now = Date.now()): string {
  const byAddress = new Map(s.fleet.endpoints.map((e) => [e.address, e]));
  const rows: string[][] = [];
  const listed = new Set<string>();
  for (const m of s.fleet.models) {
    for (const a of m.endpoints) {
      const e = byAddress.get(a);
      listed.add(a);
      rows.push([
        m.name,
        a,
        health(e),
        e !== undefined ? String(e.inflight) : '-',
        engineValue(e, (l) => String(l.running)),
        engineValue(e, (l) => String(l.waiting)),
        engineValue(e, (l) => `${Math.round(l.kvUsage * 100)}%`),
        metrics(e),
        cooldown(e),
        e?.circuit ?? '-',
      ]);
    }
  }
  for (const e of s.fleet.endpoints) {
    if (listed.has(e.address)) continue;
    rows.push(['-', e.address, health(e), String(e.inflight), '-', '-', '-', metrics(e), cooldown(e), e.circuit ?? '-']);
  }
  const healthy = s.fleet.endpoints.filter((e) => e.healthy).length;
  const out = [
    `kvfleet at ${admin} · ${s.fleet.models.length} models · ${healthy} of ${s.fleet.endpoints.length} endpoints healthy · ${new Date(now).toISOString().slice(11, 19)}Z`,
    '',
    ...textTable(['MODEL', 'ENDPOINT', 'HEALTH', 'IN-FLIGHT', 'RUNNING', 'WAITING', 'KV', 'METRICS', 'COOLDOWN', 'CIRCUIT'], rows, [
      'left',
      'left',
      'left',
      'right',
      'right',
      'right',
      'right',
    ]),
    '',
  ];
  if (s.models === undefined) {
    out.push('models: traffic stats not enabled on this kvfleet (GET /models/stats answered 404)');
  } else {
    out.push(
      ...textTable(
        ['MODEL', 'STATE', 'REQ/S', `REQUESTS/${s.models.window_seconds}s`, 'IN-FLIGHT', 'LAST REQUEST'],
        s.models.models.map((m) => [
          m.model,
          m.state,
          m.requests_per_second.toFixed(2),
          m.requests_in_window !== undefined ? String(m.requests_in_window) : '-',
          String(m.inflight),
          ago(m.last_request_at, now),
        ]),
        ['left', 'left', 'right', 'right', 'right'],
      ),
    );
  }
  return `${out.join('\n')}\n`;
}
