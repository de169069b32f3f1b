// The pure parts of `kvfleet fleet` and `kvfleet health`: the status table from admin JSON
// (the models table from the documented /models/stats shape), what each engine is probed
// with, and names that cannot take over the terminal.
import { describe, expect, it } from 'vitest';
import { fleetViewSchema, modelStatsSchema } from '../../src/cli/admin-client.js';
import { renderFleetStatus } from '../../src/cli/fleet-table.js';
import { probeTargets, probeUrl } from '../../src/cli/health-probe.js';
import { printable, textTable } from '../../src/cli/text-table.js';
import { fleetFrom } from '../helpers/fleet.js';

const NOW = Date.parse('2026-01-01T12:00:10Z');

describe('kvfleet fleet: the status table', () => {
  const fleet = fleetViewSchema.parse({
    models: [{ name: 'llama', cluster: 'pool', endpoints: ['10.0.0.1:8000', '10.0.0.2:8000'] }],
    endpoints: [
      {
        address: '10.0.0.1:8000',
        inflight: 2,
        healthy: true,
        stale: false,
        engine: { running: 2, waiting: 1, kvUsage: 0.456 },
        circuit: 'closed',
        scrapeAgeMs: 80,
      },
      {
        address: '10.0.0.2:8000',
        inflight: 0,
        healthy: false,
        stale: true,
        lastEngine: { running: 0, waiting: 9, kvUsage: 0.99 },
        circuit: 'open',
        coolingMs: 1500,
        coolReason: '429',
        scrapeAgeMs: 65_000,
        scrapeError: 'timeout',
        envoy: { healthy: false, flags: ['failed_outlier_check'] },
        extra: 'ignored',
      },
    ],
  });
  const models = modelStatsSchema.parse({
    window_seconds: 60,
    models: [
      {
        model: 'llama',
        state: 'active',
        requests_per_second: 0.5,
        requests_in_window: 30,
        last_request_at: '2026-01-01T12:00:07.500Z',
        idle_seconds: 2.5,
        inflight: 2,
        sleep: null,
      },
      {
        model: 'other',
        state: 'sleeping',
        requests_per_second: 0,
        requests_in_window: 0,
        last_request_at: null,
        idle_seconds: null,
        inflight: 0,
        sleep: { idle_seconds: 300 },
      },
    ],
  });

  it('shows endpoints (stale values in brackets, why an endpoint is down) and models', () => {
    const out = renderFleetStatus({ fleet, models }, 'http://x:9003', NOW).split('\n');
    expect(out[0]).toBe('kvfleet at http://x:9003 · 1 models · 1 of 2 endpoints healthy · 12:00:10Z');
    expect(out.slice(2, 5)).toEqual([
      'MODEL  ENDPOINT       HEALTH                                                   IN-FLIGHT  RUNNING  WAITING     KV  METRICS                COOLDOWN  CIRCUIT',
      'llama  10.0.0.1:8000  healthy                                                          2        2        1    46%  fresh 80ms             -         closed',
      'llama  10.0.0.2:8000  DOWN (failed_outlier_check,circuit_open,scrape_failing)          0      (0)      (9)  (99%)  STALE 1m05s (timeout)  1.5s 429  open',
    ]);
    expect(out.slice(6, 9)).toEqual([
      'MODEL  STATE     REQ/S  REQUESTS/60s  IN-FLIGHT  LAST REQUEST',
      'llama  active     0.50            30          2  2.5s ago',
      'other  sleeping   0.00             0          0  -',
    ]);
  });

  it('says when /models/stats is not there', () => {
    expect(renderFleetStatus({ fleet, models: undefined }, 'http://x:9003', NOW)).toContain(
      'models: traffic stats not enabled on this kvfleet (GET /models/stats answered 404)',
    );
  });

  it('never prints control characters from names', () => {
    expect(printable('a\x1b[2Jb\x07c\u009bd')).toBe('a?[2Jb?c?d');
    expect(
      textTable(
        ['A', 'B'],
        [
          ['x\x1b', 'é'],
          ['yy', '1'],
        ],
        ['left', 'right'],
      ),
    ).toEqual(['A   B', 'x?  é', 'yy  1']);
  });
});

describe('kvfleet health: what is probed', () => {
  it("each engine's own health endpoint; hosted providers skipped", () => {
    const fleet = fleetFrom(`
models:
  - { name: a, cluster: ca, model_id: a, engine: vllm, endpoints: ['10.0.0.1:8000'] }
  - { name: b, cluster: cb, model_id: b, engine: sglang, endpoints: ['10.0.0.2:30000'] }
  - { name: c, cluster: cc, model_id: c, engine: tgi, endpoints: ['10.0.0.3:80'] }
  - { name: d, cluster: cd, model_id: d, engine: triton, endpoints: ['[fd00::1]:8000'] }
  - { name: e, cluster: ce, model_id: e, engine: ollama, endpoints: ['10.0.0.5:11434'] }
  - { name: f, cluster: cf, model_id: f, engine: openai, endpoints: ['10.0.0.6:8080'] }
  - { name: g, cluster: cg, model_id: g, engine: openai, host: api.example.com }
  - { name: h, cluster: ch, model_id: h, engine: openai, host: api.example.com, endpoints: ['10.0.9.9:443'] }
`);
    const t = probeTargets(fleet.models);
    expect(t.map((x) => (x.skip === undefined ? probeUrl(x.address, x.engine) : `skip ${x.model}`))).toEqual([
      'http://10.0.0.1:8000/health',
      'http://10.0.0.2:30000/health',
      'http://10.0.0.3:80/health',
      'http://[fd00::1]:8000/v2/health/ready',
      'http://10.0.0.5:11434/api/version',
      'http://10.0.0.6:8080/v1/models',
      'skip g',
      'skip h',
    ]);
  });
});
