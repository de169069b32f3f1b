// Envoy admin /clusters?format=json → membership and health in LiveEndpoints.
// The fixture is the shape Envoy 1.40 prints (captured from the e2e Envoy, stats dropped).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { applyClusters, EnvoyAdminPoller, hostHealth, parseClusters } from '../../src/fleet/envoy-admin.js';
import { LiveEndpoints } from '../../src/fleet/live-endpoints.js';
import { endpointsOf } from '../../src/core/membership.js';
import { fleetFrom } from '../helpers/fleet.js';
import { parseFleet } from '../../src/config/load.js';

function host(ip: string, port: number, health: Record<string, unknown> = { eds_health_status: 'HEALTHY' }) {
  return { address: { socket_address: { address: ip, port_value: port } }, health_status: health, weight: 1, locality: {} };
}

function doc(clusters: Record<string, unknown[]>) {
  return { cluster_statuses: Object.entries(clusters).map(([name, hs]) => ({ name, host_statuses: hs, observability_name: name })) };
}

describe('parsing Envoy admin /clusters', () => {
  it('maps hosts to ip:port with health verdicts; only the wanted clusters', () => {
    const parsed = parseClusters(
      doc({
        kvfleet: [host('127.0.0.1', 9002)],
        'pool-a': [
          host('10.0.0.1', 8000, { failed_outlier_check: true, eds_health_status: 'HEALTHY' }),
          host('10.0.0.2', 8000),
          host('::1', 8001, { eds_health_status: 'UNHEALTHY' }),
          host('10.0.0.4', 8000, { pending_dynamic_removal: true, eds_health_status: 'HEALTHY' }),
          { address: { pipe: { path: '/tmp/x' } }, health_status: {} },
        ],
      }),
      new Set(['pool-a']),
    );
    expect([...parsed.keys()]).toEqual(['pool-a']);
    expect(parsed.get('pool-a')?.map((h) => [h.address, h.health.healthy, h.health.flags, h.removing])).toEqual([
      ['10.0.0.1:8000', false, ['failed_outlier_check'], false],
      ['10.0.0.2:8000', true, [], false],
      ['[::1]:8001', false, ['eds:UNHEALTHY'], false],
      ['10.0.0.4:8000', false, ['pending_dynamic_removal'], true],
    ]);
  });

  it('health flags: active health check, degraded and unknown EDS status', () => {
    expect(hostHealth({ failed_active_health_check: true })).toEqual({ healthy: false, flags: ['failed_active_health_check'] });
    expect(hostHealth({ eds_health_status: 'DEGRADED' }).healthy).toBe(true);
    expect(hostHealth({ eds_health_status: 'DRAINING' })).toEqual({ healthy: false, flags: ['eds:DRAINING'] });
    expect(hostHealth(undefined).healthy).toBe(true);
  });

  it('rejects a document that is not /clusters JSON', () => {
    expect(() => parseClusters({ hello: 1 })).toThrow(/cluster_statuses/);
  });
});

describe('applying discovery to the live state', () => {
  it('ejected → unhealthy within one poll, readmitted → healthy; members keep their identity until they change', () => {
    const live = new LiveEndpoints();
    const fleet = fleetFrom(`
discovery: { envoy_admin: "http://127.0.0.1:9901/clusters?format=json" }
models:
  - { name: a, cluster: pool-a, model_id: a, endpoints: [10.9.9.9:1] }
`);
    const model = fleet.models[0];
    if (model === undefined) throw new Error('model');
    expect(endpointsOf(model, live)).toEqual(['10.9.9.9:1']);

    let r = applyClusters(live, parseClusters(doc({ 'pool-a': [host('10.0.0.1', 8000), host('10.0.0.2', 8000)] })));
    expect(r.changed).toEqual(['pool-a']);
    const first = endpointsOf(model, live);
    expect(first).toEqual(['10.0.0.1:8000', '10.0.0.2:8000']);

    r = applyClusters(live, parseClusters(doc({ 'pool-a': [host('10.0.0.1', 8000, { failed_outlier_check: true }), host('10.0.0.2', 8000)] })));
    expect(r.changed).toEqual([]);
    expect(r.unhealthy).toBe(1);
    expect(endpointsOf(model, live)).toBe(first);
    expect(live.endpoint('10.0.0.1:8000')?.healthy).toBe(false);
    expect(live.endpoint('10.0.0.2:8000')?.healthy).toBe(true);

    applyClusters(live, parseClusters(doc({ 'pool-a': [host('10.0.0.1', 8000), host('10.0.0.2', 8000), host('10.0.0.3', 8000)] })));
    expect(live.endpoint('10.0.0.1:8000')?.healthy).toBe(true);
    expect(endpointsOf(model, live)).toEqual(['10.0.0.1:8000', '10.0.0.2:8000', '10.0.0.3:8000']);
    expect(endpointsOf(model, live)).not.toBe(first);

    // Envoy stops reporting the cluster: back to the fleet file's list.
    applyClusters(live, parseClusters(doc({})));
    expect(endpointsOf(model, live)).toEqual(['10.9.9.9:1']);
  });

  it('retain keeps discovered members (a fleet reload must not forget them)', () => {
    const live = new LiveEndpoints();
    live.setMembers('pool-a', ['10.0.0.1:8000']);
    live.acquire('10.0.0.1:8000');
    live.acquire('10.5.5.5:1');
    live.retain(new Set());
    expect(live.endpoint('10.0.0.1:8000')?.inflight).toBe(1);
    expect(live.endpoint('10.5.5.5:1')).toBeUndefined();
  });
});

describe('fleet file: discovery makes endpoints optional', () => {
  it('a model with neither endpoints nor discovery is an error naming its path', () => {
    const r = parseFleet('models:\n  - { name: a, cluster: c, model_id: a }\n  - { name: b, cluster: c, model_id: b, endpoints: [] }\n');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.some((p) => p.startsWith('models[0].endpoints:') && p.includes('discovery.envoy_admin'))).toBe(true);
    expect(r.problems.some((p) => p.startsWith('models[1].endpoints:'))).toBe(true);
  });

  it('discovery.subset_hint (InferencePool) also makes endpoints optional; an empty discovery is an error', () => {
    expect(parseFleet('discovery: { subset_hint: true }\nmodels: [{ name: a, cluster: c, model_id: a }]\n').ok).toBe(true);
    const r = parseFleet('discovery: {}\nmodels: [{ name: a, cluster: c, model_id: a, endpoints: [10.0.0.1:1] }]\n');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]).toMatch(/^discovery: .*envoy_admin.*subset_hint/);
  });

  it('discovery must be an http(s) URL of /clusters', () => {
    const r = parseFleet('discovery: { envoy_admin: "http://127.0.0.1:9901/stats" }\nmodels: [{ name: a, cluster: c, model_id: a }]\n');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]).toMatch(/^discovery\.envoy_admin: .*clusters/);
    const ok = parseFleet(
      'discovery: { envoy_admin: "http://127.0.0.1:9901/clusters?format=json", interval_ms: 200 }\nmodels: [{ name: a, cluster: c, model_id: a }]\n',
    );
    expect(ok.ok).toBe(true);
  });
});

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((r) => {
          s.closeAllConnections();
          s.close(() => r());
        }),
    ),
  );
  servers = [];
});

describe('EnvoyAdminPoller', () => {
  it('polls, applies, keeps the last known state when Envoy admin fails, and recovers', async () => {
    let body: unknown = doc({ 'pool-a': [host('10.0.0.1', 8000), host('10.0.0.2', 8000, { failed_outlier_check: true })] });
    let fail = false;
    const s = createServer((_req, res) => {
      if (fail) {
        res.statusCode = 503;
        res.end('down');
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/clusters?format=json`;
    const live = new LiveEndpoints();
    const polls: Array<boolean> = [];
    const poller = new EnvoyAdminPoller(live, { url, intervalMs: 1000, timeoutMs: 500, clusters: () => new Set(['pool-a']), onPoll: (r) => polls.push(r.ok) });
    await poller.pollOnce();
    expect(live.members('pool-a')).toEqual(['10.0.0.1:8000', '10.0.0.2:8000']);
    expect(live.endpoint('10.0.0.2:8000')?.healthy).toBe(false);

    fail = true;
    await poller.pollOnce();
    expect(live.members('pool-a')).toEqual(['10.0.0.1:8000', '10.0.0.2:8000']);
    expect(live.endpoint('10.0.0.2:8000')?.healthy).toBe(false);

    fail = false;
    body = doc({ 'pool-a': [host('10.0.0.1', 8000)] });
    await poller.pollOnce();
    expect(live.members('pool-a')).toEqual(['10.0.0.1:8000']);
    // A host Envoy no longer lists loses Envoy's (stale) verdict.
    expect(live.snapshot().find((e) => e.address === '10.0.0.2:8000')?.envoy).toBeUndefined();
    expect(polls).toEqual([true, false, true]);
  });
});
